// Prisma CLI configuration. The schema engine is the WebAssembly build wrapped by
// scripts/schema-engine-shim.mjs, so `prisma migrate …` works with no native binary download;
// a user who prefers the native engine sets PRISMA_SCHEMA_ENGINE_BINARY themselves.
import path from 'node:path';
import { defineConfig } from 'prisma/config';

process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.resolve(import.meta.dirname, 'scripts/schema-engine-shim.mjs');

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    // Only the migrate commands need a URL; `prisma generate` (run on install) must work without one.
    url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/probe_atlas',
  },
});
