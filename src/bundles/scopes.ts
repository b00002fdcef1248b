// The module scope of an ONNX node, whichever torch exporter wrote the graph, as one path the tap
// globs match: `/down_blocks.1/resnets.0/Add`. torch.onnx's TorchScript exporter (Optimum) puts it in
// the node name; torch's dynamo exporter (the default from torch 2.9) names nodes `node_add_12` and
// keeps the module path only in the node's `pkg.torch.onnx.name_scopes` metadata, a Python list
// literal of the nested module paths followed by the node's own name:
//   ['', 'u', 'u.down_blocks.1', 'u.down_blocks.1.resnets.0', 'add_12']  →  /u/down_blocks.1/resnets.0/add_12
// Each module element past the previous one adds ONE segment (the part after "<previous>."), so a
// module named with dots (`down_blocks.1`) stays one segment, as in the TorchScript names.
import { nodeMetadata } from './node-metadata.ts';
import type { NodeProto } from './onnx-model.ts';

export const NAME_SCOPES_KEY = 'pkg.torch.onnx.name_scopes';

/** Where a node's scope came from: its name (TorchScript exporter) or its name_scopes metadata (dynamo). */
export type ScopeSource = 'node-name' | 'name-scopes';

export interface NodeScope {
  /** `/<module>/<module>/…/<node>`: every segment but the last is a module. */
  path: string;
  source: ScopeSource;
}

/**
 * Parses a Python list-of-strings literal (`['', 'u', "it's"]`), as torch writes name_scopes;
 * undefined for anything else (the node is then treated as unscoped, never guessed at).
 */
export function parsePythonStringList(text: string): string[] | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) return undefined;
  const body = trimmed.slice(1, -1);
  const items: string[] = [];
  const item = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(,|$)/y;
  let at = 0;
  while (at < body.length) {
    item.lastIndex = at;
    const match = item.exec(body);
    if (!match) return /^\s*$/.test(body.slice(at)) ? items : undefined;
    const raw = match[1] ?? match[2] ?? '';
    items.push(raw.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
      if (e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
      return ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[e] ?? e;
    }));
    at = item.lastIndex;
    if (match[3] === '') break;
  }
  return items;
}

/**
 * The scope path of a name_scopes list: the leading '' is the root, the last element the node's own
 * name, every element between a module whose segment is what it adds past the previous element.
 * Undefined when the list holds no module at all (a node at the root of the export).
 */
export function scopePathFromNameScopes(elements: readonly string[]): string | undefined {
  const list = elements[0] === '' ? elements.slice(1) : [...elements];
  if (list.length < 2) return undefined;
  const modules = list.slice(0, -1);
  const segments: string[] = [];
  let previous = '';
  for (const module of modules) {
    if (module === '') return undefined;
    segments.push(previous && module.startsWith(`${previous}.`) ? module.slice(previous.length + 1) : module);
    previous = module;
  }
  return `/${segments.join('/')}/${list[list.length - 1]}`;
}

/** A node's scope: its name when the name is scoped (contains `/`), else its dynamo name_scopes, else none. */
export function nodeScope(node: NodeProto): NodeScope | undefined {
  const name = node.name ?? '';
  if (name.includes('/')) return { path: name, source: 'node-name' };
  const value = nodeMetadata(node, NAME_SCOPES_KEY);
  if (value === undefined) return undefined;
  const elements = parsePythonStringList(value);
  const path = elements && scopePathFromNameScopes(elements);
  return path ? { path, source: 'name-scopes' } : undefined;
}

/** The module segments of a scope path (all but the node's own name). */
export function moduleSegments(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(parts[0] === '' ? 1 : 0, -1);
}

/** Every module scope of a path, outermost first, each written `/a/b/`. */
export function modulePrefixes(path: string): string[] {
  const segments = moduleSegments(path);
  return segments.map((_, depth) => `/${segments.slice(0, depth + 1).join('/')}/`);
}
