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
-- without a row (undefined accuracy) stays NaN. Pair accuracy is symmetric in a and b, so a row
-- fills (a, b) whichever way round it was stored. float4send() is big-endian: its four bytes are
-- reversed to little-endian. A cell with no pair rows gets no matrix (it had no defined pair).
-- Cell by cell into a float4 array (one index scan of the cell's rows, O(1) per assignment), not as
-- one join of every triangle with every row: a 3,185,992-row cell converts in ~13 s here, where the
-- join spilled to disk for over 20 minutes.
DO $$
DECLARE
    c RECORD;
    p RECORD;
    ids INTEGER[];
    m BIGINT;
    values_ REAL[];
BEGIN
    FOR c IN SELECT DISTINCT "cell_id" FROM "attribute_pair_score" ORDER BY 1 LOOP
        CREATE TEMP TABLE "compact_cell_order" ON COMMIT DROP AS
            SELECT u."attribute_id", (row_number() OVER (ORDER BY a."position", a."id") - 1)::bigint AS "idx"
            FROM (SELECT "attribute_a_id" AS "attribute_id" FROM "attribute_pair_score" WHERE "cell_id" = c."cell_id"
                  UNION SELECT "attribute_b_id" FROM "attribute_pair_score" WHERE "cell_id" = c."cell_id") u
            JOIN "attribute" a ON a."id" = u."attribute_id";
        SELECT array_agg("attribute_id" ORDER BY "idx"), count(*) INTO ids, m FROM "compact_cell_order";
        values_ := array_fill('NaN'::real, ARRAY[(m * (m - 1) / 2)::int]);
        FOR p IN
            SELECT least(x."idx", y."idx") AS "i", greatest(x."idx", y."idx") AS "j", s."accuracy"
            FROM "attribute_pair_score" s
            JOIN "compact_cell_order" x ON x."attribute_id" = s."attribute_a_id"
            JOIN "compact_cell_order" y ON y."attribute_id" = s."attribute_b_id"
            WHERE s."cell_id" = c."cell_id"
        LOOP
            values_[p."i" * m - p."i" * (p."i" + 1) / 2 + (p."j" - p."i" - 1) + 1] := p."accuracy"::real;
        END LOOP;
        INSERT INTO "probe_cell_matrix" ("cell_id", "measure", "attribute_ids", "data")
        SELECT c."cell_id", 'pair_accuracy', ids,
               string_agg(substring(b."be" FROM 4 FOR 1) || substring(b."be" FROM 3 FOR 1) || substring(b."be" FROM 2 FOR 1) || substring(b."be" FROM 1 FOR 1),
                          ''::bytea ORDER BY u."k")
        FROM unnest(values_) WITH ORDINALITY AS u("v", "k")
        CROSS JOIN LATERAL (SELECT float4send(u."v") AS "be") b;
        DROP TABLE "compact_cell_order";
    END LOOP;
END
$$;

-- DropForeignKey
ALTER TABLE "attribute_pair_score" DROP CONSTRAINT "attribute_pair_score_attribute_a_id_fkey";

-- DropForeignKey
ALTER TABLE "attribute_pair_score" DROP CONSTRAINT "attribute_pair_score_attribute_b_id_fkey";

-- DropForeignKey
ALTER TABLE "attribute_pair_score" DROP CONSTRAINT "attribute_pair_score_cell_id_fkey";

-- DropTable
DROP TABLE "attribute_pair_score";
