// Sparse feature-production norms BUILT for the tests (issue 10): McRae-style concept keys with a
// sense (`bat_(animal)`), counts of "participants who listed a feature", most cells 0, features listed
// for 0 to 20 of the 30 concepts, one constant feature, one empty (missing) cell, and a small word
// vector table for the GloVe baseline in which the dense features are (noisy) linear read-outs of the
// concepts' vectors. Every attribute's support (concepts with a non-zero count) is known by
// construction, so a test can say which attributes a `--min-support K` run must keep without
// recomputing the rule. Written as a norms folder in the format src/norms/ reads (docs/norms.md).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WordVectors } from '../../src/baselines/word-vectors.ts';
import { conceptWord } from '../../src/norms/concept-word.ts';
import { seededRandom } from '../../src/probes/random.ts';
import { gaussianSampler } from '../probes/reference.ts';

export const SPARSE_CONCEPTS = [
  'bat_(animal)', 'bat_(baseball)', 'mouse_(animal)', 'mouse_(computer)', 'tank_(army)', 'tank_(container)',
  'board_(wood)', 'pipe_(smoking)', 'fire_truck', 'dog', 'cat', 'hammer', 'apple', 'car', 'truck', 'violin', 'drum',
  'eagle', 'sparrow', 'knife', 'spoon', 'chair', 'table', 'horse', 'cow', 'boat', 'train', 'lemon', 'cherry', 'onion',
] as const;

/** The concept whose `listed_twice` cell is left empty (a missing rating, not 0). */
export const MISSING_CELL_CONCEPT = SPARSE_CONCEPTS[SPARSE_CONCEPTS.length - 1];

export interface SparseAttribute {
  name: string;
  group: string;
  /** Concepts with a non-zero count, by construction. */
  support: number;
  /** Every present count is the same (variance 0 over the concepts). */
  constant?: boolean;
}

const GROUPS = ['taxonomic', 'visual-form_and_surface', 'function', 'encyclopaedic'];
const SPARSE_SUPPORTS = [0, 1, 2, 3, 5, 7, 9, 10, 11, 14, 20];
const DIMENSIONS = 12;

export const SPARSE_ATTRIBUTES: SparseAttribute[] = [
  ...Array.from({ length: 8 }, (_, k) => ({ name: `dense_${k + 1}`, group: GROUPS[k % 4]!, support: SPARSE_CONCEPTS.length })),
  { name: 'constant_count', group: 'encyclopaedic', support: SPARSE_CONCEPTS.length, constant: true },
  ...SPARSE_SUPPORTS.map((support, k) => ({ name: `listed_for_${support}`, group: GROUPS[(k + 1) % 4]!, support })),
  // The long tail of real feature norms: features listed for one to three concepts.
  ...Array.from({ length: 12 }, (_, k) => ({ name: `rare_${k + 1}`, group: GROUPS[k % 4]!, support: 1 + (k % 3) })),
  // Listed for two concepts, and the one cell of MISSING_CELL_CONCEPT is empty.
  { name: 'listed_twice', group: 'function', support: 2 },
];

export interface SparseNorms {
  folder: string;
  /** concepts × attributes counts, NaN for the empty cell. */
  counts: number[][];
  vectors: WordVectors;
}

/** Writes the folder (ratings.csv, attributes.csv, SOURCE.md) under `parent` and returns it with its data. */
export async function writeSparseNorms(parent: string, name = 'sparse-mcrae'): Promise<SparseNorms> {
  const normal = gaussianSampler(seededRandom(7));
  const words = [...new Set(SPARSE_CONCEPTS.map((key) => conceptWord(key)))];
  // Multi-word concepts are the mean of their words' vectors; the table holds single words only.
  const tokens = [...new Set(words.flatMap((w) => w.split(' ')))];
  const table = new Map(tokens.map((t) => [t, Array.from({ length: DIMENSIONS }, () => normal())]));
  const vectorOf = (key: string) => {
    const parts = conceptWord(key).split(' ').map((w) => table.get(w)!);
    return Array.from({ length: DIMENSIONS }, (_, d) => parts.reduce((s, v) => s + v[d]!, 0) / parts.length);
  };
  const directions = Array.from({ length: 8 }, () => Array.from({ length: DIMENSIONS }, () => normal()));
  const n = SPARSE_CONCEPTS.length;
  const counts = SPARSE_CONCEPTS.map((key, i) => SPARSE_ATTRIBUTES.map((attribute, a) => {
    if (attribute.name === 'listed_twice' && key === MISSING_CELL_CONCEPT) return NaN;
    if (attribute.name.startsWith('dense_')) {
      const v = vectorOf(key);
      const projection = directions[a]!.reduce((s, w, d) => s + w * v[d]!, 0) / Math.sqrt(DIMENSIONS);
      return Math.max(1, Math.round(10 + 4 * projection + 0.5 * normal()));
    }
    if (attribute.constant) return 5;
    // Non-zero for `support` concepts, a window starting at a different concept per attribute over all
    // concepts but the last (the empty cell's, which is 0 or empty everywhere but the dense features).
    if (key === MISSING_CELL_CONCEPT) return 0;
    const rank = (i - ((a * 7) % (n - 1)) + (n - 1)) % (n - 1);
    return rank < attribute.support ? 1 + (rank % 4) : 0;
  }));
  // The design is the test's expectation: refuse a fixture whose counts do not match it.
  SPARSE_ATTRIBUTES.forEach((attribute, a) => {
    const support = counts.filter((row) => row[a]! !== 0 && !Number.isNaN(row[a]!)).length;
    if (support !== attribute.support) throw new Error(`sparse-norms fixture: ${attribute.name} has support ${support}, designed ${attribute.support}`);
  });
  const folder = path.join(parent, name);
  await mkdir(folder, { recursive: true });
  const header = ['concept', 'category', ...SPARSE_ATTRIBUTES.map((a) => a.name)].join(',');
  const rows = SPARSE_CONCEPTS.map((key, i) => [key, 'object', ...counts[i]!.map((c) => (Number.isNaN(c) ? '' : String(c)))].join(','));
  await writeFile(path.join(folder, 'ratings.csv'), `${header}\n${rows.join('\n')}\n`);
  await writeFile(path.join(folder, 'attributes.csv'),
    `attribute,group,description\n${SPARSE_ATTRIBUTES.map((a) => `${a.name},${a.group},participants listing ${a.name} (built for the tests)`).join('\n')}\n`);
  await writeFile(path.join(folder, 'SOURCE.md'),
    '# Sparse feature-production norms (test fixture)\n\n## Citation\n\nBuilt by test/norms/sparse-norms.ts in the shape of McRae et al. (2005).\n\n## Source\n\nGenerated.\n');
  return { folder, counts, vectors: WordVectors.fromEntries(DIMENSIONS, table) };
}

/** Attributes a run over every concept keeps with --min-support K (and --min-variance > 0 when `variance`). */
export function expectedKept(k: number, variance: boolean): string[] {
  return SPARSE_ATTRIBUTES.filter((a) => a.support >= k && !(variance && a.constant)).map((a) => a.name);
}
