// Layer taps: graph surgery that promotes chosen intermediate tensors to graph outputs, so one
// session.run returns every block's activation beside the model's own output.
//
// A tap rule picks tensors three ways:
//   scopes   — glob over torch-export node-name scopes (`*` = one path segment part): the block's
//              output is the LAST tensor (in topological order) produced inside the scope and used
//              outside it (or a graph output). Works for any export that keeps module names.
//   tensors  — exact tensor names.
//   patterns — regular expressions over tensor names (every match is tapped).
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DataType, encodeModel, type IModelProto, type GraphProto, type ModelProto, type NodeProto } from './onnx-model.ts';
import { BundleError } from './errors.ts';
import { checkExternalData, type WeightFile } from './external-data.ts';
import { DigestCache } from './file-digest.ts';

export interface TapRule {
  scopes?: string[];
  tensors?: string[];
  patterns?: string[];
}

export type ComponentName = 'text_encoder' | 'unet' | 'vae_decoder';
export type TapConfig = Partial<Record<ComponentName, TapRule>>;

/**
 * Defaults for SD 1.x/2.x exports by Optimum (torch.onnx with module-scoped node names) and for
 * the tiny bundle, which names its nodes the same way. See docs/bundles.md for the assumptions.
 */
export const DEFAULT_TAPS: Required<TapConfig> = {
  text_encoder: { scopes: ['/text_model/embeddings/', '/text_model/encoder/layers.*/', '/text_model/final_layer_norm/'] },
  unet: { scopes: ['/down_blocks.*/', '/mid_block/', '/up_blocks.*/'] },
  vae_decoder: { scopes: ['/decoder/mid_block/', '/decoder/up_blocks.*/'] },
};

export interface Tap {
  /** Layer name stored in the database: the scope's last segment (`layers.3`) or the tensor name. */
  label: string;
  tensor: string;
  /** Element type of the tensor (ONNX DataType). */
  elemType: number;
}

/** Levenshtein distance, for "did you mean" lists. */
export function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

export function nearMatches(name: string, candidates: Iterable<string>, limit = 5): string[] {
  return [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(name, c) }))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, limit)
    .map((x) => x.c);
}

function globToRegex(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${escaped}`);
}

/** Element types of every tensor, from declarations where present, else propagated op by op. */
export function inferElemTypes(graph: GraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const info of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
    const t = info.type?.tensorType?.elemType;
    if (info.name && t) types.set(info.name, t);
  }
  for (const init of graph.initializer ?? []) if (init.name && init.dataType) types.set(init.name, init.dataType);
  const attr = (node: NodeProto, name: string) => node.attribute?.find((a) => a.name === name);
  for (const node of graph.node ?? []) {
    const outs = node.output ?? [];
    let type: number | undefined;
    switch (node.opType) {
      case 'Cast': type = Number(attr(node, 'to')?.i ?? 0); break;
      case 'Shape': case 'Size': case 'ArgMax': case 'ArgMin': case 'NonZero': type = DataType.INT64; break;
      case 'Equal': case 'Less': case 'Greater': case 'LessOrEqual': case 'GreaterOrEqual': case 'Not': case 'And': case 'Or': case 'Xor': case 'IsNaN': case 'IsInf':
        type = DataType.BOOL; break;
      case 'Constant': type = attr(node, 'value')?.t?.dataType ?? (attr(node, 'value_float') ? DataType.FLOAT : DataType.INT64); break;
      case 'ConstantOfShape': type = attr(node, 'value')?.t?.dataType ?? DataType.FLOAT; break;
      case 'Where': type = types.get(node.input?.[1] ?? ''); break;
      default: type = (node.input ?? []).map((i) => types.get(i)).find((t) => t !== undefined);
    }
    for (const out of outs) if (out && !types.has(out) && type) types.set(out, type);
  }
  return types;
}

interface Producer {
  node: NodeProto;
  index: number;
}

/** Resolves a rule against a graph into an ordered tap list; unknown names are errors with near matches. */
export function resolveTaps(graph: GraphProto, rule: TapRule, component: string): Tap[] {
  const nodes = graph.node ?? [];
  const producers = new Map<string, Producer>();
  nodes.forEach((node, index) => node.output?.forEach((out) => out && producers.set(out, { node, index })));
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  const types = inferElemTypes(graph);
  const chosen = new Map<string, { label: string; order: number }>();
  const add = (tensor: string, label: string) => {
    if (chosen.has(tensor)) return;
    chosen.set(tensor, { label, order: producers.get(tensor)?.index ?? -1 });
  };

  for (const scopeGlob of rule.scopes ?? []) {
    const regex = globToRegex(scopeGlob);
    const instances = new Map<string, number[]>();
    nodes.forEach((node, index) => {
      const match = regex.exec(node.name ?? '');
      if (!match) return;
      const list = instances.get(match[0]) ?? [];
      list.push(index);
      instances.set(match[0], list);
    });
    if (instances.size === 0) {
      const scopes = new Set<string>();
      for (const node of nodes) {
        const parts = (node.name ?? '').split('/');
        for (let depth = 2; depth < parts.length; depth++) scopes.add(`${parts.slice(0, depth).join('/')}/`);
      }
      throw new BundleError('TAP_NOT_FOUND', `${component}: no node scope matches "${scopeGlob}". Near matches: ${nearMatches(scopeGlob, scopes).join(', ') || '(none)'}.`);
    }
    for (const [scope, members] of instances) {
      const inside = new Set(members);
      let best: { tensor: string; index: number } | undefined;
      for (const consumerIndex of nodes.keys()) {
        if (inside.has(consumerIndex)) continue;
        for (const input of nodes[consumerIndex]!.input ?? []) {
          const producer = producers.get(input);
          if (producer && inside.has(producer.index) && (!best || producer.index > best.index)) best = { tensor: input, index: producer.index };
        }
      }
      for (const out of graphOutputs) {
        const producer = producers.get(out);
        if (producer && inside.has(producer.index) && (!best || producer.index > best.index)) best = { tensor: out, index: producer.index };
      }
      if (!best) throw new BundleError('TAP_NOT_FOUND', `${component}: scope ${scope} produces nothing used outside it.`);
      const segments = scope.split('/').filter(Boolean);
      add(best.tensor, segments[segments.length - 1] ?? scope);
    }
  }
  for (const tensor of rule.tensors ?? []) {
    if (!producers.has(tensor)) {
      throw new BundleError('TAP_NOT_FOUND', `${component}: no tensor named "${tensor}". Near matches: ${nearMatches(tensor, producers.keys()).join(', ')}.`);
    }
    add(tensor, tensor);
  }
  for (const pattern of rule.patterns ?? []) {
    let regex: RegExp;
    try {
      regex = new RegExp(pattern);
    } catch (error) {
      throw new BundleError('BAD_TAP_CONFIG', `${component}: pattern /${pattern}/ is not a valid regular expression (${(error as Error).message}).`);
    }
    const matches = [...producers.keys()].filter((name) => regex.test(name));
    if (matches.length === 0) {
      throw new BundleError('TAP_NOT_FOUND', `${component}: no tensor matches /${pattern}/. Near matches: ${nearMatches(pattern, producers.keys()).join(', ')}.`);
    }
    for (const name of matches) add(name, name);
  }
  const taps = [...chosen.entries()].sort((a, b) => a[1].order - b[1].order).map(([tensor, { label }]) => {
    const elemType = types.get(tensor);
    if (!elemType) throw new BundleError('TAP_NOT_FOUND', `${component}: cannot determine the element type of tensor "${tensor}".`);
    return { label, tensor, elemType };
  });
  const labels = new Set<string>();
  for (const tap of taps) {
    if (labels.has(tap.label)) tap.label = tap.tensor;
    labels.add(tap.label);
  }
  return taps;
}

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
