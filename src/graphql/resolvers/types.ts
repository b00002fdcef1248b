// Resolver signatures come from the SDL (src/graphql/generated/resolvers-types.ts, `npm run codegen`):
// each module's map `satisfies` the generated `XResolvers` of its types, so a resolver that returns the
// wrong shape, reads an argument the SDL does not declare or takes the wrong parent fails `tsc`.
// What is left here: the shapes the lookup helpers share.
import type { ApiContext } from '../context.ts';
import type { ResolverFn } from '../generated/resolvers-types.ts';
import type { PageArgs } from '../pagination.ts';

/** One resolver function in the generated types' shape (for helpers that build fields). */
export type Resolver<Parent, Args, Result> = ResolverFn<Result, Parent, ApiContext, Args>;

/** The arguments of every connection field (`first`, `after`). */
export type ConnectionArgs = PageArgs;

export interface IdArgs {
  id: string;
}
