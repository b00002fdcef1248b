// An estimate of how many response bytes one cell of a grid or comparison adds, from what the
// query selects under `cells` and `columns` (fragments followed): the operation's response budget
// (GRAPHQL_MAX_RESPONSE_BYTES) is checked with it as soon as a grid's dense size is known, before
// the cells are built. Deliberately generous: a number as JSON is taken as 24 characters.
import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

const NUMBER_WIDTH = 24;
/** `"key":` plus a comma. */
const keyWidth = (key: string) => key.length + 4;

/** Calls `visit` for every field of the selection set, inline fragments and fragment spreads followed. */
function eachField(
  selectionSet: SelectionSetNode | undefined,
  fragments: Record<string, FragmentDefinitionNode>,
  visit: (key: string, name: string, selectionSet: SelectionSetNode | undefined) => void,
): void {
  for (const selection of selectionSet?.selections ?? []) {
    if (selection.kind === Kind.FIELD) visit(selection.alias?.value ?? selection.name.value, selection.name.value, selection.selectionSet);
    else if (selection.kind === Kind.INLINE_FRAGMENT) eachField(selection.selectionSet, fragments, visit);
    else eachField(fragments[selection.name.value]?.selectionSet, fragments, visit);
  }
}

/** Bytes one cell adds to the response of the field being resolved (a Grid or a Comparison). */
export function bytesPerCell(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, dimensions: number): number {
  let bytes = 0;
  for (const node of info.fieldNodes) {
    eachField(node.selectionSet, info.fragments, (_key, name, selectionSet) => {
      if (name === 'cells') {
        bytes += 2; // the cell's braces
        eachField(selectionSet, info.fragments, (key, cellField) => {
          bytes += keyWidth(key) + (cellField === 'coordinates' ? 2 + dimensions * 8 : cellField === '__typename' ? 24 : NUMBER_WIDTH);
        });
      } else if (name === 'columns') {
        eachField(selectionSet, info.fragments, () => {
          bytes += NUMBER_WIDTH;
        });
      }
    });
  }
  return bytes;
}
