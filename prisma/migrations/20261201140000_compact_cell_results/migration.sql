-- Compact cell results (issue 10, items 3 and 4). A cell's attribute × attribute results were one
-- attribute_pair_score row per pair: a sparse-norms cell of 2,526 attributes wrote 3,183,558 rows
-- (322 MB). They become one float32 array per cell and measure (probe_cell_matrix), and each cell keeps
-- its out-of-fold predictions (probe_cell_prediction) so any metric can be recomputed, and paired
-- tests run, without refitting. src/db/cell-matrices.ts packs and unpacks both; docs/database.md.
--
-- probe_cell_matrix.data: float32 little-endian, the upper triangle (i < j) of the symmetric
-- attribute × attribute matrix in row-major order over attribute_ids, NaN where undefined:
-- (i, j) is at index i·m − i(i+1)/2 + (j − i − 1), m = cardinality(attribute_ids).
-- probe_cell_prediction.data: float32 little-endian, n × m row-major (concept_ids × attribute_ids).
-- No CHECK constraints: Prisma's schema engine (the offline shim) cannot describe them and `migrate
-- diff` panics; the reader refuses an array whose length does not match its ids instead.

-- CreateTable
CREATE TABLE "probe_cell_matrix" (
    "cell_id" INTEGER NOT NULL,
    "measure" TEXT NOT NULL,
    "attribute_ids" INTEGER[] NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "probe_cell_matrix_pkey" PRIMARY KEY ("cell_id","measure")
);

-- CreateTable
CREATE TABLE "probe_cell_prediction" (
    "cell_id" INTEGER NOT NULL,
    "concept_ids" INTEGER[] NOT NULL,
    "attribute_ids" INTEGER[] NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "probe_cell_prediction_pkey" PRIMARY KEY ("cell_id")
);

-- AddForeignKey
ALTER TABLE "probe_cell_matrix" ADD CONSTRAINT "probe_cell_matrix_cell_id_fkey" FOREIGN KEY ("cell_id") REFERENCES "probe_cell"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_cell_prediction" ADD CONSTRAINT "probe_cell_prediction_cell_id_fkey" FOREIGN KEY ("cell_id") REFERENCES "probe_cell"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Existing pair rows ⇒ one 'pair_accuracy' matrix per cell. The matrix's attributes are those its rows
-- name, in the norms' order (attribute.position, then id; the order the probe writes); a pair
-- without a row (undefined accuracy) becomes NaN. Pair accuracy is symmetric in a and b, so a row
-- fills (a, b) whichever way round it was stored. float4send() is big-endian: its four bytes are
-- reversed to little-endian. A cell with no pair rows gets no matrix (it had no defined pair).
WITH members AS (
    SELECT "cell_id", "attribute_a_id" AS "attribute_id" FROM "attribute_pair_score"
    UNION
    SELECT "cell_id", "attribute_b_id" FROM "attribute_pair_score"
), ordered AS (
    SELECT m."cell_id", m."attribute_id",
           (row_number() OVER (PARTITION BY m."cell_id" ORDER BY a."position", a."id"))::int AS "idx"
    FROM members m JOIN "attribute" a ON a."id" = m."attribute_id"
), cell_attributes AS (
    SELECT "cell_id", array_agg("attribute_id" ORDER BY "idx") AS "attribute_ids" FROM ordered GROUP BY "cell_id"
), triangle AS (
    SELECT r."cell_id", r."idx" AS "i", c."idx" AS "j",
           coalesce(s1."accuracy", s2."accuracy", 'NaN'::float8)::real AS "value"
    FROM ordered r
    JOIN ordered c ON c."cell_id" = r."cell_id" AND c."idx" > r."idx"
    LEFT JOIN "attribute_pair_score" s1
           ON s1."cell_id" = r."cell_id" AND s1."attribute_a_id" = r."attribute_id" AND s1."attribute_b_id" = c."attribute_id"
    LEFT JOIN "attribute_pair_score" s2
           ON s2."cell_id" = r."cell_id" AND s2."attribute_a_id" = c."attribute_id" AND s2."attribute_b_id" = r."attribute_id"
)
INSERT INTO "probe_cell_matrix" ("cell_id", "measure", "attribute_ids", "data")
SELECT t."cell_id", 'pair_accuracy', ca."attribute_ids",
       string_agg(substring(b.be FROM 4 FOR 1) || substring(b.be FROM 3 FOR 1) || substring(b.be FROM 2 FOR 1) || substring(b.be FROM 1 FOR 1),
                  ''::bytea ORDER BY t."i", t."j")
FROM triangle t
CROSS JOIN LATERAL (SELECT float4send(t."value") AS be) b
JOIN cell_attributes ca ON ca."cell_id" = t."cell_id"
GROUP BY t."cell_id", ca."attribute_ids";

-- DropForeignKey
ALTER TABLE "attribute_pair_score" DROP CONSTRAINT "attribute_pair_score_attribute_a_id_fkey";

-- DropForeignKey
ALTER TABLE "attribute_pair_score" DROP CONSTRAINT "attribute_pair_score_attribute_b_id_fkey";

-- DropForeignKey
ALTER TABLE "attribute_pair_score" DROP CONSTRAINT "attribute_pair_score_cell_id_fkey";

-- DropTable
DROP TABLE "attribute_pair_score";
