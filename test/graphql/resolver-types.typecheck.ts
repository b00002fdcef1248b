// Type-level test of the generated resolver types (src/graphql/generated/resolvers-types.ts): each
// `@ts-expect-error` below is a resolver the SDL refuses, so `tsc --noEmit` (the first step of
// `npm test`) fails if the types ever stop refusing it ("Unused '@ts-expect-error' directive"), and
// the correct resolvers beside them must still compile. Not run by jest (no `.test.ts`): tsc checks it.
import type { Resolvers } from '../../src/graphql/generated/resolvers-types.ts';
import { resolveLimits } from '../../src/graphql/limits/resolve.ts';

export const correct = {
  Query: {
    apiLimits: (_parent, _args, { config }) => ({ ...resolveLimits(config.limits), defaultPageSize: 50 }),
    models: (_parent, _args, { db }) => db.prisma.model.findMany(),
    concepts: (_parent, args) => {
      const normsDatasetId: string | null | undefined = args.normsDatasetId;
      void normsDatasetId;
      return { edges: [], nodes: [], pageInfo: { hasNextPage: false, hasPreviousPage: false }, totalCount: 0 };
    },
  },
  Model: { kindLabel: (model) => model.kind },
  Run: { __resolveType: (run) => ('cvScheme' in run ? 'ProbeRun' : 'ExtractionRun') },
} satisfies Resolvers;

export const wrongResultShape = {
  Query: {
    // @ts-expect-error ApiLimits.maxDepth is an Int!, not a string (and the other limits are missing).
    apiLimits: () => ({ maxDepth: 'deep' }),
  },
} satisfies Resolvers;

export const wrongMappedResult = {
  Query: {
    // @ts-expect-error a Model's resolvers receive the Prisma row (parents.ts ModelParent), not any object.
    models: () => [{ id: 1 }],
  },
} satisfies Resolvers;

export const nullForNonNull = {
  Model: {
    // @ts-expect-error Model.kindLabel is String!: null is refused.
    kindLabel: () => null,
  },
} satisfies Resolvers;

export const undeclaredArgument = {
  Query: {
    concepts: (_parent, args) => {
      // @ts-expect-error `datasetId` is the pre-v1 name: Query.concepts declares `normsDatasetId`.
      void args.datasetId;
      return { edges: [], nodes: [], pageInfo: { hasNextPage: false, hasPreviousPage: false }, totalCount: 0 };
    },
  },
} satisfies Resolvers;

export const wrongParentField = {
  // @ts-expect-error a Model row has no `modelKind` (the parent is typed by the mapper).
  Model: { kindLabel: (model) => model.modelKind },
} satisfies Resolvers;

export const enumArgumentValues = {
  Query: {
    grid: (_parent, { input }) => {
      // @ts-expect-error `metric` arrives as the enum value's name (PEARSON_R), never the stored 'pearson_r'.
      if (input.metric === 'pearson_r') throw new Error('unreachable');
      throw new Error('not a real resolver');
    },
  },
} satisfies Resolvers;

export const missingEnumValue = {
  // @ts-expect-error every Pooling value needs its stored spelling (enum-values.ts); WORD and the others are missing.
  Pooling: { EOT: 'eot' },
} satisfies Resolvers;

export const unknownImplementation = {
  // @ts-expect-error a Run is an ExtractionRun or a ProbeRun; Model does not implement Run.
  Run: { __resolveType: () => 'Model' },
} satisfies Resolvers;
