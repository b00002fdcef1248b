// Layer taps: which intermediate tensors of an export are the blocks' outputs (resolution only; the
// graph surgery that returns them from session.run is src/bundles/tapped-model.ts).
//
// A tap rule picks tensors three ways:
//   scopes   — glob over node module scopes (`*` = one path segment part): the block's output is the
//              LAST tensor (in topological order) produced inside the scope and used outside it (or a
//              graph output). Scopes come from TorchScript node names or from dynamo name_scopes
//              metadata (src/bundles/scopes.ts). A glob is tried at the root of the scope tree first;
//              when it matches nothing there and the root has exactly one child module (the module an
//              exporter wrapped, `u` in `torch.onnx.export(Wrapper(unet))`, `text_model` in a CLIPTextModel),
//              it is tried once more under that child. The resolved tap records which scope it came from.
//   tensors  — exact tensor names.
//   patterns — regular expressions over tensor names (every match is tapped).
// A component's rule may also be a list of alternative rules, tried in order: the first whose every
// entry matches wins; one that matches only in part is an error, never a silent subset.
import { DataType, type GraphProto, type NodeProto } from './onnx-model.ts';
import { BundleError } from './errors.ts';
import { modulePrefixes, moduleSegments, nodeScope, type ScopeSource } from './scopes.ts';

export interface TapRule {
  scopes?: string[];
  tensors?: string[];
  patterns?: string[];
}

/** One rule, or alternative rules tried in order (the first that matches completely wins). */
export type TapRules = TapRule | readonly TapRule[];

export type ComponentName = 'text_encoder' | 'unet' | 'vae_decoder';
export type TapConfig = Partial<Record<ComponentName, TapRules>>;

/**
 * Defaults for SD 1.x/2.x exports: Optimum's (torch.onnx TorchScript exporter, module-scoped node
 * names) with transformers 4 (`/text_model/…`) or 5 (no `text_model` level), torch's dynamo exporter
 * (name_scopes metadata, possibly under one wrapper module), and the tiny bundle, which names its
 * nodes the TorchScript way. See docs/bundles.md ("Layer taps", "Exporter layouts").
 */
export const DEFAULT_TAPS: Required<{ [C in ComponentName]: TapRules }> = {
  text_encoder: [
    { scopes: ['/text_model/embeddings/', '/text_model/encoder/layers.*/', '/text_model/final_layer_norm/'] },
    { scopes: ['/embeddings/', '/encoder/layers.*/', '/final_layer_norm/'] },
  ],
  unet: { scopes: ['/down_blocks.*/', '/mid_block/', '/up_blocks.*/'] },
  vae_decoder: { scopes: ['/decoder/mid_block/', '/decoder/up_blocks.*/'] },
};

/** How a scope tap was found: the rule's glob, the scope instance it matched, and where scopes came from. */
export interface TapScope {
  /** The glob as the rule wrote it, e.g. /down_blocks.N/ with N a star. */
  glob: string;
  /** The scope instance that matched, with a wrapper module when one was needed (`/u/down_blocks.0/`). */
  matched: string;
  /** The wrapper module the glob was matched under, when it did not match at the root. */
  wrapper?: string;
  source: ScopeSource;
}

export interface Tap {
  /** Layer name stored in the database: the scope's last segment (`layers.3`) or the tensor name. */
  label: string;
  tensor: string;
  /** Element type of the tensor (ONNX DataType): as declared (value_info, inputs, outputs), else propagated. */
  elemType: number;
  /** For taps found by a scope glob: which scope matched (absent for `tensors`/`patterns` taps). */
  scope?: TapScope;
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

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function globToRegex(glob: string, wrapper?: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${wrapper === undefined ? '' : `/${escapeRegex(wrapper)}`}${escaped}`);
}

const attribute = (node: NodeProto, name: string) => node.attribute?.find((a) => a.name === name);

/**
 * The element type of each output of one node from its inputs' types and its attributes, per the
 * ONNX operator definitions; undefined where the op does not fix it (subgraph ops, unknown inputs).
 */
function outputTypes(node: NodeProto, typeOf: (name: string | undefined) => number | undefined): (number | undefined)[] {
  const inputs = node.input ?? [];
  const count = node.output?.length ?? 0;
  const first = typeOf(inputs[0]);
  const dtype = (fallback: number | undefined) => {
    const value = attribute(node, 'dtype');
    return value?.i !== undefined && value.i !== null && Number(value.i) !== 0 ? Number(value.i) : fallback;
  };
  const all = (type: number | undefined) => Array.from({ length: count }, () => type);
  if (node.domain && node.domain !== 'ai.onnx') return [first, ...all(undefined).slice(1)];
  switch (node.opType) {
    case 'Cast': return all(Number(attribute(node, 'to')?.i ?? 0) || undefined);
    case 'CastLike': return all(typeOf(inputs[1]));
    case 'Shape': case 'Size': case 'ArgMax': case 'ArgMin': case 'NonZero': case 'NonMaxSuppression': return all(DataType.INT64);
    case 'Equal': case 'Less': case 'Greater': case 'LessOrEqual': case 'GreaterOrEqual': case 'Not': case 'And': case 'Or': case 'Xor': case 'IsNaN': case 'IsInf':
      return all(DataType.BOOL);
    case 'Constant': {
      const tensor = attribute(node, 'value')?.t ?? attribute(node, 'sparse_value')?.sparseTensor?.values;
      if (tensor) return all(tensor.dataType ?? undefined);
      if (attribute(node, 'value_float') || attribute(node, 'value_floats')) return all(DataType.FLOAT);
      if (attribute(node, 'value_int') || attribute(node, 'value_ints')) return all(DataType.INT64);
      if (attribute(node, 'value_string') || attribute(node, 'value_strings')) return all(DataType.STRING);
      return all(undefined);
    }
    case 'ConstantOfShape': return all(attribute(node, 'value')?.t?.dataType ?? DataType.FLOAT);
    case 'Where': return all(typeOf(inputs[1]) ?? typeOf(inputs[2]));
    case 'OneHot': return all(typeOf(inputs[2]));
    case 'EyeLike': case 'RandomNormalLike': case 'RandomUniformLike': case 'Bernoulli': return all(dtype(first));
    case 'RandomNormal': case 'RandomUniform': return all(dtype(DataType.FLOAT));
    case 'Multinomial': return all(dtype(DataType.INT32));
    case 'TopK': case 'MaxPool': return [first, DataType.INT64].slice(0, count);
    case 'Dropout': return [first, DataType.BOOL].slice(0, count);
    case 'Unique': return [first, DataType.INT64, DataType.INT64, DataType.INT64].slice(0, count);
    case 'LayerNormalization': {
      const stash = Number(attribute(node, 'stash_type')?.i ?? DataType.FLOAT) || DataType.FLOAT;
      return [first, stash, stash].slice(0, count);
    }
    case 'QuantizeLinear': return all(typeOf(inputs[2]) ?? dtype(undefined) ?? (Number(attribute(node, 'output_dtype')?.i ?? 0) || DataType.UINT8));
    case 'DequantizeLinear': return all(typeOf(inputs[1]));
    case 'DynamicQuantizeLinear': return [DataType.UINT8, DataType.FLOAT, DataType.UINT8].slice(0, count);
    case 'MatMulInteger': case 'ConvInteger': return all(DataType.INT32);
    case 'QLinearConv': case 'QLinearMatMul': return all(typeOf(inputs[7]));
    case 'If': case 'Loop': case 'Scan': return all(undefined);
    // Ops whose inputs all share the output's type: any known input fixes it.
    case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Sum': case 'Mean': case 'Max': case 'Min': case 'Concat': case 'MatMul': case 'Gemm': case 'Mod': case 'PRelu':
      return all(inputs.map((i) => typeOf(i)).find((t) => t !== undefined));
    default: return all(first); // the rest follow their first input (data), never an index or shape input
  }
}

/** Element types of every tensor: declarations first (inputs, value_info, outputs, initializers), then propagated op by op. */
export function inferElemTypes(graph: GraphProto): Map<string, number> {
  const types = new Map<string, number>();
  for (const info of [...(graph.input ?? []), ...(graph.valueInfo ?? []), ...(graph.output ?? [])]) {
    const t = info.type?.tensorType?.elemType;
    if (info.name && t) types.set(info.name, t);
  }
  for (const init of graph.initializer ?? []) if (init.name && init.dataType && !types.has(init.name)) types.set(init.name, init.dataType);
  const typeOf = (name: string | undefined) => (name ? types.get(name) : undefined);
  for (const node of graph.node ?? []) {
    const outs = node.output ?? [];
    const inferred = outputTypes(node, typeOf);
    outs.forEach((out, i) => {
      const type = inferred[i];
      if (out && !types.has(out) && type) types.set(out, type);
    });
  }
  return types;
}

interface Producer {
  node: NodeProto;
  index: number;
}

/** Everything about a graph the rules are resolved against, computed once. */
interface GraphIndex {
  graph: GraphProto;
  nodes: NodeProto[];
  producers: Map<string, Producer>;
  graphOutputs: Set<string>;
  types: Map<string, number>;
  /** Per node, its scope (undefined: unscoped). */
  scopes: ({ path: string; source: ScopeSource } | undefined)[];
  /** The root's only child module, when it has exactly one. */
  wrapper?: string;
  component: string;
}

function indexGraph(graph: GraphProto, component: string): GraphIndex {
  const nodes = graph.node ?? [];
  const producers = new Map<string, Producer>();
  nodes.forEach((node, index) => node.output?.forEach((out) => out && producers.set(out, { node, index })));
  const scopes = nodes.map((node) => nodeScope(node));
  const rootChildren = new Set<string>();
  for (const scope of scopes) {
    const first = scope && moduleSegments(scope.path)[0];
    if (first) rootChildren.add(first);
  }
  return {
    graph, nodes, producers, scopes, component,
    graphOutputs: new Set((graph.output ?? []).map((o) => o.name ?? '')),
    types: inferElemTypes(graph),
    ...(rootChildren.size === 1 ? { wrapper: [...rootChildren][0]! } : {}),
  };
}

/** The scope instances a glob matches (matched prefix → member node indexes), at the root, else under the wrapper. */
function matchScopes(index: GraphIndex, glob: string): { instances: Map<string, number[]>; wrapper?: string } {
  const attempt = (wrapper?: string) => {
    const regex = globToRegex(glob, wrapper);
    const instances = new Map<string, number[]>();
    index.scopes.forEach((scope, nodeIndex) => {
      const match = scope && regex.exec(scope.path);
      if (!match) return;
      const list = instances.get(match[0]) ?? [];
      list.push(nodeIndex);
      instances.set(match[0], list);
    });
    return instances;
  };
  const atRoot = attempt();
  if (atRoot.size > 0 || index.wrapper === undefined) return { instances: atRoot };
  const underWrapper = attempt(index.wrapper);
  return underWrapper.size > 0 ? { instances: underWrapper, wrapper: index.wrapper } : { instances: atRoot };
}

function scopeNotFound(index: GraphIndex, glob: string): string {
  const candidates = new Set<string>();
  let scoped = 0;
  for (const scope of index.scopes) {
    if (!scope) continue;
    scoped++;
    for (const prefix of modulePrefixes(scope.path)) candidates.add(prefix);
  }
  if (scoped === 0) {
    return `${index.component}: no node scope matches "${glob}": none of the graph's ${index.nodes.length} nodes carries a module scope (neither a "/"-scoped node name, as torch.onnx's TorchScript exporter writes, nor "pkg.torch.onnx.name_scopes" metadata, as its dynamo exporter writes; an optimised graph loses both). Name the tensors instead ("tensors" or "patterns"). Near matches: (none).`;
  }
  const wrapper = index.wrapper === undefined ? '' : ` (tried at the root and under its only child module "/${index.wrapper}/")`;
  return `${index.component}: no node scope matches "${glob}"${wrapper}. Near matches: ${nearMatches(glob, candidates).join(', ') || '(none)'}.`;
}

type Entry = { kind: 'scope' | 'tensor' | 'pattern'; value: string };

const entriesOf = (rule: TapRule): Entry[] => [
  ...(rule.scopes ?? []).map((value) => ({ kind: 'scope' as const, value })),
  ...(rule.tensors ?? []).map((value) => ({ kind: 'tensor' as const, value })),
  ...(rule.patterns ?? []).map((value) => ({ kind: 'pattern' as const, value })),
];

function compilePattern(index: GraphIndex, pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new BundleError('BAD_TAP_CONFIG', `${index.component}: pattern /${pattern}/ is not a valid regular expression (${(error as Error).message}).`);
  }
}

/** Whether an entry matches anything in the graph; the message says what is missing when not. */
function entryProblem(index: GraphIndex, entry: Entry): string | undefined {
  if (entry.kind === 'scope') return matchScopes(index, entry.value).instances.size ? undefined : scopeNotFound(index, entry.value);
  if (entry.kind === 'tensor') {
    return index.producers.has(entry.value) ? undefined
      : `${index.component}: no tensor named "${entry.value}". Near matches: ${nearMatches(entry.value, index.producers.keys()).join(', ')}.`;
  }
  const regex = compilePattern(index, entry.value);
  for (const name of index.producers.keys()) if (regex.test(name)) return undefined;
  return `${index.component}: no tensor matches /${entry.value}/. Near matches: ${nearMatches(entry.value, index.producers.keys()).join(', ')}.`;
}

/** Resolves one rule completely; any entry that matches nothing is a TAP_NOT_FOUND error. */
function resolveRule(index: GraphIndex, rule: TapRule): Tap[] {
  const { nodes, producers, graphOutputs, types, component } = index;
  const chosen = new Map<string, { label: string; order: number; scope?: TapScope }>();
  const add = (tensor: string, label: string, scope?: TapScope) => {
    if (chosen.has(tensor)) return;
    chosen.set(tensor, { label, order: producers.get(tensor)?.index ?? -1, ...(scope ? { scope } : {}) });
  };

  for (const glob of rule.scopes ?? []) {
    const { instances, wrapper } = matchScopes(index, glob);
    if (instances.size === 0) throw new BundleError('TAP_NOT_FOUND', scopeNotFound(index, glob));
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
      const source = index.scopes[members[0]!]!.source;
      add(best.tensor, segments[segments.length - 1] ?? scope, { glob, matched: scope, ...(wrapper !== undefined ? { wrapper } : {}), source });
    }
  }
  for (const tensor of rule.tensors ?? []) {
    const problem = entryProblem(index, { kind: 'tensor', value: tensor });
    if (problem) throw new BundleError('TAP_NOT_FOUND', problem);
    add(tensor, tensor);
  }
  for (const pattern of rule.patterns ?? []) {
    const regex = compilePattern(index, pattern);
    const matches = [...producers.keys()].filter((name) => regex.test(name));
    if (matches.length === 0) throw new BundleError('TAP_NOT_FOUND', entryProblem(index, { kind: 'pattern', value: pattern })!);
    for (const name of matches) add(name, name);
  }
  const taps = [...chosen.entries()].sort((a, b) => a[1].order - b[1].order).map(([tensor, { label, scope }]): Tap => {
    const elemType = types.get(tensor);
    if (!elemType) throw new BundleError('TAP_NOT_FOUND', `${component}: cannot determine the element type of tensor "${tensor}" (no value_info declares it and its producer's type does not follow from its inputs).`);
    return { label, tensor, elemType, ...(scope ? { scope } : {}) };
  });
  const labels = new Set<string>();
  for (const tap of taps) {
    if (labels.has(tap.label)) tap.label = tap.tensor;
    labels.add(tap.label);
  }
  return taps;
}

const describeRule = (rule: TapRule) => entriesOf(rule).map((e) => (e.kind === 'pattern' ? `/${e.value}/` : `"${e.value}"`)).join(', ') || '(empty)';

/**
 * Resolves a rule (or alternative rules, first complete match wins) against a graph into an ordered
 * tap list; names that match nothing are TAP_NOT_FOUND errors with near matches.
 */
export function resolveTaps(graph: GraphProto, rules: TapRules, component: string): Tap[] {
  const index = indexGraph(graph, component);
  if (!Array.isArray(rules)) return resolveRule(index, rules as TapRule);
  const alternatives = rules as readonly TapRule[];
  if (alternatives.length === 0) throw new BundleError('BAD_TAP_CONFIG', `${component}: an empty list of alternative tap rules selects nothing.`);
  if (alternatives.length === 1) return resolveRule(index, alternatives[0]!);
  const misses: string[] = [];
  for (const [position, rule] of alternatives.entries()) {
    const entries = entriesOf(rule);
    const problems = entries.map((entry) => ({ entry, problem: entryProblem(index, entry) }));
    const missing = problems.filter((p) => p.problem !== undefined);
    if (entries.length > 0 && missing.length === entries.length) {
      misses.push(`rule ${position + 1} (${describeRule(rule)}): ${missing[0]!.problem!.replace(`${component}: `, '')}`);
      continue;
    }
    if (missing.length) {
      const found = problems.filter((p) => p.problem === undefined).map((p) => p.entry.value);
      throw new BundleError(
        'TAP_NOT_FOUND',
        `${component}: alternative tap rule ${position + 1} of ${alternatives.length} matches only in part (found ${found.map((f) => `"${f}"`).join(', ')}), which would tap a silent subset. ${missing.map((p) => p.problem!.replace(`${component}: `, '')).join(' ')}`,
      );
    }
    return resolveRule(index, rule);
  }
  throw new BundleError('TAP_NOT_FOUND', `${component}: none of the ${alternatives.length} alternative tap rules matches. ${misses.map((m) => `${m.charAt(0).toUpperCase()}${m.slice(1)}`).join(' ')}`);
}
