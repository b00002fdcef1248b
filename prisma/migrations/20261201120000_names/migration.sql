-- One name for each thing (docs/api.md, naming rules): counts are `<noun>_count`, as in the API.
-- Renames only: every stored value stays where it is.
ALTER TABLE "probe_cell" RENAME COLUMN "n_concepts" TO "concept_count";
ALTER TABLE "extraction_run" RENAME COLUMN "num_steps" TO "step_count";
