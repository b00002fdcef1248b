// The import graph of src/ stays one-way: no module imports itself back through others (a cycle
// makes load order matter and the layers meaningless), no folder imports one that imports it back
// (one of the two imports goes up a layer), and the numeric core (src/probes/) does no I/O: no file
// system, no PostgreSQL client, no Prisma, nothing of src/db/ (docs/architecture.md, Principles). Its
// documented exceptions stay allowed: ONNX Runtime for large products and worker threads for folds.
// Imports are read with the TypeScript compiler's own pre-processor (static, re-exports, dynamic and
// type-only imports alike); src/generated/ (the Prisma client, generated) is left out.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { PROJECT_ROOT } from '../../src/config.ts';

const SRC = path.join(PROJECT_ROOT, 'src');
const GENERATED = path.join(SRC, 'generated');

/** Folder imports that close a folder-level cycle on purpose, each with its reason. */
const ALLOWED_FOLDER_EDGES: Record<string, string> = {
  'config.ts -> graphql': 'src/graphql/limits/defaults.ts is a leaf (no imports) that holds the request budgets config.ts parses and in-code configs default to',
};

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return full === GENERATED ? [] : sourceFiles(full);
    return /\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

interface ImportEdge { from: string; to: string; specifier: string }

/** Every import of every file under src/: relative ones resolved to files, bare ones kept as specifiers. */
function readImports(): { files: string[]; edges: ImportEdge[] } {
  const files = sourceFiles(SRC);
  const edges = files.flatMap((file) =>
    ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map(({ fileName: specifier }) => ({
      from: rel(file),
      to: specifier.startsWith('.') ? rel(path.resolve(path.dirname(file), specifier)) : specifier,
      specifier,
    })));
  return { files: files.map(rel), edges };
}

const rel = (file: string) => path.relative(SRC, file).split(path.sep).join('/');

/** Every cycle's members (Tarjan's strongly connected components of more than one node, or a self-import), each as a path that closes. */
function findCycles(nodes: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, index.get(next)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (edges.get(node) ?? []).includes(node)) cycles.push(closedPath(new Set(component), edges, node));
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return cycles;
}

/** One concrete cycle through `start` inside its component: start → … → start. */
function closedPath(component: ReadonlySet<string>, edges: ReadonlyMap<string, readonly string[]>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const next of edges.get(queue[i]!) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const chain = [queue[i]!];
        while (chain[0] !== start) chain.unshift(previous.get(chain[0]!)!);
        return [...chain, start];
      }
      if (!previous.has(next) && next !== start) {
        previous.set(next, queue[i]!);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

function adjacency(pairs: Iterable<[string, string]>): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [from, to] of pairs) {
    const list = map.get(from) ?? [];
    if (!list.includes(to)) list.push(to);
    map.set(from, list);
  }
  return map;
}

/** A module's layer: its first folder under src/, or the file itself for a module at the top of src/. */
const unit = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file);

const graph = readImports();
const local = graph.edges.filter((edge) => edge.specifier.startsWith('.') && !edge.to.startsWith('generated/'));

test('the graph is read: every relative import of src/ names a file that exists', () => {
  const known = new Set(graph.files);
  expect(graph.files.length).toBeGreaterThan(50);
  expect(local.filter((edge) => !known.has(edge.to)).map((edge) => `${edge.from} imports ${edge.specifier}`)).toEqual([]);
});

test('no module of src/ imports itself back through others', () => {
  const cycles = findCycles(graph.files, adjacency(local.map((edge) => [edge.from, edge.to])));
  expect(cycles.map((cycle) => cycle.join(' → '))).toEqual([]);
});

test('no folder of src/ imports one that imports it back (one import of the two would go up a layer)', () => {
  const crossing = local.filter((edge) => unit(edge.from) !== unit(edge.to) && !ALLOWED_FOLDER_EDGES[`${unit(edge.from)} -> ${unit(edge.to)}`]);
  const cycles = findCycles([...new Set(graph.files.map(unit))], adjacency(crossing.map((edge) => [unit(edge.from), unit(edge.to)])));
  const described = cycles.map((cycle) => cycle.slice(1).map((to, i) => {
    const from = cycle[i]!;
    const example = crossing.find((edge) => unit(edge.from) === from && unit(edge.to) === to)!;
    return `${from} → ${to} (${example.from} imports ${example.specifier})`;
  }).join(', '));
  expect(described).toEqual([]);
  // An allowance that no import uses any more is removed, not kept.
  const used = new Set(local.map((edge) => `${unit(edge.from)} -> ${unit(edge.to)}`));
  expect(Object.keys(ALLOWED_FOLDER_EDGES).filter((edge) => !used.has(edge))).toEqual([]);
});

test('the numeric core (src/probes/) imports no I/O: file system, PostgreSQL, Prisma, src/db/', () => {
  const IO = /^(node:)?(fs|fs\/promises|net|http|https|child_process)$|^pg(-.*)?$|^@prisma\/|^prisma$/;
  const offending = graph.edges.filter((edge) => edge.from.startsWith('probes/'))
    .filter((edge) => IO.test(edge.specifier) || (edge.specifier.startsWith('.') && /^(db|generated)\//.test(edge.to)))
    .map((edge) => `${edge.from} imports ${edge.specifier}`);
  expect(offending).toEqual([]);
});

describe('findCycles', () => {
  test('lists each cycle as a closed path and ignores what merely converges', () => {
    const edges = adjacency([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd'], ['x', 'd'], ['s', 's']]);
    const cycles = findCycles(['a', 'b', 'c', 'd', 'x', 's'], edges).map((cycle) => cycle.join(' → '));
    expect(cycles).toEqual(expect.arrayContaining(['a → b → c → a', 's → s']));
    expect(cycles).toHaveLength(2);
  });
});
