-- One name for each thing (docs/api.md, naming rules), second part: the columns whose names still
-- differ from the API's take the API's names, and the indexes and constraints built on them take the
-- names Prisma derives from the new column names (so `migrate diff` stays empty).
-- Renames only: every stored value, index and constraint stays where it is.

-- dataset_id ⇒ norms_dataset_id (API: normsDatasetId)
ALTER TABLE "attribute_group" RENAME COLUMN "dataset_id" TO "norms_dataset_id";
ALTER TABLE "attribute" RENAME COLUMN "dataset_id" TO "norms_dataset_id";
ALTER TABLE "dataset_concept" RENAME COLUMN "dataset_id" TO "norms_dataset_id";
ALTER TABLE "probe_run" RENAME COLUMN "dataset_id" TO "norms_dataset_id";

-- group_id ⇒ attribute_group_id (API: attributeGroupId)
ALTER TABLE "attribute" RENAME COLUMN "group_id" TO "attribute_group_id";
ALTER TABLE "probe_group_score" RENAME COLUMN "group_id" TO "attribute_group_id";

-- progress_done/progress_total ⇒ done_count/planned_count (API: Progress.doneCount/plannedCount)
ALTER TABLE "extraction_run" RENAME COLUMN "progress_done" TO "done_count";
ALTER TABLE "extraction_run" RENAME COLUMN "progress_total" TO "planned_count";
ALTER TABLE "probe_run" RENAME COLUMN "progress_done" TO "done_count";
ALTER TABLE "probe_run" RENAME COLUMN "progress_total" TO "planned_count";

-- Indexes named after the old columns.
ALTER INDEX "attribute_group_dataset_id_name_key" RENAME TO "attribute_group_norms_dataset_id_name_key";
ALTER INDEX "attribute_group_id_idx" RENAME TO "attribute_attribute_group_id_idx";
ALTER INDEX "attribute_dataset_id_name_key" RENAME TO "attribute_norms_dataset_id_name_key";
ALTER INDEX "probe_run_dataset_id_idx" RENAME TO "probe_run_norms_dataset_id_idx";
ALTER INDEX "probe_group_score_cell_id_group_id_metric_key" RENAME TO "probe_group_score_cell_id_attribute_group_id_metric_key";

-- Foreign keys named after the old columns.
ALTER TABLE "attribute_group" RENAME CONSTRAINT "attribute_group_dataset_id_fkey" TO "attribute_group_norms_dataset_id_fkey";
ALTER TABLE "attribute" RENAME CONSTRAINT "attribute_dataset_id_fkey" TO "attribute_norms_dataset_id_fkey";
ALTER TABLE "attribute" RENAME CONSTRAINT "attribute_group_id_fkey" TO "attribute_attribute_group_id_fkey";
ALTER TABLE "dataset_concept" RENAME CONSTRAINT "dataset_concept_dataset_id_fkey" TO "dataset_concept_norms_dataset_id_fkey";
ALTER TABLE "probe_run" RENAME CONSTRAINT "probe_run_dataset_id_fkey" TO "probe_run_norms_dataset_id_fkey";
ALTER TABLE "probe_group_score" RENAME CONSTRAINT "probe_group_score_group_id_fkey" TO "probe_group_score_attribute_group_id_fkey";
