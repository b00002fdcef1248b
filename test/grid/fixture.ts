// A small, real probe grid for the grid tests, inserted through Prisma: one norms dataset with three
// Binder groups (real attribute names and descriptions from data/norms/binder2016/attributes.csv),
// a model with a text encoder (2 layers, no timestep) and a UNet (3 layers × timesteps 801, 401),
// one main probe run plus a second one (other pooling) that filters must be able to exclude.
// Holes on purpose: no cell for (unet layer 2, t=401), no "Dark" score in (unet layer 0, t=801),
// and the shuffled-ratings control stored for some scores only. Cell-level metrics (attribute 2-vs-2,
// attribute RSA, concept 2-vs-2) and q-values come from a second generator, so the per-attribute
// numbers above are the same as before they were added; the first UNet cell has no attribute RSA.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import type { PrismaClient } from '../../src/db/client.ts';

export interface FixtureScore {
  probeRunId: number;
  componentId: number;
  componentKind: 'TEXT_ENCODER' | 'UNET';
  layerId: number;
  layerIndex: number;
  timestep: number | null;
  pooling: string;
  groupId: number;
  groupName: string;
  attributeId: number;
  attributeName: string;
  pearsonR: number;
  r2: number;
  twoVsTwo: number;
  nullPearsonR: number | null;
  nullR2: number | null;
  nullTwoVsTwo: number | null;
  /** Benjamini–Hochberg q-value; null for some scores (as in a run without permutations). */
  qValue: number | null;
}

/** One probe cell with its cell-level metrics (null where the fixture leaves a hole). */
export interface FixtureCell {
  id: number;
  probeRunId: number;
  componentKind: 'TEXT_ENCODER' | 'UNET';
  componentId: number;
  layerId: number;
  layerIndex: number;
  timestep: number | null;
  pooling: string;
  attributeTwoVsTwo: number | null;
  attributeRsa: number | null;
  conceptTwoVsTwo: number | null;
}

export interface GridFixture {
  datasetId: number;
  extractionRunId: number;
  probeRunId: number;
  otherProbeRunId: number;
  components: { textEncoder: number; unet: number };
  textEncoderLayers: number[];
  unetLayers: number[];
  groups: { id: number; name: string; attributes: { id: number; name: string }[] }[];
  scores: FixtureScore[];
  cells: FixtureCell[];
}

const GROUPS: Record<string, string[]> = { Vision: ['Vision', 'Bright', 'Dark'], Audition: ['Audition', 'Loud'], Gustation: ['Taste'] };

function binderDescriptions(): Map<string, { group: string; description: string }> {
  const text = readFileSync(path.join(PROJECT_ROOT, 'data/norms/binder2016/attributes.csv'), 'utf8');
  const map = new Map<string, { group: string; description: string }>();
  for (const line of text.split('\n').slice(1)) {
    const match = /^([^,]+),([^,]+),("(?:[^"]|"")*"|[^,]*)/.exec(line);
    if (match) map.set(match[1]!, { group: match[2]!, description: match[3]!.replace(/^"|"$/g, '') });
  }
  return map;
}

/** Deterministic, varied values (a linear congruential generator), so every test run sees the same data. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

export async function insertGridFixture(prisma: PrismaClient): Promise<GridFixture> {
  const binder = binderDescriptions();
  const dataset = await prisma.normsDataset.create({
    data: { name: 'binder2016-grid-test', version: 1, contentHash: 'grid-test', citation: 'Binder et al. (2016)', source: 'data/norms/binder2016' },
  });
  const groups: GridFixture['groups'] = [];
  let groupPosition = 0;
  let attributePosition = 0;
  for (const [groupName, attributeNames] of Object.entries(GROUPS)) {
    const group = await prisma.attributeGroup.create({ data: { normsDatasetId: dataset.id, name: groupName, position: groupPosition++ } });
    const attributes = [];
    for (const name of attributeNames) {
      const known = binder.get(name);
      if (known?.group !== groupName) throw new Error(`fixture: ${name} is not a ${groupName} attribute in attributes.csv`);
      const attribute = await prisma.attribute.create({
        data: { normsDatasetId: dataset.id, attributeGroupId: group.id, name, description: known.description, position: attributePosition++ },
      });
      attributes.push({ id: attribute.id, name });
    }
    groups.push({ id: group.id, name: groupName, attributes });
  }
  const model = await prisma.model.create({
    data: { name: 'grid-test-model', kind: 'TINY_TEST_NETWORK', revision: '1', source: 'test fixture', description: 'grid tests' },
  });
  const textEncoder = await prisma.component.create({
    data: { modelId: model.id, kind: 'TEXT_ENCODER', name: 'text_encoder', position: 0, hasTimesteps: false },
  });
  const unet = await prisma.component.create({ data: { modelId: model.id, kind: 'UNET', name: 'unet', position: 1, hasTimesteps: true } });
  const textEncoderLayers: number[] = [];
  for (let index = 0; index < 2; index++) {
    textEncoderLayers.push((await prisma.layer.create({ data: { componentId: textEncoder.id, index, name: `layers.${index}`, shape: [77, 8] } })).id);
  }
  const unetLayers: number[] = [];
  // Created in reverse so that id order differs from index order: axes must follow `index`.
  for (let index = 2; index >= 0; index--) {
    unetLayers[index] = (await prisma.layer.create({ data: { componentId: unet.id, index, name: `blocks.${index}`, shape: [8, 4, 4] } })).id;
  }
  const extractionRun = await prisma.extractionRun.create({
    data: { modelId: model.id, settingsHash: 'grid-test-run', promptTemplate: 'a photo of a {concept}', seed: 0, stepCount: 2, device: 'cpu', settings: {} },
  });
  const probeRun = await prisma.probeRun.create({
    data: { extractionRunId: extractionRun.id, normsDatasetId: dataset.id, settingsHash: 'grid-test-probe', method: 'ridge', settings: {}, cvScheme: 'test' },
  });
  const otherProbeRun = await prisma.probeRun.create({
    data: { extractionRunId: extractionRun.id, normsDatasetId: dataset.id, settingsHash: 'grid-test-probe-2', method: 'ridge', settings: {}, cvScheme: 'test' },
  });

  const random = generator(20_251_126);
  const cellRandom = generator(20_261_201);
  const scores: FixtureScore[] = [];
  const cells: FixtureCell[] = [];
  const places: { componentKind: 'TEXT_ENCODER' | 'UNET'; componentId: number; layerId: number; layerIndex: number; timestep: number | null }[] = [
    ...textEncoderLayers.map((layerId, layerIndex) => ({ componentKind: 'TEXT_ENCODER' as const, componentId: textEncoder.id, layerId, layerIndex, timestep: null })),
    ...unetLayers.flatMap((layerId, layerIndex) =>
      [801, 401].filter((timestep) => !(layerIndex === 2 && timestep === 401))
        .map((timestep) => ({ componentKind: 'UNET' as const, componentId: unet.id, layerId, layerIndex, timestep }))),
  ];
  const runs = [
    { id: probeRun.id, pooling: 'mean', places },
    { id: otherProbeRun.id, pooling: 'max', places: places.slice(0, 3) },
  ];
  for (const run of runs) {
    for (const place of run.places) {
      const cellMetrics = {
        attributeTwoVsTwo: Math.round((0.5 + cellRandom() * 0.4) * 1e6) / 1e6,
        attributeRsa: place.componentKind === 'UNET' && place.layerIndex === 0 && place.timestep === 801 ? null : Math.round((cellRandom() * 0.9 - 0.1) * 1e6) / 1e6,
        conceptTwoVsTwo: Math.round((0.5 + cellRandom() * 0.45) * 1e6) / 1e6,
      };
      const cell = await prisma.probeCell.create({
        data: { probeRunId: run.id, layerId: place.layerId, timestep: place.timestep, pooling: run.pooling, conceptCount: 275, ...cellMetrics },
      });
      cells.push({ id: cell.id, probeRunId: run.id, ...place, pooling: run.pooling, ...cellMetrics });
      const rows = [];
      for (const group of groups) {
        for (const attribute of group.attributes) {
          if (place.componentKind === 'UNET' && place.layerIndex === 0 && place.timestep === 801 && attribute.name === 'Dark') continue;
          const pearsonR = Math.round((random() * 1.2 - 0.2) * 1e6) / 1e6;
          const withControl = random() < 0.7;
          const score: FixtureScore = {
            probeRunId: run.id, ...place, pooling: run.pooling, groupId: group.id, groupName: group.name,
            attributeId: attribute.id, attributeName: attribute.name,
            pearsonR,
            r2: Math.round((pearsonR * pearsonR - random() * 0.1) * 1e6) / 1e6,
            twoVsTwo: Math.round((0.5 + random() * 0.45) * 1e6) / 1e6,
            nullPearsonR: withControl ? Math.round((random() * 0.2 - 0.1) * 1e6) / 1e6 : null,
            nullR2: withControl ? Math.round(-random() * 0.05 * 1e6) / 1e6 : null,
            nullTwoVsTwo: withControl ? Math.round((0.45 + random() * 0.1) * 1e6) / 1e6 : null,
            // Some q-values below 0.05, some above, some exactly at it (not below), some missing.
            qValue: (() => {
              const draw = cellRandom();
              return draw < 0.15 ? null : draw < 0.2 ? 0.05 : Math.round(cellRandom() * 0.12 * 1e6) / 1e6;
            })(),
          };
          scores.push(score);
          rows.push({
            cellId: cell.id, attributeId: attribute.id, pearsonR: score.pearsonR, r2: score.r2, twoVsTwo: score.twoVsTwo, alpha: 1,
            nullPearsonR: score.nullPearsonR, nullR2: score.nullR2, nullTwoVsTwo: score.nullTwoVsTwo, qValue: score.qValue,
          });
        }
      }
      await prisma.probeScore.createMany({ data: rows });
    }
  }
  return {
    datasetId: dataset.id,
    extractionRunId: extractionRun.id,
    probeRunId: probeRun.id,
    otherProbeRunId: otherProbeRun.id,
    components: { textEncoder: textEncoder.id, unet: unet.id },
    textEncoderLayers,
    unetLayers,
    groups,
    scores,
    cells,
  };
}
