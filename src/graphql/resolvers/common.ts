// Scalars and the API's self-description.
import { DateTimeScalar, JSONScalar } from '../scalars.ts';
import { defaultPageSize } from '../pagination.ts';
import type { Resolver } from './types.ts';

export const commonResolvers = {
  JSON: JSONScalar,
  DateTime: DateTimeScalar,
  Query: {
    apiLimits: ((_parent, _args, { config }) => ({
      ...config.limits,
      defaultPageSize: defaultPageSize(config.limits.maxPageSize),
    })) satisfies Resolver<unknown>,
  },
};
