// SYNTHETIC LOAD for the API benchmark: generated scores, not results. The catalogue is real (the
// 65 Binder attributes in their 14 groups, from data/norms/binder2016/attributes.csv); the model,
// runs and every score are invented and labelled "bench-synthetic-load" in the data itself.
// Volume: 2 probe runs (poolings mean, max) × 65 attributes × (16 text-encoder layers without
// timestep + 16 UNet layers × 50 timesteps + 16 VAE-decoder layers × 50 timesteps) = 210,080 scores,
// more than the 65 × 16 × 50 × 3 = 156,000 the target names. Written with unnest() multi-row INSERTs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { PROJECT_ROOT } from '../../../src/config.ts';

export const SYNTHETIC_LABEL = 'bench-synthetic-load';
export const LAYERS_PER_COMPONENT = 16;
export const TIMESTEPS = Array.from({ length: 50 }, (_, i) => 981 - 20 * i);

export interface SyntheticLoad {
  probeRunId: number;
  unetComponentId: number;
  scoreCount: number;
  attributeCount: number;
  groupCount: number;
  seconds: number;
}

function binderAttributes(): { name: string; group: string; description: string }[] {
  const text = readFileSync(path.join(PROJECT_ROOT, 'data/norms/binder2016/attributes.csv'), 'utf8');
  return text.split('\n').slice(1).filter(Boolean).map((line) => {
    const match = /^([^,]+),([^,]+),("(?:[^"]|"")*"|[^,]*)/.exec(line)!;
    return { name: match[1]!, group: match[2]!, description: match[3]!.replace(/^"|"$/g, '').replace(/""/g, '"') };
  });
}

function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
}

async function insertReturningIds(client: pg.PoolClient, text: string, values: unknown[]): Promise<number[]> {
  const { rows } = await client.query<{ id: number }>(text, values);
  return rows.map((row) => row.id);
}

export async function loadSyntheticScores(pool: pg.Pool): Promise<SyntheticLoad> {
  const started = performance.now();
  const attributes = binderAttributes();
  const groups = [...new Set(attributes.map((a) => a.group))];
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const [datasetId] = await insertReturningIds(client,
      `INSERT INTO norms_dataset (name, version, content_hash, citation, source) VALUES ($1, 1, $1, $2, $3) RETURNING id`,
      [SYNTHETIC_LABEL, 'Binder et al. (2016) attribute names only; scores are synthetic', 'scripts/bench/api/synthetic-load.ts']);
    const groupIds = await insertReturningIds(client,
      `INSERT INTO attribute_group (norms_dataset_id, name, position) SELECT $1, name, ord - 1 FROM unnest($2::text[]) WITH ORDINALITY AS g(name, ord) ORDER BY ord RETURNING id`,
      [datasetId, groups]);
    const attributeIds = await insertReturningIds(client,
      `INSERT INTO attribute (norms_dataset_id, attribute_group_id, name, description, position)
       SELECT $1, attribute_group_id, name, description, ord - 1 FROM unnest($2::int[], $3::text[], $4::text[]) WITH ORDINALITY AS a(attribute_group_id, name, description, ord)
       ORDER BY ord RETURNING id`,
      [datasetId, attributes.map((a) => groupIds[groups.indexOf(a.group)]), attributes.map((a) => a.name), attributes.map((a) => a.description)]);
    const [modelId] = await insertReturningIds(client,
      `INSERT INTO model (name, kind, revision, source, description) VALUES ($1, 'TINY_TEST_NETWORK', 'synthetic', $2, $3) RETURNING id`,
      [SYNTHETIC_LABEL, 'scripts/bench/api/synthetic-load.ts', 'SYNTHETIC LOAD for benchmarks: generated numbers, not a network and not results.']);
    const components = [
      { kind: 'TEXT_ENCODER', name: 'text_encoder', hasTimesteps: false },
      { kind: 'UNET', name: 'unet', hasTimesteps: true },
      { kind: 'VAE_DECODER', name: 'vae_decoder', hasTimesteps: true },
    ];
    const componentIds = await insertReturningIds(client,
      `INSERT INTO component (model_id, kind, name, position, has_timesteps)
       SELECT $1, kind::"ComponentKind", name, ord - 1, has FROM unnest($2::text[], $3::text[], $4::bool[]) WITH ORDINALITY AS c(kind, name, has, ord)
       ORDER BY ord RETURNING id`,
      [modelId, components.map((c) => c.kind), components.map((c) => c.name), components.map((c) => c.hasTimesteps)]);
    const layerComponent: number[] = [];
    const layerIndex: number[] = [];
    for (const componentId of componentIds) {
      for (let index = 0; index < LAYERS_PER_COMPONENT; index++) {
        layerComponent.push(componentId);
        layerIndex.push(index);
      }
    }
    const layerIds = await insertReturningIds(client,
      `INSERT INTO layer (component_id, index, name, shape) SELECT c, i, 'block.' || i, '{}' FROM unnest($1::int[], $2::int[]) WITH ORDINALITY AS l(c, i, ord) ORDER BY ord RETURNING id`,
      [layerComponent, layerIndex]);
    const [extractionRunId] = await insertReturningIds(client,
      `INSERT INTO extraction_run (model_id, settings_hash, prompt_template, seed, step_count, device, settings, status)
       VALUES ($1, $2, 'a photo of a {concept}', 0, 50, 'none (synthetic)', '{"synthetic": true}', 'COMPLETED') RETURNING id`,
      [modelId, `${SYNTHETIC_LABEL}-extraction`]);
    const random = generator(42);
    let scoreCount = 0;
    let mainProbeRunId = 0;
    for (const pooling of ['mean', 'max']) {
      const [probeRunId] = await insertReturningIds(client,
        `INSERT INTO probe_run (extraction_run_id, norms_dataset_id, settings_hash, method, settings, cv_scheme, status)
         VALUES ($1, $2, $3, 'synthetic', '{"synthetic": true}', 'none: synthetic load', 'COMPLETED') RETURNING id`,
        [extractionRunId, datasetId, `${SYNTHETIC_LABEL}-probe-${pooling}`]);
      if (!mainProbeRunId) mainProbeRunId = probeRunId!;
      const cellLayer: number[] = [];
      const cellTimestep: (number | null)[] = [];
      layerIds.forEach((layerId, i) => {
        const hasTimesteps = components[Math.floor(i / LAYERS_PER_COMPONENT)]!.hasTimesteps;
        for (const timestep of hasTimesteps ? TIMESTEPS : [null]) {
          cellLayer.push(layerId);
          cellTimestep.push(timestep);
        }
      });
      const cellIds = await insertReturningIds(client,
        `INSERT INTO probe_cell (probe_run_id, layer_id, timestep, pooling, concept_count)
         SELECT $1, layer, ts, $4, 275 FROM unnest($2::int[], $3::int[]) WITH ORDINALITY AS c(layer, ts, ord) ORDER BY ord RETURNING id`,
        [probeRunId, cellLayer, cellTimestep, pooling]);
      // Plausible shape only: decodability falls with noise (timestep) and varies by group.
      const batch = { cell: [] as number[], attribute: [] as number[], r: [] as number[], r2: [] as number[], two: [] as number[], nr: [] as number[], nr2: [] as number[], ntwo: [] as number[] };
      const flush = async () => {
        await client.query(
          `INSERT INTO probe_score (cell_id, attribute_id, pearson_r, r2, two_vs_two, alpha, null_pearson_r, null_r2, null_two_vs_two)
           SELECT c, a, r, r2, t, 1, nr, nr2, nt FROM unnest($1::int[], $2::int[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[]) AS s(c, a, r, r2, t, nr, nr2, nt)`,
          [batch.cell, batch.attribute, batch.r, batch.r2, batch.two, batch.nr, batch.nr2, batch.ntwo]);
        scoreCount += batch.cell.length;
        for (const list of Object.values(batch)) list.length = 0;
      };
      for (let c = 0; c < cellIds.length; c++) {
        const noise = cellTimestep[c] === null ? 0 : cellTimestep[c]! / 1000;
        attributeIds.forEach((attributeId, a) => {
          const groupEase = (groups.indexOf(attributes[a]!.group) % 5) / 10;
          const r = Math.max(-0.3, Math.min(0.95, 0.6 - 0.4 * noise - groupEase + (random() - 0.5) * 0.2));
          batch.cell.push(cellIds[c]!);
          batch.attribute.push(attributeId);
          batch.r.push(r);
          batch.r2.push(r * r - random() * 0.05);
          batch.two.push(0.5 + Math.max(0, r) * 0.45);
          batch.nr.push((random() - 0.5) * 0.1);
          batch.nr2.push(-random() * 0.02);
          batch.ntwo.push(0.5 + (random() - 0.5) * 0.04);
        });
        if (batch.cell.length >= 20_000) await flush();
      }
      if (batch.cell.length > 0) await flush();
    }
    await client.query('COMMIT');
    // A database serving completed runs has been vacuumed: without a visibility map no index-only
    // scan is worth it, and every target (ours, floor, peer) would pay heap visits a real one does not.
    await client.query('VACUUM ANALYZE');
    return {
      probeRunId: mainProbeRunId,
      unetComponentId: componentIds[1]!,
      scoreCount,
      attributeCount: attributeIds.length,
      groupCount: groupIds.length,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
