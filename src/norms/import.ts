// Writes a parsed norms dataset as one new version, in ONE transaction: a failure leaves nothing
// behind; the same content again (same name + content hash) writes nothing; changed content becomes
// version max+1 with its own groups, attributes, memberships and ratings (versions never mix).
// Concepts are global by word and shared with other datasets and runs. The content is validated in
// full before the first statement: a refused import leaves every table and sequence as it was.
import type { PrismaClient } from '../generated/prisma/client.ts';
import { normsContentHash } from './content-hash.ts';
import { normsSparsity, type NormsSparsity } from './sparsity.ts';
import { NormsValidationFailure } from './errors.ts';
import { validateNormsContent } from './validate-content.ts';
import type { NormsDatasetContent } from './types.ts';
import { CodedError } from '../errors.ts';

export interface NormsImportResult {
  /** `unchanged`: this exact content was already stored under this name; nothing was written. */
  status: 'imported' | 'unchanged';
  datasetId: number;
  name: string;
  version: number;
  contentHash: string;
  counts: { groups: number; attributes: number; concepts: number; newConcepts: number; ratings: number };
  /** Zero and empty cells, and attributes under common --min-support K (src/norms/sparsity.ts). */
  sparsity: NormsSparsity;
  seconds: number;
}

export class NormsImportArgumentError extends CodedError<'INVALID_DATASET_NAME'> {
  constructor(name: string) {
    super('INVALID_DATASET_NAME', 'bad-input', `Dataset name ${JSON.stringify(name)} is invalid: use 1–200 characters without control characters or "@".`);
  }
}

export function isValidDatasetName(name: string): boolean {
  // "@" is reserved for "name@version" references (src/norms/query.ts).
  return name.trim() === name && name.length > 0 && name.length <= 200 && !/[\u0000-\u001f\u007f@]/.test(name);
}

export async function importNormsDataset(
  prisma: PrismaClient,
  dataset: NormsDatasetContent,
  options: { name: string },
): Promise<NormsImportResult> {
  const started = performance.now();
  const { name } = options;
  if (!isValidDatasetName(name)) throw new NormsImportArgumentError(name);
  // Nextval is not transactional: anything refused after the first INSERT would move sequences.
  const problems = validateNormsContent(dataset);
  if (problems.length > 0) throw new NormsValidationFailure(`Norms dataset ${JSON.stringify(name)}`, problems);
  const scale = dataset.scale ?? null;
  const contentHash = normsContentHash(dataset);
  const sparsity = normsSparsity(dataset);
  const counts = { groups: dataset.groups.length, attributes: dataset.attributes.length, concepts: dataset.concepts.length, newConcepts: 0, ratings: dataset.ratings.length };

  return prisma.$transaction(async (tx) => {
    // Serialise imports of one name, so two concurrent imports cannot both claim version n+1.
    await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(hashtext(${`probe-atlas:norms:${name}`}))`;
    const existing = await tx.normsDataset.findUnique({ where: { name_contentHash: { name, contentHash } } });
    if (existing) {
      return { status: 'unchanged' as const, datasetId: existing.id, name, version: existing.version, contentHash, counts, sparsity, seconds: (performance.now() - started) / 1000 };
    }
    const latest = await tx.normsDataset.aggregate({ where: { name }, _max: { version: true } });
    const version = (latest._max.version ?? 0) + 1;
    const stored = await tx.normsDataset.create({
      data: { name, version, contentHash, citation: dataset.citation, source: dataset.source, scaleMin: scale?.min ?? null, scaleMax: scale?.max ?? null },
    });

    const groups = await tx.attributeGroup.createManyAndReturn({
      data: dataset.groups.map((group, position) => ({ normsDatasetId: stored.id, name: group, position })),
      select: { id: true, name: true },
    });
    const groupId = new Map(groups.map((g) => [g.name, g.id]));
    const attributes = await tx.attribute.createManyAndReturn({
      data: dataset.attributes.map((a, position) => ({
        normsDatasetId: stored.id, attributeGroupId: groupId.get(a.group)!, name: a.name, description: a.description, position, metadata: a.metadata,
      })),
      select: { id: true, name: true },
    });
    const attributeId = new Map(attributes.map((a) => [a.name, a.id]));

    // Sorted, so concurrent imports sharing words take row locks in the same order.
    const words = dataset.concepts.map((c) => c.word).sort();
    counts.newConcepts = await tx.$executeRaw`INSERT INTO concept (word) SELECT unnest(${words}::text[]) ON CONFLICT (word) DO NOTHING`;
    const concepts = await tx.concept.findMany({ where: { word: { in: words } }, select: { id: true, word: true } });
    const conceptId = new Map(concepts.map((c) => [c.word, c.id]));
    await tx.datasetConcept.createMany({
      data: dataset.concepts.map((c, position) => ({
        normsDatasetId: stored.id, conceptId: conceptId.get(c.word)!, category: c.category, position, metadata: c.metadata,
      })),
    });

    const ratingAttributeIds = new Array<number>(dataset.ratings.length);
    const ratingConceptIds = new Array<number>(dataset.ratings.length);
    const ratingValues = new Array<number>(dataset.ratings.length);
    dataset.ratings.forEach((rating, i) => {
      ratingAttributeIds[i] = attributeId.get(dataset.attributes[rating.attribute]!.name)!;
      ratingConceptIds[i] = conceptId.get(dataset.concepts[rating.concept]!.word)!;
      ratingValues[i] = rating.value;
    });
    // One statement for all ratings (18k for Binder): unnest beats createMany's parameter lists.
    await tx.$executeRaw`INSERT INTO rating (attribute_id, concept_id, value)
      SELECT * FROM unnest(${ratingAttributeIds}::int[], ${ratingConceptIds}::int[], ${ratingValues}::float8[])`;

    return { status: 'imported' as const, datasetId: stored.id, name, version, contentHash, counts, sparsity, seconds: (performance.now() - started) / 1000 };
  }, { timeout: 120_000, maxWait: 20_000 });
}
