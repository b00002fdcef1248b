// All resolver modules merged into one map: object types' fields are combined (each domain extends Query).
// Each module is typed by the generated `Resolvers` (src/graphql/generated/resolvers-types.ts).
import type { Resolvers } from '../generated/resolvers-types.ts';
import type { ResolverMap } from '../schema.ts';
import { catalogueResolvers } from './catalogue.ts';
import { cellMatrixResolvers } from './cell-matrices.ts';
import { commonResolvers } from './common.ts';
import { enumResolvers } from './enums.ts';
import { gridResolvers } from './grid.ts';
import { jobsResolvers } from './jobs.ts';
import { runsResolvers } from './runs.ts';

export function mergeResolvers(...modules: Resolvers[]): ResolverMap {
  const merged: Record<string, any> = {};
  for (const module of modules) {
    for (const [typeName, implementation] of Object.entries(module)) {
      const existing = merged[typeName];
      if (existing === undefined) {
        merged[typeName] = implementation;
      } else {
        for (const field of Object.keys(implementation)) {
          if (field in existing) throw new Error(`Two resolver modules define ${typeName}.${field}.`);
        }
        merged[typeName] = { ...existing, ...implementation };
      }
    }
  }
  return merged;
}

export const resolvers: ResolverMap = mergeResolvers(commonResolvers, enumResolvers, catalogueResolvers, runsResolvers, cellMatrixResolvers, gridResolvers, jobsResolvers);
