// Attribute selection of a probe run (issue 10): feature-production norms (McRae-style counts of
// participants who listed a feature) have thousands of features, most listed for two or three
// concepts; probed as they are, near-constant attributes dominate every mean. `--min-support K` keeps
// the attributes with a non-zero, non-missing rating for at least K of the run's concepts, and
// `--min-variance v` those whose ratings vary at least that much over them. The choice is pure
// (tested on arrays); what was left out, and why, is written to the `excluded_attribute` table with
// the run, so the database says which attributes a run's means are over.
import type pg from 'pg';
import type { ProbeSettings } from './settings.ts';

/** Why an attribute was left out; the first rule it fails, in this order. */
export type ExclusionReason = 'MIN_SUPPORT' | 'MIN_VARIANCE';

export interface AttributeStatistics {
  /** Concepts with a non-zero, non-missing rating. */
  supportCount: number;
  /** Population variance over the non-missing ratings (NaN when none). */
  variance: number;
}

export interface ExcludedAttributeIndex extends AttributeStatistics {
  /** Column of the ratings matrix. */
  index: number;
  reason: ExclusionReason;
}

export interface AttributeChoice {
  /** Columns kept, ascending. */
  kept: number[];
  excluded: ExcludedAttributeIndex[];
}

/** Support and variance of every column of an n × m row-major matrix (NaN = missing rating). */
export function attributeStatistics(ratings: Float64Array, n: number, m: number): AttributeStatistics[] {
  return Array.from({ length: m }, (_, a) => {
    let count = 0, support = 0, sum = 0;
    for (let i = 0; i < n; i++) {
      const value = ratings[i * m + a]!;
      if (Number.isNaN(value)) continue;
      count++;
      sum += value;
      if (value !== 0) support++;
    }
    const mean = sum / count;
    let squares = 0;
    for (let i = 0; i < n; i++) {
      const value = ratings[i * m + a]!;
      if (!Number.isNaN(value)) squares += (value - mean) ** 2;
    }
    return { supportCount: support, variance: count === 0 ? NaN : squares / count };
  });
}

/**
 * The attributes a run keeps over these concepts' ratings. Without a selection every attribute is
 * kept (nothing is computed). A variance that is NaN (no rating at all) fails a variance floor.
 */
export function selectAttributes(
  ratings: Float64Array, n: number, m: number, settings: Pick<ProbeSettings, 'minSupport' | 'minVariance'>,
): AttributeChoice {
  const { minSupport, minVariance } = settings;
  if (minSupport === null && minVariance === null) return { kept: Array.from({ length: m }, (_, a) => a), excluded: [] };
  const kept: number[] = [];
  const excluded: ExcludedAttributeIndex[] = [];
  attributeStatistics(ratings, n, m).forEach((stats, index) => {
    const reason: ExclusionReason | null =
      minSupport !== null && stats.supportCount < minSupport ? 'MIN_SUPPORT'
        : minVariance !== null && !(stats.variance >= minVariance) ? 'MIN_VARIANCE' : null;
    if (reason === null) kept.push(index);
    else excluded.push({ index, reason, ...stats });
  });
  return { kept, excluded };
}

export interface ExcludedAttribute extends AttributeStatistics {
  attributeId: number;
  reason: ExclusionReason;
}

/**
 * Records a run's excluded attributes in one statement (one transaction), idempotently: the selection is part of
 * the run's identity, so a re-run (or a second process) computes the same rows and writes nothing new.
 */
export async function recordExcludedAttributes(pool: pg.Pool, probeRunId: number, excluded: readonly ExcludedAttribute[]): Promise<void> {
  if (excluded.length === 0) return;
  await pool.query(
    `INSERT INTO excluded_attribute (probe_run_id, attribute_id, reason, support_count, variance)
     SELECT $1, * FROM unnest($2::int[], $3::"AttributeExclusionReason"[], $4::int[], $5::float8[])
     ON CONFLICT (probe_run_id, attribute_id) DO NOTHING`,
    [probeRunId, excluded.map((e) => e.attributeId), excluded.map((e) => e.reason), excluded.map((e) => e.supportCount),
      excluded.map((e) => (Number.isFinite(e.variance) ? e.variance : null))],
  );
}
