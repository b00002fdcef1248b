// Estimated cost of an operation: every field costs 1 plus its children; a connection (a type named
// `…Connection`) costs 1 + page size × its children, the page size being its `first` (or the default).
// Linear in the document: each fragment is costed once (its type condition fixes its parent type) and
// its cost reused at every spread. graphql-query-complexity expanded every spread again, so a
// fragment bomb took exponential time before it was refused; the sum below is the same model with
// fragments expanded (a fragment spread twice costs twice), so bombs come out huge and are refused.
import {
  getNamedType,
  isCompositeType,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  type DocumentNode,
  type FieldNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { defaultPageSize } from '../pagination.ts';
import { fragmentMeasures } from './measure.ts';

function fieldDefinition(schema: GraphQLSchema, parent: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
  if (name === '__typename') return TypeNameMetaFieldDef;
  if (parent === schema.getQueryType()) {
    if (name === '__schema') return SchemaMetaFieldDef;
    if (name === '__type') return TypeMetaFieldDef;
  }
  return parent && 'getFields' in parent ? (parent.getFields() as Record<string, GraphQLField<unknown, unknown>>)[name] : undefined;
}

/** The connection's `first`: a literal, a (coerced) variable, the SDL default, else the server's default page size. */
function pageSize(field: GraphQLField<unknown, unknown>, node: FieldNode, variables: Record<string, unknown>, maxPageSize: number): number {
  const argument = node.arguments?.find((candidate) => candidate.name.value === 'first');
  let first: unknown;
  if (argument?.value.kind === Kind.INT) first = Number(argument.value.value);
  else if (argument?.value.kind === Kind.VARIABLE) first = variables[argument.value.name.value];
  else if (!argument) first = field.args.find((arg) => arg.name === 'first')?.defaultValue;
  const size = typeof first === 'number' ? first : defaultPageSize(maxPageSize);
  // Out-of-range `first` is rejected by the resolver with BAD_USER_INPUT naming it; cost it within range.
  return Math.max(0, Math.min(size, maxPageSize));
}

export function operationCost(options: {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Coerced variable values. */
  variables?: Record<string, unknown>;
  maxPageSize: number;
}): number {
  const { schema, maxPageSize } = options;
  const variables = options.variables ?? {};
  const fragmentCost = fragmentMeasures(options.document, (fragment) => costOf(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value)), 0);

  const costOf = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        total += fragmentCost(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += costOf(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent);
      } else {
        const field = fieldDefinition(schema, parent, selection.name.value);
        const type = field ? getNamedType(field.type) : undefined;
        const children = selection.selectionSet ? costOf(selection.selectionSet, type && isCompositeType(type) ? type : undefined) : 0;
        total += field && type?.name.endsWith('Connection') ? 1 + pageSize(field, selection, variables, maxPageSize) * children : 1 + children;
      }
    }
    return total;
  };

  const root = options.operation.operation === 'query' ? schema.getQueryType() : options.operation.operation === 'mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  return costOf(options.operation.selectionSet, root ?? undefined);
}
