-- The optional declared rating scale of a norms dataset (dataset.json). Both bounds or neither;
-- the import refuses values outside them, so every stored rating lies within its dataset's scale.
-- AlterTable
ALTER TABLE "norms_dataset" ADD COLUMN     "scale_max" DOUBLE PRECISION,
ADD COLUMN     "scale_min" DOUBLE PRECISION;
