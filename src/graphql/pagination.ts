// Relay-style cursor connections over offset pages. Cursors are opaque (base64url of a versioned
// offset), so the encoding can move to keyset cursors later without breaking clients.
import { BadUserInputError } from './errors.ts';

export const DEFAULT_PAGE_SIZE = 50;

export interface PageArgs {
  first?: number | null;
  after?: string | null;
}

/** Rows to skip and rows to return. */
export interface Page {
  offset: number;
  limit: number;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  nodes: T[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  totalCount: number;
}

const CURSOR_PREFIX = 'o1:';

export function encodeCursor(offset: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${offset}`, 'utf8').toString('base64url');
}

/** Offset of the row a cursor points at; anything not made by encodeCursor is bad input naming `after`. */
export function decodeCursor(cursor: string, argument = 'after'): number {
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const match = /^o1:(0|[1-9][0-9]{0,9})$/.exec(text);
  if (!match) throw new BadUserInputError(argument, `is not a cursor of this API: ${JSON.stringify(cursor)}.`);
  return Number(match[1]);
}

export function defaultPageSize(maxPageSize: number): number {
  return Math.min(DEFAULT_PAGE_SIZE, maxPageSize);
}

/** Validates `first` (0..maxPageSize, `argument` names it in errors) and `after`. */
export function parsePageArgs(args: PageArgs, maxPageSize: number, argument = 'first'): Page {
  const { first, after } = args;
  if (first !== null && first !== undefined && (first < 0 || first > maxPageSize)) {
    throw new BadUserInputError(argument, `must be between 0 and ${maxPageSize}, got ${first}.`);
  }
  const offset = after === null || after === undefined ? 0 : decodeCursor(after) + 1;
  return { offset, limit: first ?? defaultPageSize(maxPageSize) };
}

export function toConnection<T>(nodes: T[], totalCount: number, page: Page): Connection<T> {
  const edges = nodes.map((node, index) => ({ cursor: encodeCursor(page.offset + index), node }));
  return {
    edges,
    nodes,
    pageInfo: {
      hasNextPage: page.offset + nodes.length < totalCount,
      hasPreviousPage: page.offset > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount,
  };
}
