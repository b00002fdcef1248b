-- concepts(search:) is a case-insensitive substring match (word ILIKE '%text%'): a trigram GIN index
-- serves it without reading every word. pg_trgm ships with PostgreSQL (contrib) and is a trusted
-- extension, so the database owner may create it; Prisma does not manage extensions here (no
-- postgresqlExtensions preview feature), so the CREATE EXTENSION line is hand-written and
-- `prisma migrate diff` stays empty.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- CreateIndex
CREATE INDEX "concept_word_trgm_idx" ON "concept" USING GIN ("word" gin_trgm_ops);
