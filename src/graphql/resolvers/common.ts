// Scalars and the API's self-description.
import { DateTimeScalar, JSONScalar } from '../scalars.ts';
import { defaultPageSize } from '../pagination.ts';
import { resolveLimits } from '../limits/resolve.ts';
import type { Resolvers } from '../generated/resolvers-types.ts';

export const commonResolvers = {
  JSON: JSONScalar,
  DateTime: DateTimeScalar,
  Query: {
    apiLimits: (_parent, _args, { config }) => ({
      ...resolveLimits(config.limits),
      defaultPageSize: defaultPageSize(config.limits.maxPageSize),
    }),
  },
} satisfies Resolvers;
