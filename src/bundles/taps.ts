// Layer taps: which intermediate tensors of an export are the blocks' outputs (resolution only; the
// graph surgery that returns them from session.run is src/bundles/tapped-model.ts).
//
// A tap rule picks tensors three ways:
//   scopes   — glob over torch-export node-name scopes (`*` = one path segment part): the block's
//              output is the LAST tensor (in topological order) produced inside the scope and used
//              outside it (or a graph output). Works for any export that keeps module names.
//   tensors  — exact tensor names.
//   patterns — regular expressions over tensor names (every match is tapped).
import { DataType, type GraphProto, type NodeProto } from './onnx-model.ts';
import { BundleError } from './errors.ts';

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
