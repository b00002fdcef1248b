-- Attribute selection of probe runs (issue 10, item 1): `npm run probe -- --min-support K
-- [--min-variance v]` keeps attributes with a non-zero, non-missing rating for at least K of the run's
-- concepts (and that variance over them); every attribute it leaves out is one row here, with the
-- first rule it failed and the figures it failed on, so the database says which attributes a run's
-- scores and means are over (src/probe-runs/selection.ts). A run without a selection has no rows.

-- CreateEnum
CREATE TYPE "AttributeExclusionReason" AS ENUM ('MIN_SUPPORT', 'MIN_VARIANCE');

-- CreateTable
CREATE TABLE "excluded_attribute" (
    "probe_run_id" INTEGER NOT NULL,
    "attribute_id" INTEGER NOT NULL,
    "reason" "AttributeExclusionReason" NOT NULL,
    "support_count" INTEGER NOT NULL,
    "variance" DOUBLE PRECISION,

    CONSTRAINT "excluded_attribute_pkey" PRIMARY KEY ("probe_run_id","attribute_id")
);

-- CreateIndex
CREATE INDEX "excluded_attribute_attribute_id_idx" ON "excluded_attribute"("attribute_id");

-- AddForeignKey
ALTER TABLE "excluded_attribute" ADD CONSTRAINT "excluded_attribute_probe_run_id_fkey" FOREIGN KEY ("probe_run_id") REFERENCES "probe_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "excluded_attribute" ADD CONSTRAINT "excluded_attribute_attribute_id_fkey" FOREIGN KEY ("attribute_id") REFERENCES "attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;
