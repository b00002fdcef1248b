// A norms dataset as parsed from its folder, before it touches the database.

export interface NormsAttribute {
  name: string;
  group: string;
  description: string;
  /** Extra columns of attributes.csv, verbatim. */
  metadata: Record<string, string>;
}

export interface NormsConcept {
  word: string;
  category: string | null;
  /** Extra columns of concepts.csv, verbatim ({} without that file). */
  metadata: Record<string, string>;
}

/** One present cell of ratings.csv; missing cells have no entry (missing is not 0). */
export interface NormsRating {
  /** Index into `concepts`. */
  concept: number;
  /** Index into `attributes`. */
  attribute: number;
  value: number;
}

/** The declared rating scale of a dataset (dataset.json): every value v has min ≤ v ≤ max. */
export interface NormsScale {
  min: number;
  max: number;
}

export interface NormsDatasetContent {
  citation: string;
  source: string;
  /** Group names in order of first appearance in attributes.csv. */
  groups: string[];
  /** In attributes.csv order. */
  attributes: NormsAttribute[];
  /** In ratings.csv order. */
  concepts: NormsConcept[];
  ratings: NormsRating[];
  /** The declared scale, or null when the folder declares none. */
  scale: NormsScale | null;
}

export const NORMS_FILES = {
  ratings: 'ratings.csv',
  attributes: 'attributes.csv',
  concepts: 'concepts.csv',
  source: 'SOURCE.md',
  dataset: 'dataset.json',
} as const;

/** File contents by role; `concepts` and `dataset` are optional. Bytes are checked for UTF-8, strings are taken as decoded. */
export interface NormsFiles {
  ratings?: Uint8Array | string;
  attributes?: Uint8Array | string;
  concepts?: Uint8Array | string;
  source?: Uint8Array | string;
  /** Optional dataset.json (the declared scale). */
  dataset?: Uint8Array | string;
}
