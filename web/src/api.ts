// The page's only way to the data: typed GraphQL over POST /graphql on this origin. A GraphQL or
// HTTP error becomes an ApiError carrying the API's `extensions.code` (docs/api.md "Errors"), so the
// page can say what went wrong instead of drawing an empty chart.

export const GRAPHQL_PATH = '/graphql';

export class ApiError extends Error {
  constructor(
    /** The API's error code (`BAD_USER_INPUT`, `SERVER_BUSY`…), or `NETWORK_ERROR` when no answer came. */
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Counts requests per view (the bench reads it from `window.__atlasRequests`). */
export const requestLog: Array<{ operation: string; ms: number }> = [];

export async function request<Data, Variables extends Record<string, unknown>>(
  document: string,
  variables: Variables,
  options: { signal?: AbortSignal } = {},
): Promise<Data> {
  const operation = /query\s+(\w+)/.exec(document)?.[1] ?? 'anonymous';
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(GRAPHQL_PATH, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ query: document, variables, operationName: operation }),
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError('NETWORK_ERROR', `The API at ${GRAPHQL_PATH} did not answer (${(error as Error).message}).`, 0);
  }
  requestLog.push({ operation, ms: performance.now() - started });
  let body: { data?: Data | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  try {
    body = await response.json();
  } catch {
    throw new ApiError('BAD_RESPONSE', `${operation}: the API answered HTTP ${response.status} without JSON.`, response.status);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.extensions?.code ?? 'UNKNOWN', `${operation}: ${first.message}`, response.status);
  if (!body.data) throw new ApiError('BAD_RESPONSE', `${operation}: the API answered HTTP ${response.status} without data.`, response.status);
  return body.data;
}

/** The playground at /graphql with this document and these variables in its editor. */
export function playgroundUrl(document: string, variables: Record<string, unknown>): string {
  const hash = new URLSearchParams({ query: dedent(document), variables: JSON.stringify(variables, null, 2) });
  return `${GRAPHQL_PATH}#${hash.toString()}`;
}

/** A document as shown to people: the template's common indentation removed. */
export function dedent(document: string): string {
  const lines = document.replace(/^\n+|\s+$/g, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim()).map((line) => /^ */.exec(line)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}
