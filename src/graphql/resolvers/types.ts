// Resolver signatures typed by parent, arguments and result (parents are Prisma rows or SQL rows).
import type { GraphQLResolveInfo } from 'graphql';
import type { ApiContext } from '../context.ts';

export type Resolver<Parent, Args = Record<string, never>, Result = unknown> = (
  parent: Parent,
  args: Args,
  context: ApiContext,
  info: GraphQLResolveInfo,
) => Result | Promise<Result>;

/** The fields of one GraphQL object type whose parent value is `Parent`. */
export type TypeResolvers<Parent> = Record<string, Resolver<Parent, any, unknown>>;

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
}

export interface IdArgs {
  id: string;
}
