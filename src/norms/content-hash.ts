// The identity of a dataset version: sha256 over a canonical JSON of what was parsed, so that line
// endings, a BOM, quoting, "1.50" vs "1.5" or the order of extra metadata columns do not make a new
// version, while any change to a word, category, attribute, group, value, citation, order or declared
// scale does. The scale enters only when declared, so datasets without one keep their hashes.
import { createHash } from 'node:crypto';
import type { NormsDatasetContent } from './types.ts';

const CANONICAL_FORMAT = 1;

function sortedObject(record: Record<string, string>): [string, string][] {
  return Object.keys(record).sort().map((key) => [key, record[key]!]);
}

export function canonicalNormsJson(dataset: NormsDatasetContent): string {
  const ratingsByConcept: (number | null)[][] = dataset.concepts.map(() => dataset.attributes.map(() => null));
  for (const rating of dataset.ratings) ratingsByConcept[rating.concept]![rating.attribute] = rating.value;
  return JSON.stringify({
    format: CANONICAL_FORMAT,
    ...(dataset.scale ? { scale: [dataset.scale.min, dataset.scale.max] } : {}),
    citation: dataset.citation,
    source: dataset.source,
    groups: dataset.groups,
    attributes: dataset.attributes.map((a) => [a.name, a.group, a.description, sortedObject(a.metadata)]),
    concepts: dataset.concepts.map((c) => [c.word, c.category, sortedObject(c.metadata)]),
    ratings: ratingsByConcept,
  });
}

export function normsContentHash(dataset: NormsDatasetContent): string {
  return createHash('sha256').update(canonicalNormsJson(dataset)).digest('hex');
}
