-- CreateEnum
CREATE TYPE "ModelKind" AS ENUM ('STABLE_DIFFUSION', 'TINY_TEST_NETWORK', 'WORD_EMBEDDING');

-- CreateEnum
CREATE TYPE "ComponentKind" AS ENUM ('TEXT_ENCODER', 'TEXT_ENCODER_2', 'UNET', 'VAE_DECODER', 'WORD_EMBEDDING');

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED');

-- CreateTable
CREATE TABLE "norms_dataset" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "content_hash" TEXT NOT NULL,
    "citation" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "norms_dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attribute_group" (
    "id" SERIAL NOT NULL,
    "dataset_id" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "position" INTEGER NOT NULL,

    CONSTRAINT "attribute_group_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attribute" (
    "id" SERIAL NOT NULL,
    "dataset_id" INTEGER NOT NULL,
    "group_id" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "attribute_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "concept" (
    "id" SERIAL NOT NULL,
    "word" TEXT NOT NULL,

    CONSTRAINT "concept_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "dataset_concept" (
    "dataset_id" INTEGER NOT NULL,
    "concept_id" INTEGER NOT NULL,
    "category" TEXT,
    "position" INTEGER NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "dataset_concept_pkey" PRIMARY KEY ("dataset_id","concept_id")
);

-- CreateTable
CREATE TABLE "rating" (
    "attribute_id" INTEGER NOT NULL,
    "concept_id" INTEGER NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "rating_pkey" PRIMARY KEY ("attribute_id","concept_id")
);

-- CreateTable
CREATE TABLE "model" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "ModelKind" NOT NULL,
    "revision" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "description" TEXT NOT NULL,

    CONSTRAINT "model_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "component" (
    "id" SERIAL NOT NULL,
    "model_id" INTEGER NOT NULL,
    "kind" "ComponentKind" NOT NULL,
    "name" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "has_timesteps" BOOLEAN NOT NULL,

    CONSTRAINT "component_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "layer" (
    "id" SERIAL NOT NULL,
    "component_id" INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "shape" INTEGER[],

    CONSTRAINT "layer_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "extraction_run" (
    "id" SERIAL NOT NULL,
    "model_id" INTEGER NOT NULL,
    "settings_hash" TEXT NOT NULL,
    "prompt_template" TEXT NOT NULL,
    "seed" INTEGER NOT NULL,
    "scheduler" TEXT,
    "num_steps" INTEGER NOT NULL,
    "guidance_scale" DOUBLE PRECISION,
    "device" TEXT NOT NULL,
    "settings" JSONB NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'PENDING',
    "progress_done" INTEGER NOT NULL DEFAULT 0,
    "progress_total" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "timings" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "extraction_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "activation_summary" (
    "id" BIGSERIAL NOT NULL,
    "run_id" INTEGER NOT NULL,
    "concept_id" INTEGER NOT NULL,
    "layer_id" INTEGER NOT NULL,
    "timestep" INTEGER,
    "pooling" TEXT NOT NULL,
    "dim" INTEGER NOT NULL,
    "vector" BYTEA NOT NULL,
    "norm" DOUBLE PRECISION NOT NULL,
    "mean" DOUBLE PRECISION NOT NULL,
    "std" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "activation_summary_pkey" PRIMARY KEY ("id")
);

-- Hand-edited: a summary vector is 2–5 KB of float32, which compresses poorly. By default PostgreSQL
-- tries to compress any row over ~2 KB and moves it out of line to a TOAST table; both cost bulk-write
-- speed for no space saved. Keep rows inline up to a page and never try to compress the vector.
ALTER TABLE "activation_summary" ALTER COLUMN "vector" SET STORAGE EXTERNAL;
ALTER TABLE "activation_summary" SET (toast_tuple_target = 8160);

-- CreateTable
CREATE TABLE "probe_run" (
    "id" SERIAL NOT NULL,
    "extraction_run_id" INTEGER NOT NULL,
    "dataset_id" INTEGER NOT NULL,
    "settings_hash" TEXT NOT NULL,
    "method" TEXT NOT NULL,
    "settings" JSONB NOT NULL,
    "cv_scheme" TEXT NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'PENDING',
    "progress_done" INTEGER NOT NULL DEFAULT 0,
    "progress_total" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "timings" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMP(3),
    "finished_at" TIMESTAMP(3),

    CONSTRAINT "probe_run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "probe_cell" (
    "id" SERIAL NOT NULL,
    "probe_run_id" INTEGER NOT NULL,
    "layer_id" INTEGER NOT NULL,
    "timestep" INTEGER,
    "pooling" TEXT NOT NULL,
    "n_concepts" INTEGER NOT NULL,
    "attribute_two_vs_two" DOUBLE PRECISION,
    "attribute_rsa" DOUBLE PRECISION,
    "concept_two_vs_two" DOUBLE PRECISION,
    "timings" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "probe_cell_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "probe_score" (
    "id" SERIAL NOT NULL,
    "cell_id" INTEGER NOT NULL,
    "attribute_id" INTEGER NOT NULL,
    "pearson_r" DOUBLE PRECISION NOT NULL,
    "r2" DOUBLE PRECISION NOT NULL,
    "two_vs_two" DOUBLE PRECISION NOT NULL,
    "alpha" DOUBLE PRECISION NOT NULL,
    "null_pearson_r" DOUBLE PRECISION,
    "null_r2" DOUBLE PRECISION,
    "null_two_vs_two" DOUBLE PRECISION,
    "p_value" DOUBLE PRECISION,
    "q_value" DOUBLE PRECISION,

    CONSTRAINT "probe_score_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "probe_group_score" (
    "id" SERIAL NOT NULL,
    "cell_id" INTEGER NOT NULL,
    "group_id" INTEGER NOT NULL,
    "metric" TEXT NOT NULL,
    "mean" DOUBLE PRECISION NOT NULL,
    "ci_low" DOUBLE PRECISION NOT NULL,
    "ci_high" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "probe_group_score_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "attribute_pair_score" (
    "id" SERIAL NOT NULL,
    "cell_id" INTEGER NOT NULL,
    "attribute_a_id" INTEGER NOT NULL,
    "attribute_b_id" INTEGER NOT NULL,
    "accuracy" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "attribute_pair_score_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "norms_dataset_name_version_key" ON "norms_dataset"("name", "version");

-- CreateIndex
CREATE UNIQUE INDEX "norms_dataset_name_content_hash_key" ON "norms_dataset"("name", "content_hash");

-- CreateIndex
CREATE UNIQUE INDEX "attribute_group_dataset_id_name_key" ON "attribute_group"("dataset_id", "name");

-- CreateIndex
CREATE INDEX "attribute_group_id_idx" ON "attribute"("group_id");

-- CreateIndex
CREATE UNIQUE INDEX "attribute_dataset_id_name_key" ON "attribute"("dataset_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "concept_word_key" ON "concept"("word");

-- CreateIndex
CREATE INDEX "dataset_concept_concept_id_idx" ON "dataset_concept"("concept_id");

-- CreateIndex
CREATE INDEX "rating_concept_id_idx" ON "rating"("concept_id");

-- CreateIndex
CREATE UNIQUE INDEX "model_name_key" ON "model"("name");

-- CreateIndex
CREATE UNIQUE INDEX "component_model_id_name_key" ON "component"("model_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "layer_component_id_index_key" ON "layer"("component_id", "index");

-- CreateIndex
CREATE UNIQUE INDEX "layer_component_id_name_key" ON "layer"("component_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "extraction_run_settings_hash_key" ON "extraction_run"("settings_hash");

-- CreateIndex
CREATE INDEX "extraction_run_model_id_idx" ON "extraction_run"("model_id");

-- CreateIndex
-- Hand-edited: NULLS NOT DISTINCT (PostgreSQL 15+) makes a NULL timestep (text encoder) one key,
-- so re-runs of the same summary or cell collide instead of duplicating. Prisma cannot express it.
CREATE UNIQUE INDEX "activation_summary_run_id_layer_id_timestep_pooling_concept_key" ON "activation_summary"("run_id", "layer_id", "timestep", "pooling", "concept_id") NULLS NOT DISTINCT;

-- CreateIndex
CREATE UNIQUE INDEX "probe_run_settings_hash_key" ON "probe_run"("settings_hash");

-- CreateIndex
CREATE INDEX "probe_run_extraction_run_id_idx" ON "probe_run"("extraction_run_id");

-- CreateIndex
CREATE INDEX "probe_run_dataset_id_idx" ON "probe_run"("dataset_id");

-- CreateIndex
CREATE INDEX "probe_cell_layer_id_idx" ON "probe_cell"("layer_id");

-- CreateIndex
CREATE UNIQUE INDEX "probe_cell_probe_run_id_layer_id_timestep_pooling_key" ON "probe_cell"("probe_run_id", "layer_id", "timestep", "pooling") NULLS NOT DISTINCT;

-- CreateIndex
CREATE INDEX "probe_score_grid_covering_idx" ON "probe_score"("attribute_id", "cell_id", "pearson_r", "r2", "two_vs_two", "null_pearson_r", "null_r2", "null_two_vs_two");

-- CreateIndex
CREATE UNIQUE INDEX "probe_score_cell_id_attribute_id_key" ON "probe_score"("cell_id", "attribute_id");

-- CreateIndex
CREATE UNIQUE INDEX "probe_group_score_cell_id_group_id_metric_key" ON "probe_group_score"("cell_id", "group_id", "metric");

-- CreateIndex
CREATE UNIQUE INDEX "attribute_pair_score_cell_id_attribute_a_id_attribute_b_id_key" ON "attribute_pair_score"("cell_id", "attribute_a_id", "attribute_b_id");

-- AddForeignKey
ALTER TABLE "attribute_group" ADD CONSTRAINT "attribute_group_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "norms_dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribute" ADD CONSTRAINT "attribute_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "norms_dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribute" ADD CONSTRAINT "attribute_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "attribute_group"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_concept" ADD CONSTRAINT "dataset_concept_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "norms_dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "dataset_concept" ADD CONSTRAINT "dataset_concept_concept_id_fkey" FOREIGN KEY ("concept_id") REFERENCES "concept"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rating" ADD CONSTRAINT "rating_attribute_id_fkey" FOREIGN KEY ("attribute_id") REFERENCES "attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rating" ADD CONSTRAINT "rating_concept_id_fkey" FOREIGN KEY ("concept_id") REFERENCES "concept"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "component" ADD CONSTRAINT "component_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "model"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "layer" ADD CONSTRAINT "layer_component_id_fkey" FOREIGN KEY ("component_id") REFERENCES "component"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "extraction_run" ADD CONSTRAINT "extraction_run_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "model"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "activation_summary" ADD CONSTRAINT "activation_summary_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "extraction_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "activation_summary" ADD CONSTRAINT "activation_summary_concept_id_fkey" FOREIGN KEY ("concept_id") REFERENCES "concept"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "activation_summary" ADD CONSTRAINT "activation_summary_layer_id_fkey" FOREIGN KEY ("layer_id") REFERENCES "layer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_run" ADD CONSTRAINT "probe_run_extraction_run_id_fkey" FOREIGN KEY ("extraction_run_id") REFERENCES "extraction_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_run" ADD CONSTRAINT "probe_run_dataset_id_fkey" FOREIGN KEY ("dataset_id") REFERENCES "norms_dataset"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_cell" ADD CONSTRAINT "probe_cell_probe_run_id_fkey" FOREIGN KEY ("probe_run_id") REFERENCES "probe_run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_cell" ADD CONSTRAINT "probe_cell_layer_id_fkey" FOREIGN KEY ("layer_id") REFERENCES "layer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_score" ADD CONSTRAINT "probe_score_cell_id_fkey" FOREIGN KEY ("cell_id") REFERENCES "probe_cell"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_score" ADD CONSTRAINT "probe_score_attribute_id_fkey" FOREIGN KEY ("attribute_id") REFERENCES "attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_group_score" ADD CONSTRAINT "probe_group_score_cell_id_fkey" FOREIGN KEY ("cell_id") REFERENCES "probe_cell"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "probe_group_score" ADD CONSTRAINT "probe_group_score_group_id_fkey" FOREIGN KEY ("group_id") REFERENCES "attribute_group"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribute_pair_score" ADD CONSTRAINT "attribute_pair_score_cell_id_fkey" FOREIGN KEY ("cell_id") REFERENCES "probe_cell"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribute_pair_score" ADD CONSTRAINT "attribute_pair_score_attribute_a_id_fkey" FOREIGN KEY ("attribute_a_id") REFERENCES "attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "attribute_pair_score" ADD CONSTRAINT "attribute_pair_score_attribute_b_id_fkey" FOREIGN KEY ("attribute_b_id") REFERENCES "attribute"("id") ON DELETE CASCADE ON UPDATE CASCADE;
