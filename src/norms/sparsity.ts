// How sparse a norms dataset is, reported by the import (issue 10): feature-production norms
// (McRae-style counts of participants who listed a feature) are mostly zeros, and features listed
// for two or three concepts only are near-constant probe targets that dominate every mean. The report
// says so when the data arrives, with how many attributes a `--min-support K` probe run would leave
// out for common K (docs/norms.md recommends settings). Pure: computed from the parsed content.
import type { NormsDatasetContent } from './types.ts';

/** The K values the import reports. */
export const REPORTED_MIN_SUPPORTS = [2, 5, 10, 20] as const;

export interface NormsSparsity {
  /** concepts × attributes. */
  cellCount: number;
  /** Cells rated 0. */
  zeroCellCount: number;
  /** Empty cells (missing ratings, never read as 0). */
  missingCellCount: number;
  /** zeroCellCount / cellCount (0 for an empty dataset). */
  zeroShare: number;
  /** missingCellCount / cellCount. */
  missingShare: number;
  /** Per attribute, concepts with a non-zero (present) rating: the median over attributes. */
  medianSupportCount: number;
  /** For each reported K: attributes with a non-zero rating for fewer than K of the dataset's concepts. */
  belowMinSupport: { minSupport: number; attributeCount: number }[];
}

export function normsSparsity(dataset: Pick<NormsDatasetContent, 'attributes' | 'concepts' | 'ratings'>): NormsSparsity {
  const m = dataset.attributes.length;
  const cellCount = dataset.concepts.length * m;
  const support = new Int32Array(m);
  let zeroCellCount = 0;
  for (const rating of dataset.ratings) {
    if (rating.value === 0) zeroCellCount++;
    else support[rating.attribute]!++;
  }
  const missingCellCount = cellCount - dataset.ratings.length;
  const sorted = Array.from(support).sort((a, b) => a - b);
  const medianSupportCount = m === 0 ? 0 : m % 2 === 1 ? sorted[(m - 1) / 2]! : (sorted[m / 2 - 1]! + sorted[m / 2]!) / 2;
  return {
    cellCount,
    zeroCellCount,
    missingCellCount,
    zeroShare: cellCount === 0 ? 0 : zeroCellCount / cellCount,
    missingShare: cellCount === 0 ? 0 : missingCellCount / cellCount,
    medianSupportCount,
    belowMinSupport: REPORTED_MIN_SUPPORTS.map((k) => ({ minSupport: k, attributeCount: sorted.filter((s) => s < k).length })),
  };
}

/** The report's lines, as the import prints them. */
export function describeSparsity(s: NormsSparsity, attributeCount: number): string[] {
  const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
  return [
    `sparsity: ${percent(s.zeroShare)} of the ${s.cellCount} cells are 0, ${percent(s.missingShare)} empty (missing); median attribute non-zero for ${s.medianSupportCount} concepts`,
    `  attributes non-zero for fewer than K concepts (left out by probe --min-support K): ` +
      s.belowMinSupport.map((b) => `K=${b.minSupport}: ${b.attributeCount} of ${attributeCount}`).join(', '),
  ];
}
