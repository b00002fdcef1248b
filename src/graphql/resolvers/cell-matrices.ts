// ProbeCell.attributeMatrix: a cell's stored attribute × attribute matrix (probe_cell_matrix, one
// float32 triangle per measure; src/db/cell-matrices.ts) served dense, symmetric and NaN as null, for
// the attributes a client's filters keep — the heatmap beside its human counterpart (issue 10 item 3).
// A matrix grows with attributes², so its values count against the operation's cell and response
// budget (ApiLimits.maxOperationCells, maxResponseBytes) like a grid's cells.
import { denseFromTriangle, triangleIndex, type CellMatrix, type CellMatrixMeasure as StoredMeasure } from '../../db/cell-matrices.ts';
import type { Attribute } from '../../generated/prisma/client.ts';
import { parseIds } from '../ids.ts';
import type { CellMatrixMeasure, ProbeCellResolvers, Resolvers } from '../generated/resolvers-types.ts';

/** The SDL value of each stored measure; `complete` fails to compile when a stored measure has no SDL value. */
const STORED = {
  PAIR_ACCURACY: 'pair_accuracy',
  MODEL_SIMILARITY: 'model_similarity',
  HUMAN_SIMILARITY: 'human_similarity',
} as const satisfies Record<CellMatrixMeasure, StoredMeasure>;
type Unserved = Exclude<StoredMeasure, (typeof STORED)[CellMatrixMeasure]>;
const complete: [Unserved] extends [never] ? true : { unserved: Unserved } = true;
void complete;

/**
 * Estimated JSON bytes of one value: a float32 printed as a double ("0.10000000149011612,") is up to
 * ~20 characters, null 5; the estimate takes the long case.
 */
const BYTES_PER_VALUE = 20;

/** The diagonal of attribute i: a similarity is 1 for an attribute correlated with anything (not constant), pair accuracy has none. */
function diagonalOf(matrix: CellMatrix, i: number): number | null {
  if (matrix.measure === 'pair_accuracy') return null;
  const m = matrix.attributeIds.length;
  for (let j = 0; j < m; j++) {
    if (j !== i && !Number.isNaN(matrix.values[i < j ? triangleIndex(i, j, m) : triangleIndex(j, i, m)]!)) return 1;
  }
  return null;
}

const ProbeCell = {
  attributeMatrix: async (cell, args, context, info) => {
    const groupIds = args.attributeGroupIds ? new Set(parseIds(args.attributeGroupIds, 'attributeGroupIds')) : null;
    const attributeIds = args.attributeIds ? new Set(parseIds(args.attributeIds, 'attributeIds')) : null;
    const matrix = await context.loaders.cellMatrix(STORED[args.measure]).load(cell.id);
    if (!matrix) return null;
    const loaded = await context.loaders.attribute.loadMany(matrix.attributeIds);
    const rows: number[] = [];
    const attributes: Attribute[] = [];
    loaded.forEach((attribute, i) => {
      if (attribute instanceof Error) throw attribute;
      if (!attribute) throw new Error(`probe_cell_matrix (cell ${cell.id}, ${matrix.measure}) names attribute ${matrix.attributeIds[i]}, which does not exist.`);
      if (groupIds && !groupIds.has(attribute.attributeGroupId)) return;
      if (attributeIds && !attributeIds.has(attribute.id)) return;
      rows.push(i);
      attributes.push(attribute);
    });
    const size = rows.length * rows.length;
    context.operation.reserve(String(info.path.key), size, size * BYTES_PER_VALUE);
    const values = denseFromTriangle(matrix.values, matrix.attributeIds.length, rows, (i) => diagonalOf(matrix, i));
    return { measure: args.measure, attributes, values };
  },
} satisfies ProbeCellResolvers;

export const cellMatrixResolvers = { ProbeCell } satisfies Resolvers;
