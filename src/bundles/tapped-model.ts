// The tapped model: graph surgery that appends to an export the reduction of every resolved tap
// (src/bundles/taps.ts), so one session.run returns each block's pooled float32 vector (not its full
// map) beside the outputs the pipeline needs, with float16 inputs cast at the graph boundary and the
// UNet's guidance combined in the graph; and the on-disk cache of those copies keyed by every byte
// that shapes their result.
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DataType, elemTypeName, encodeModel, onnx, toNumber, type AttributeProto, type IModelProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfo } from './onnx-model.ts';
import { BundleError } from './errors.ts';
import { checkExternalData, type WeightFile } from './external-data.ts';
import { DigestCache } from './file-digest.ts';
import { inferElemTypes, type Tap } from './taps.ts';

/** Element types a tap may have: the in-graph reduction runs in them and casts the result to float32. */
const READABLE_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE]);

/**
 * What the surgery appends to a component's graph so that session.run returns pooled float32 vectors
 * only (issue 9): the reduction, the cast to float32 after it, and for the UNet the guidance combine.
 */
export interface PoolingSurgery {
  /**
   * text: every tap [B, S, H] is multiplied by the pooling-weights input [B, P, S] (one row per pooling:
   * one-hot rows for eot/concept_last, averaging rows for mean/concept/sequence_mean) → [B, P, H].
   * spatial: every tap [B, C, …] is averaged over all axes after the channel axis → [B, C].
   */
  reduce: 'text' | 'spatial';
  /**
   * UNet with classifier-free guidance: the batch is [u1..uk, c1..ck]; out_sample leaves as the guided
   * noise u + g (c − u) [k, …] (g is an input), and each tap as the halves named here ([k, C] each).
   */
  guidance?: { halves: ('conditional' | 'guided')[] };
  /** Graph outputs returned whole (as float32), e.g. the text encoder's last_hidden_state. */
  keep: string[];
  /** Graph outputs returned pooled like a tap (e.g. the VAE's decoded sample), for the finiteness check. */
  pooled?: string[];
  /** Also return every tap's full map as float32 (explicit request only: they are large). */
  fullMaps?: boolean;
}

/** The names of what the tapped graph returns and takes beside the model's own inputs. */
export interface SurgeryNames {
  /** Per tap (same order as the taps): the pooled output ([B, P, H] text, [B, C] spatial) or, with guidance, its halves. */
  taps: { pooled?: string; conditional?: string; guided?: string; full?: string; shape?: string }[];
  /** Per kept graph output: the name to read it by (float32). */
  keep: Record<string, string>;
  /** Per pooled graph output: its pooled output ([B, C]; with guidance [k, C] of the guided tensor). */
  pooled: Record<string, string>;
  /** Text: the float32 [B, P, S] pooling-weights input. */
  poolingWeights?: string;
  /** UNet: the float32 [1] guidance-scale input, and the guided noise output [k, …]. */
  guidanceScale?: string;
  guidedNoise?: string;
}

function opsetOf(model: ModelProto): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  return entry ? toNumber(entry.version) : 1;
}

/**
 * Without a surgery: the graph's own outputs plus every tap's full map, as exported (tests and tools
 * that inspect whole tensors). Only float32 taps: anything else would need the surgery's casts.
 */
function rawTapOutputs(model: ModelProto, taps: readonly Tap[], file: string): { model: IModelProto; names: SurgeryNames } {
  const graph = model.graph!;
  for (const tap of taps) {
    if (tap.elemType !== DataType.FLOAT) {
      throw new BundleError('BAD_SIGNATURE', `${file}: tap "${tap.label}" (tensor "${tap.tensor}") is ${elemTypeName(tap.elemType)}; full maps are returned as exported only for float32 taps (the extraction's pooling surgery casts the others).`);
    }
  }
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const declared = new Map((graph.valueInfo ?? []).map((v) => [v.name, v]));
  const extra = taps.filter((t) => !existing.has(t.tensor)).map((t) => declared.get(t.tensor) ?? { name: t.tensor, type: { tensorType: { elemType: t.elemType } } });
  const names: SurgeryNames = { taps: taps.map((t) => ({ full: t.tensor })), keep: Object.fromEntries((graph.output ?? []).map((o) => [o.name!, o.name!])), pooled: {} };
  return { model: { ...model, graph: { ...graph, output: [...(graph.output ?? []), ...extra] } }, names };
}

/**
 * A copy of the model whose graph returns pooled taps (see PoolingSurgery), with float16 graph inputs
 * cast from float32 at the boundary, so JavaScript always feeds and reads float32: float16 data is
 * never read as a Float32Array. Every added tensor gets a name no tensor of the graph has. A tap whose
 * element type cannot be read as float32 is refused here, before anything runs or is written.
 */
export function addTapOutputs(model: ModelProto, taps: readonly Tap[], surgery?: PoolingSurgery, file = 'model.onnx'): { model: IModelProto; names: SurgeryNames } {
  const graph = model.graph!;
  if (!surgery) return rawTapOutputs(model, taps, file);
  const opset = opsetOf(model);
  const types = inferElemTypes(graph);
  const taken = new Set<string>();
  for (const info of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) if (info.name) taken.add(info.name);
  for (const init of graph.initializer ?? []) if (init.name) taken.add(init.name);
  for (const node of graph.node ?? []) {
    for (const name of [...(node.input ?? []), ...(node.output ?? [])]) if (name) taken.add(name);
    if (node.name) taken.add(node.name);
  }
  const fresh = (wanted: string): string => {
    let name = `probe_atlas/${wanted}`;
    for (let i = 1; taken.has(name); i++) name = `probe_atlas/${wanted}_${i}`;
    taken.add(name);
    return name;
  };
  const shapeOf = new Map<string, number>();
  for (const info of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const dims = info.type?.tensorType?.shape?.dim;
    if (info.name && dims) shapeOf.set(info.name, dims.length);
  }
  for (const tap of taps) {
    if (!READABLE_TYPES.has(tap.elemType)) {
      throw new BundleError('BAD_SIGNATURE', `${file}: tap "${tap.label}" (tensor "${tap.tensor}") is ${elemTypeName(tap.elemType)}, which cannot be read as float32 activations; tap a float32, float16 or float64 tensor instead.`);
    }
  }

  const added: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  const newInputs: ValueInfo[] = [];
  const newOutputs: ValueInfo[] = [];
  const node = (opType: string, inputs: string[], wanted: string, attribute: AttributeProto[] = [], outputCount = 1): string[] => {
    const outputs = Array.from({ length: outputCount }, (_, i) => fresh(outputCount === 1 ? wanted : `${wanted}_${i}`));
    added.push({ opType, input: inputs, output: outputs, name: fresh(`node/${wanted}`), attribute });
    return outputs;
  };
  const one = (opType: string, inputs: string[], wanted: string, attribute: AttributeProto[] = []) => node(opType, inputs, wanted, attribute)[0]!;
  const toFloat = (tensor: string, type: number, wanted: string): string =>
    type === DataType.FLOAT ? tensor : one('Cast', [tensor], wanted, [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }]);
  const output = (name: string) => newOutputs.push({ name, type: { tensorType: { elemType: DataType.FLOAT } } });
  const int64s = (wanted: string, values: number[]): string => {
    const name = fresh(wanted);
    initializers.push({ name, dataType: DataType.INT64, dims: [values.length], int64Data: values });
    return name;
  };
  const reduceMean = (tensor: string, axes: number[], wanted: string): string =>
    opset >= 18
      ? one('ReduceMean', [tensor, int64s(`${wanted}/axes`, axes)], wanted, [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }])
      : one('ReduceMean', [tensor], wanted, [{ name: 'axes', type: onnx.AttributeProto.AttributeType.INTS, ints: axes }, { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }]);
  // Equal halves along the batch axis: num_outputs from opset 18, the default split before.
  const halves = (tensor: string, wanted: string): [string, string] => {
    const attribute: AttributeProto[] = [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }];
    if (opset >= 18) attribute.push({ name: 'num_outputs', type: onnx.AttributeProto.AttributeType.INT, i: 2 });
    return node('Split', [tensor], wanted, attribute, 2) as [string, string];
  };

  // float16 (or float64) graph inputs: fed as float32, cast inside. The declared name stays the input.
  const renamed = new Map<string, string>();
  const boundary: NodeProto[] = [];
  const inits = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (graph.input ?? []).map((input) => {
    const type = input.type?.tensorType?.elemType ?? 0;
    if (inits.has(input.name ?? '') || (type !== DataType.FLOAT16 && type !== DataType.DOUBLE)) return input;
    const inner = fresh(`input/${input.name}`);
    renamed.set(input.name!, inner);
    boundary.push({ opType: 'Cast', input: [input.name!], output: [inner], name: fresh(`node/input/${input.name}`), attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type }] });
    return { ...input, type: { tensorType: { ...input.type!.tensorType!, elemType: DataType.FLOAT } } };
  });
  const nodes = (graph.node ?? []).map((n) => (n.input ?? []).some((i) => renamed.has(i)) ? { ...n, input: (n.input ?? []).map((i) => renamed.get(i) ?? i) } : n);
  const source = (tensor: string) => renamed.get(tensor) ?? tensor;
  const typeOf = (tensor: string) => (renamed.has(tensor) ? types.get(tensor) : undefined) ?? types.get(tensor) ?? DataType.FLOAT;

  const names: SurgeryNames = { taps: [], keep: {}, pooled: {} };
  let guidanceScale: string | undefined;
  if (surgery.guidance) {
    guidanceScale = fresh('guidance_scale');
    newInputs.push({ name: guidanceScale, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } } });
    names.guidanceScale = guidanceScale;
  }
  const guide = (u: string, c: string, wanted: string): string =>
    one('Add', [u, one('Mul', [one('Sub', [c, u], `${wanted}/difference`), guidanceScale!], `${wanted}/scaled`)], wanted);
  let weights: string | undefined;
  const weights16 = new Map<number, string>();
  if (surgery.reduce === 'text') {
    weights = fresh('pooling_weights');
    newInputs.push({ name: weights, type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimParam: 'poolings' }, { dimParam: 'sequence' }] } } } });
    names.poolingWeights = weights;
  }
  const weightsAs = (type: number): string => {
    if (type === DataType.FLOAT) return weights!;
    if (!weights16.has(type)) weights16.set(type, one('Cast', [weights!], `pooling_weights/${elemTypeName(type)}`, [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: type }]));
    return weights16.get(type)!;
  };
  /** The reduction of one tensor, cast to float32 after it; with guidance, split into the halves asked for. */
  const pool = (tensor: string, type: number, wanted: string): { pooled?: string; conditional?: string; guided?: string } => {
    const rank = shapeOf.get(tensor);
    const reduced = surgery.reduce === 'text'
      ? one('MatMul', [weightsAs(type), source(tensor)], `${wanted}/pooled_${elemTypeName(type)}`)
      : reduceMean(source(tensor), Array.from({ length: Math.max(1, (rank ?? 4) - 2) }, (_, i) => i + 2), `${wanted}/pooled_${elemTypeName(type)}`);
    const pooled = toFloat(reduced, type, `${wanted}/pooled`);
    if (!surgery.guidance) {
      output(pooled);
      return { pooled };
    }
    const [u, c] = halves(pooled, `${wanted}/halves`);
    const result: { conditional?: string; guided?: string } = {};
    if (surgery.guidance.halves.includes('conditional')) output((result.conditional = c));
    if (surgery.guidance.halves.includes('guided')) output((result.guided = guide(u, c, `${wanted}/guided`)));
    return result;
  };

  taps.forEach((tap, index) => {
    const entry: SurgeryNames['taps'][number] = pool(tap.tensor, tap.elemType, `tap/${index}`);
    // The full map's shape (int64, a few bytes): the layer's stored shape, without returning the map.
    entry.shape = one('Shape', [source(tap.tensor)], `tap/${index}/shape`);
    newOutputs.push({ name: entry.shape, type: { tensorType: { elemType: DataType.INT64 } } });
    if (surgery.fullMaps) output((entry.full = tap.elemType === DataType.FLOAT ? one('Identity', [source(tap.tensor)], `tap/${index}/full`) : toFloat(source(tap.tensor), tap.elemType, `tap/${index}/full`)));
    names.taps.push(entry);
  });
  for (const name of surgery.keep) {
    if (!(graph.output ?? []).some((o) => o.name === name)) throw new BundleError('BAD_SIGNATURE', `${file}: graph output "${name}" is missing.`);
    const type = typeOf(name);
    const read = type === DataType.FLOAT ? name : toFloat(name, type, `output/${name}`);
    if (surgery.guidance) {
      // The guided noise [k, …] replaces both halves [2k, …]: half the bytes leave session.run.
      const [u, c] = halves(toFloat(name, type, `output/${name}/float`), `output/${name}/halves`);
      names.guidedNoise = guide(u, c, `output/${name}/guided`);
      output(names.guidedNoise);
      names.keep[name] = names.guidedNoise;
    } else {
      if (read === name) newOutputs.push({ name, type: { tensorType: { elemType: DataType.FLOAT } } });
      else output(read);
      names.keep[name] = read;
    }
  }
  for (const name of surgery.pooled ?? []) {
    const result = pool(name, typeOf(name), `output/${name}`);
    names.pooled[name] = (result.pooled ?? result.conditional ?? result.guided)!;
  }
  return {
    model: {
      ...model,
      graph: {
        ...graph,
        input: [...inputs, ...newInputs],
        node: [...boundary, ...nodes, ...added],
        initializer: [...(graph.initializer ?? []), ...initializers],
        output: newOutputs,
      },
    },
    names,
  };
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
  /** What the tapped graph takes and returns beside the model's own inputs (see addTapOutputs). */
  names: SurgeryNames;
}

/**
 * The cache key of a tapped model: every byte that shapes its result — the source protobuf, the
 * taps, the pooling surgery, and each external weight file's location, size and content hash.
 */
export function tapCacheKey(sourceBytes: Uint8Array, taps: readonly Tap[], weights: readonly WeightFile[], surgery?: PoolingSurgery): string {
  // v3: the pooling surgery (reduction, casts, guidance) is part of the copy, so it is part of the key.
  const hash = createHash('sha256').update('probe-atlas tap cache v3\0').update(sourceBytes).update(JSON.stringify(taps)).update(`\0${JSON.stringify(surgery ?? 'raw')}`);
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
  /** The pooling surgery; without one, full tap maps beside the graph's own outputs (float32 taps only). */
  surgery?: PoolingSurgery;
  cacheDir: string;
  weights?: readonly WeightFile[];
  digests?: DigestCache;
}): TappedModel {
  const { sourcePath, model, taps } = options;
  const digests = options.digests ?? new DigestCache();
  const weights = options.weights ?? checkExternalData(model.graph!, sourcePath, digests);
  const key = tapCacheKey(options.sourceBytes, taps, weights, options.surgery);
  // The surgery is cheap and deterministic: it runs every time (the names are needed), the encode only when writing.
  const tapped = addTapOutputs(model, taps, options.surgery, sourcePath);
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
    const bytes = encodeModel(tapped.model);
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
  return { modelPath, externalData, externalMode, reused, names: tapped.names };
}
