// Rows for the API tests, inserted through Prisma. Norms are the real Binder et al. (2016) ratings
// (a subset parsed here, independent of src/norms/). Models, runs and probe scores are placeholders
// shaped like real ones: these tests check how the API reads and shapes rows, not the science.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { PROJECT_ROOT } from '../../src/config.ts';
import type { PrismaClient } from '../../src/db/client.ts';
import type { Attribute, AttributeGroup } from '../../src/generated/prisma/client.ts';

const BINDER_DIR = path.join(PROJECT_ROOT, 'data', 'norms', 'binder2016');

interface BinderFiles {
  attributes: Array<{ attribute: string; group: string; description: string }>;
  ratings: Array<Record<string, string>>;
}

let binderFiles: BinderFiles | undefined;
export function readBinder(): BinderFiles {
  binderFiles ??= {
    attributes: parse(readFileSync(path.join(BINDER_DIR, 'attributes.csv')), { columns: true }),
    ratings: parse(readFileSync(path.join(BINDER_DIR, 'ratings.csv')), { columns: true }),
  };
  return binderFiles;
}

export interface SeededDataset {
  id: number;
  groups: Array<{ id: number; name: string }>;
  attributes: Array<{ id: number; name: string; group: string }>;
  concepts: Array<{ id: number; word: string; category: string }>;
  /** rating[word][attribute] as in ratings.csv. */
  rating(word: string, attribute: string): number;
}

/**
 * A norms dataset of the first `conceptCount` Binder concepts (or the given words) and the attributes
 * of the given groups (all 14 by default), in the file's order. Inserted in reverse order so that
 * ordering by `position` is what the API must rely on.
 */
export async function seedBinder(
  prisma: PrismaClient,
  options: { concepts: number | string[]; groups?: string[]; name?: string; version?: number },
): Promise<SeededDataset> {
  const binder = readBinder();
  const groupNames = [...new Set(binder.attributes.map((row) => row.group))].filter((g) => !options.groups || options.groups.includes(g));
  const attributes = binder.attributes.filter((row) => groupNames.includes(row.group));
  const conceptRows =
    typeof options.concepts === 'number'
      ? binder.ratings.slice(0, options.concepts)
      : options.concepts.map((word) => binder.ratings.find((row) => row.concept === word)!);
  const version = options.version ?? 1;
  const dataset = await prisma.normsDataset.create({
    data: {
      name: options.name ?? 'binder2016',
      version,
      contentHash: `test-${options.name ?? 'binder2016'}-${version}`,
      citation: 'Binder et al. (2016), Cognitive Neuropsychology 33(3–4):130–174',
      source: 'data/norms/binder2016',
    },
  });
  const groups: AttributeGroup[] = [];
  for (const [position, name] of [...groupNames.entries()].reverse()) {
    groups.unshift(await prisma.attributeGroup.create({ data: { normsDatasetId: dataset.id, name, position } }));
  }
  const groupId = new Map(groups.map((group) => [group.name, group.id]));
  const createdAttributes: Attribute[] = (
    await prisma.attribute.createManyAndReturn({
      data: [...attributes.entries()].reverse().map(([position, row]) => ({
        normsDatasetId: dataset.id, attributeGroupId: groupId.get(row.group)!, name: row.attribute, description: row.description, position,
      })),
    })
  ).sort((a, b) => a.position - b.position);
  await prisma.concept.createMany({ data: conceptRows.map((row) => ({ word: row.concept! })), skipDuplicates: true });
  const concepts = await prisma.concept.findMany({ where: { word: { in: conceptRows.map((row) => row.concept!) } } });
  const conceptId = new Map(concepts.map((concept) => [concept.word, concept.id]));
  await prisma.datasetConcept.createMany({
    data: conceptRows.map((row, position) => ({ normsDatasetId: dataset.id, conceptId: conceptId.get(row.concept!)!, category: row.category, position })),
  });
  await prisma.rating.createMany({
    data: conceptRows.flatMap((row) =>
      createdAttributes.map((attribute) => ({ attributeId: attribute.id, conceptId: conceptId.get(row.concept!)!, value: Number(row[attribute.name]) })),
    ),
  });
  return {
    id: dataset.id,
    groups: groups.map(({ id, name }) => ({ id, name })),
    attributes: createdAttributes.map((attribute, index) => ({ id: attribute.id, name: attribute.name, group: attributes[index]!.group })),
    concepts: conceptRows.map((row) => ({ id: conceptId.get(row.concept!)!, word: row.concept!, category: row.category! })),
    rating: (word, attribute) => Number(binder.ratings.find((row) => row.concept === word)![attribute]),
  };
}

export interface SeededModel {
  id: number;
  name: string;
  components: Array<{ id: number; name: string; hasTimesteps: boolean; layers: Array<{ id: number; index: number; name: string }> }>;
}

const COMPONENT_TEMPLATES = [
  { name: 'text_encoder', kind: 'TEXT_ENCODER', hasTimesteps: false },
  { name: 'unet', kind: 'UNET', hasTimesteps: true },
  { name: 'vae_decoder', kind: 'VAE_DECODER', hasTimesteps: true },
] as const;

/** A tiny test network with `components` components of `layers` layers each, inserted in reverse order. */
export async function seedModel(
  prisma: PrismaClient,
  options: { name: string; components: number; layers: number; kind?: 'TINY_TEST_NETWORK' | 'STABLE_DIFFUSION' | 'WORD_EMBEDDING' },
): Promise<SeededModel> {
  const model = await prisma.model.create({
    data: { name: options.name, kind: options.kind ?? 'TINY_TEST_NETWORK', revision: 'test', source: 'test fixture', description: 'test' },
  });
  const components: SeededModel['components'] = [];
  for (let position = options.components - 1; position >= 0; position--) {
    const template = COMPONENT_TEMPLATES[position % COMPONENT_TEMPLATES.length]!;
    const component = await prisma.component.create({
      data: {
        modelId: model.id,
        kind: template.kind,
        name: `${template.name}_${position}`,
        position,
        hasTimesteps: template.hasTimesteps,
      },
    });
    const created = await prisma.layer.createManyAndReturn({
      data: [...Array(options.layers).keys()].reverse().map((index) => ({ componentId: component.id, index, name: `block_${index}`, shape: [4, 8] })),
    });
    const layers = created.sort((a, b) => a.index - b.index).map(({ id, index, name }) => ({ id, index, name }));
    components.unshift({ id: component.id, name: component.name, hasTimesteps: template.hasTimesteps, layers });
  }
  return { id: model.id, name: model.name, components };
}
