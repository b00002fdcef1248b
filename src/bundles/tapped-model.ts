// The tapped model: graph surgery that promotes resolved taps (src/bundles/taps.ts) to graph outputs,
// so one session.run returns every block's activation beside the model's own output, and the on-disk
// cache of those copies keyed by every byte that shapes their result.
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { encodeModel, type IModelProto, type ModelProto } from './onnx-model.ts';
import { BundleError } from './errors.ts';
import { checkExternalData, type WeightFile } from './external-data.ts';
import { DigestCache } from './file-digest.ts';
import type { Tap } from './taps.ts';

/**
 * A copy of the model whose graph also outputs every tap: with the export's value_info (type and
 * shape) when it has one for the tensor, else with the element type only (ONNX Runtime accepts that).
 */
export function addTapOutputs(model: ModelProto, taps: readonly Tap[]): IModelProto {
  const graph = model.graph!;
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const declared = new Map((graph.valueInfo ?? []).map((v) => [v.name, v]));
  const extra = taps.filter((t) => !existing.has(t.tensor)).map((t) => declared.get(t.tensor) ?? { name: t.tensor, type: { tensorType: { elemType: t.elemType } } });
  return { ...model, graph: { ...graph, output: [...(graph.output ?? []), ...extra] } };
}

export interface TappedModel {
  /** Path of the tapped model.onnx in the cache. */
  modelPath: string;
  /** External data ORT must be given in memory, when hard links were impossible. */
  externalData: { path: string; data: Uint8Array }[];
  /** How external weight files are referenced: 'none' | 'hardlink' | 'memory'. */
  externalMode: 'none' | 'hardlink' | 'memory';
  /** Whether an existing cache entry was verified and reused (false: written now). */
  reused: boolean;
}

/**
 * The cache key of a tapped model: every byte that shapes its result — the source protobuf, the
 * taps, and each external weight file's location, size and content hash.
 */
export function tapCacheKey(sourceBytes: Uint8Array, taps: readonly Tap[], weights: readonly WeightFile[]): string {
  const hash = createHash('sha256').update('probe-atlas tap cache v2\0').update(sourceBytes).update(JSON.stringify(taps));
  for (const weight of [...weights].sort((a, b) => a.location.localeCompare(b.location))) hash.update(`\0${weight.location}\0${weight.size}\0${weight.sha256}`);
  return hash.digest('hex').slice(0, 32);
}

interface TapManifest {
  key: string;
  model: { size: number; sha256: string };
  weights: { location: string; size: number; sha256: string }[];
}

function readManifest(file: string): TapManifest | null {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as TapManifest;
    return value && typeof value.key === 'string' && value.model && typeof value.model.sha256 === 'string' && Array.isArray(value.weights) ? value : null;
  } catch {
    return null;
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Hard-links `original` to `linked`, replacing whatever else is there; false when the filesystem cannot. */
function linkWeights(original: string, linked: string): boolean {
  if (sameFile(original, linked)) return true;
  try {
    mkdirSync(path.dirname(linked), { recursive: true });
    rmSync(linked, { force: true });
    linkSync(original, linked);
    return true;
  } catch (error) {
    // A concurrent writer may have linked the same original first.
    return (error as NodeJS.ErrnoException).code === 'EEXIST' && sameFile(original, linked);
  }
}

/**
 * Writes (or verifies and reuses) the tapped copy under `cacheDir/<key>/model.onnx`, the key covering
 * the model, the taps and every external weight file's content hash. A cached entry is reused only when
 * its manifest matches the key, its model.onnx still has the bytes written, and each linked weight file
 * is the bundle's own file (same inode); anything else is rebuilt. External weight files are never
 * copied: ORT refuses absolute or escaping external-data paths, so they are hard-linked beside the copy
 * (the same inode as the original file); across filesystems they are handed to ORT in memory instead.
 * `weights` come from the loaded bundle (checked and hashed there); without them they are checked here.
 */
export function writeTappedModel(options: {
  sourcePath: string;
  sourceBytes: Uint8Array;
  model: ModelProto;
  taps: readonly Tap[];
  cacheDir: string;
  weights?: readonly WeightFile[];
  digests?: DigestCache;
}): TappedModel {
  const { sourcePath, model, taps } = options;
  const digests = options.digests ?? new DigestCache();
  const weights = options.weights ?? checkExternalData(model.graph!, sourcePath, digests);
  const key = tapCacheKey(options.sourceBytes, taps, weights);
  const dir = path.join(options.cacheDir, key);
  const modelPath = path.join(dir, 'model.onnx');
  const manifestPath = path.join(dir, 'tapped.json');
  mkdirSync(dir, { recursive: true });

  const manifest = readManifest(manifestPath);
  let reused = manifest !== null && manifest.key === key && existsSync(modelPath)
    && JSON.stringify(manifest.weights) === JSON.stringify(weights.map(({ location, size, sha256 }) => ({ location, size, sha256 })));
  if (reused) {
    const written = digests.digest(modelPath);
    reused = written.size === manifest!.model.size && written.sha256 === manifest!.model.sha256;
  }

  let externalMode: TappedModel['externalMode'] = weights.length ? 'hardlink' : 'none';
  for (const weight of weights) {
    // The original must still be the file that was hashed (its size at least; the key holds its hash).
    if (statSync(weight.file).size !== weight.size) throw new BundleError('BAD_EXTERNAL_DATA', `${weight.file} changed while the bundle was being opened; re-run.`);
    if (!linkWeights(weight.file, path.join(dir, weight.location))) externalMode = 'memory';
  }
  const externalData: TappedModel['externalData'] = [];
  if (externalMode === 'memory') {
    for (const weight of weights) {
      rmSync(path.join(dir, weight.location), { force: true }); // never leave a stale file an on-disk load could pick up
      externalData.push({ path: weight.location, data: readFileSync(weight.file) });
    }
  }
  if (!reused) {
    // Write then rename: a concurrent or killed writer never leaves a half-written model behind;
    // the manifest goes last, so an entry without one is never trusted.
    rmSync(manifestPath, { force: true });
    const bytes = encodeModel(addTapOutputs(model, taps));
    const temporary = `${modelPath}.${process.pid}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, modelPath);
    const written: TapManifest = {
      key,
      model: { size: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
      weights: weights.map(({ location, size, sha256 }) => ({ location, size, sha256 })),
    };
    writeFileSync(`${manifestPath}.${process.pid}.tmp`, `${JSON.stringify(written)}\n`);
    renameSync(`${manifestPath}.${process.pid}.tmp`, manifestPath);
  }
  digests.save();
  return { modelPath, externalData, externalMode, reused };
}
