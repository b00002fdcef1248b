// Schema-first: the SDL files in schema/ are the contract. The executable schema is built by
// @graphql-tools/schema from them and the resolver map: every resolver must name a type and field
// the SDL declares (a typo fails at start-up), and enums may map their values to the stored ones.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { concatAST, parse, type DocumentNode, type GraphQLFieldResolver, type GraphQLScalarType, type GraphQLSchema } from 'graphql';
import { PROJECT_ROOT } from '../config.ts';

export const SCHEMA_DIR = path.join(PROJECT_ROOT, 'schema');

/** True when an SDL file holds nothing but comments and whitespace (e.g. a placeholder). */
function isEmptySdl(source: string): boolean {
  return source.replace(/#[^\n\r]*/g, '').trim() === '';
}

/** Every non-empty `*.graphql` file of `dir`, parsed, in file-name order (common.graphql first). */
export function loadTypeDefs(dir = SCHEMA_DIR): DocumentNode {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.graphql'))
    .sort((a, b) => (a === 'common.graphql' ? -1 : b === 'common.graphql' ? 1 : a.localeCompare(b)));
  const documents = files.flatMap((name) => {
    const source = readFileSync(path.join(dir, name), 'utf8');
    return isEmptySdl(source) ? [] : [parse(source, { noLocation: false })];
  });
  return concatAST(documents);
}

type FieldResolvers = Record<string, GraphQLFieldResolver<any, any, any> | undefined>;
/** Internal values of an enum's values (e.g. `EOT: 'eot'`): what resolvers return and arguments carry. */
type EnumValues = Record<string, string>;
/** A union's or interface's `__resolveType`. */
type TypeResolver = { __resolveType: (value: any) => string };
/** Resolver map: object types → field resolvers, scalars → implementations, enums → internal values. */
export type ResolverMap = Record<string, FieldResolvers | GraphQLScalarType | EnumValues | TypeResolver>;

export function buildExecutableSchema(typeDefs: DocumentNode, resolvers: ResolverMap): GraphQLSchema {
  return makeExecutableSchema({
    typeDefs,
    resolvers: resolvers as Parameters<typeof makeExecutableSchema>[0]['resolvers'],
    resolverValidationOptions: { requireResolversToMatchSchema: 'error', requireResolversForResolveType: 'error' },
  });
}
