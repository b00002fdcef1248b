// The shape of an operation in one linear pass: depth, nesting, aliases, directives and whether it
// selects a heavy field, with fragments followed. Each fragment is measured ONCE and its measure
// reused at every spread (the old depth walk re-entered a fragment at each spread, so 24 levels of
// `fragment Fi on Query { ...Fi+1 ...Fi+1 }` took 2^24 steps): the cost is linear in the document.
// Counts that a fragment contributes per spread (aliases, directives) are multiplied, i.e. what the
// document would be with its fragments expanded; they may exceed 2^53 (or be Infinity) and still compare right.
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';

/** Root fields whose work grows with the data (grid SQL, dense assembly): admission control applies. */
export const HEAVY_FIELDS: ReadonlySet<string> = new Set(['grid', 'compareGrid', 'bestCells']);

export interface OperationMeasure {
  /** Fields nested, introspection (`__…`) fields not counted: `{ models { id } }` has depth 2. */
  depth: number;
  /** Fields, inline fragments and fragment spreads nested, introspection included. */
  nesting: number;
  /** Aliased fields, fragments expanded. */
  aliases: number;
  /** Directives on the operation, its selections and fragment definitions, fragments expanded. */
  directives: number;
  /** Whether a heavy field (HEAVY_FIELDS) is selected anywhere. */
  heavy: boolean;
}

const EMPTY: OperationMeasure = { depth: 0, nesting: 0, aliases: 0, directives: 0, heavy: false };

/**
 * `measure` of each fragment of the document, computed once whatever the number of spreads (the
 * linear-time mechanism shared by this file and cost.ts); an unknown fragment, or one met again
 * while it is being measured (a cycle, which validation refuses anyway), measures as `empty`.
 */
export function fragmentMeasures<T>(document: DocumentNode, measure: (fragment: FragmentDefinitionNode) => T, empty: T): (name: string) => T {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  // undefined: not measured yet; null: being measured.
  const memo = new Map<string, T | null>();
  return (name) => {
    const known = memo.get(name);
    if (known !== undefined) return known ?? empty;
    const fragment = fragments.get(name);
    if (!fragment) return empty;
    memo.set(name, null);
    const measured = measure(fragment);
    memo.set(name, measured);
    return measured;
  };
}

export function measureOperation(operation: OperationDefinitionNode, document: DocumentNode): OperationMeasure {
  const fragmentMeasure = fragmentMeasures(document, (fragment): OperationMeasure => {
    const inner = measureSet(fragment.selectionSet);
    return { ...inner, directives: inner.directives + (fragment.directives?.length ?? 0) };
  }, EMPTY);

  const measureSet = (selectionSet: SelectionSetNode): OperationMeasure => {
    const total = { ...EMPTY };
    for (const selection of selectionSet.selections) {
      total.directives += selection.directives?.length ?? 0;
      let inner: OperationMeasure;
      if (selection.kind === Kind.FIELD) {
        inner = selection.selectionSet ? measureSet(selection.selectionSet) : EMPTY;
        const name = selection.name.value;
        if (selection.alias) total.aliases += 1;
        if (HEAVY_FIELDS.has(name)) total.heavy = true;
        if (!name.startsWith('__')) total.depth = Math.max(total.depth, 1 + inner.depth);
        // Nesting counts introspection too (GraphiQL's query nests 18 levels): a bomb of inline
        // fragments inside `__schema` is refused like any other.
        total.nesting = Math.max(total.nesting, 1 + inner.nesting);
      } else {
        inner = selection.kind === Kind.INLINE_FRAGMENT ? measureSet(selection.selectionSet) : fragmentMeasure(selection.name.value);
        total.depth = Math.max(total.depth, inner.depth);
        total.nesting = Math.max(total.nesting, 1 + inner.nesting);
      }
      total.aliases += inner.aliases;
      total.directives += inner.directives;
      total.heavy ||= inner.heavy;
    }
    return total;
  };

  const measured = measureSet(operation.selectionSet);
  return { ...measured, directives: measured.directives + (operation.directives?.length ?? 0) };
}
