// Schema-first: the SDL files in schema/ are the contract; resolvers are attached to the built schema
// and every resolver must name a type and field the SDL declares (a typo fails at start-up).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  buildASTSchema,
  concatAST,
  GraphQLObjectType,
  GraphQLScalarType,
  parse,
  type DocumentNode,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
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
/** Resolver map: object types → field resolvers, scalars → implementations. Enums resolve to their names. */
export type ResolverMap = Record<string, FieldResolvers | GraphQLScalarType>;

export function buildExecutableSchema(typeDefs: DocumentNode, resolvers: ResolverMap): GraphQLSchema {
  const schema = buildASTSchema(typeDefs);
  for (const [typeName, implementation] of Object.entries(resolvers)) {
    const type = schema.getType(typeName);
    if (!type) throw new Error(`Resolvers given for type ${typeName}, which the schema does not declare.`);
    if (type instanceof GraphQLScalarType) {
      if (!(implementation instanceof GraphQLScalarType)) throw new Error(`Scalar ${typeName} needs a GraphQLScalarType.`);
      type.serialize = implementation.serialize;
      type.parseValue = implementation.parseValue;
      type.parseLiteral = implementation.parseLiteral;
    } else if (type instanceof GraphQLObjectType) {
      const fields = type.getFields();
      for (const [fieldName, resolve] of Object.entries(implementation as FieldResolvers)) {
        const field = fields[fieldName];
        if (!field) throw new Error(`Resolver given for ${typeName}.${fieldName}, which the schema does not declare.`);
        field.resolve = resolve;
      }
    } else {
      throw new Error(`Type ${typeName} cannot take resolvers.`);
    }
  }
  return schema;
}
