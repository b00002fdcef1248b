// Read helpers for probe time: resolve a dataset reference, pick its concepts by category.
import type { PrismaClient } from '../generated/prisma/client.ts';
import { CodedError } from '../errors.ts';

export interface ConceptFilter {
  /** Keep only concepts in these categories (concepts without a category are then dropped). */
  categories?: readonly string[];
  /** Drop concepts in these categories (concepts without a category are kept). */
  excludeCategories?: readonly string[];
}

/**
 * Binder et al. (2016) subset: "living object" includes role nouns (`human`) and collectives
 * (`group`); excluding them leaves physical objects only (data/norms/binder2016/SOURCE.md, item 1).
 */
export const BINDER_PHYSICAL_OBJECTS: ConceptFilter = { excludeCategories: ['human', 'group'] };

export interface SelectedConcept {
  id: number;
  word: string;
  category: string | null;
  position: number;
}

/** A dataset's concepts in file order, filtered by category. */
export async function selectConcepts(prisma: PrismaClient, datasetId: number, filter: ConceptFilter = {}): Promise<SelectedConcept[]> {
  const category: { in?: string[]; notIn?: string[] } = {};
  if (filter.categories) category.in = [...filter.categories];
  if (filter.excludeCategories && filter.excludeCategories.length > 0) category.notIn = [...filter.excludeCategories];
  const rows = await prisma.datasetConcept.findMany({
    where: {
      normsDatasetId: datasetId,
      // SQL `NOT IN` drops NULLs; a concept without a category is not in an excluded category.
      ...(category.notIn && !category.in
        ? { OR: [{ category: { notIn: category.notIn } }, { category: null }] }
        : Object.keys(category).length > 0 ? { category } : {}),
    },
    orderBy: { position: 'asc' },
    select: { position: true, category: true, concept: { select: { id: true, word: true } } },
  });
  return rows.map((row) => ({ id: row.concept.id, word: row.concept.word, category: row.category, position: row.position }));
}

export class DatasetNotFoundError extends CodedError<'DATASET_NOT_FOUND'> {
  constructor(reference: string) {
    super('DATASET_NOT_FOUND', 'not-found', `No norms dataset matches ${JSON.stringify(reference)}: give an id, a name (latest version) or name@version.`);
  }
}

/** Resolves "12" (id), "binder2016" (latest version) or "binder2016@1". */
export async function findNormsDataset(prisma: PrismaClient, reference: string) {
  const trimmed = reference.trim();
  if (/^\d+$/.test(trimmed)) {
    const byId = await prisma.normsDataset.findUnique({ where: { id: Number(trimmed) } });
    if (byId) return byId;
  }
  const versioned = /^(.*)@(\d+)$/.exec(trimmed);
  const found = versioned
    ? await prisma.normsDataset.findUnique({ where: { name_version: { name: versioned[1]!, version: Number(versioned[2]) } } })
    : await prisma.normsDataset.findFirst({ where: { name: trimmed }, orderBy: { version: 'desc' } });
  if (!found) throw new DatasetNotFoundError(reference);
  return found;
}
