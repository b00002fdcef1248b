// The SDL's `enum ErrorCode` is exactly the set of codes the server can send, both ways: every SDL
// value is the TS enum's and is raised by our code or sent by Apollo Server (shown here by a real
// request for each of Apollo's), and every code our code raises or Apollo can send is in the SDL.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ApolloServerErrorCode, ApolloServerValidationErrorCode } from '@apollo/server/errors';
import type { GraphQLEnumType } from 'graphql';
import { PROJECT_ROOT } from '../../src/config.ts';
import { createExecutableSchema } from '../../src/graphql/apollo.ts';
import { ErrorCode } from '../../src/graphql/errors.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

const sdlCodes = (createExecutableSchema().getType('ErrorCode') as GraphQLEnumType).getValues().map((value) => value.name).sort();

/**
 * Apollo codes this server never sends, with the reason: APQ is on (so not "unsupported"),
 * introspection is on, and the recursive-selection rule is not enabled.
 */
const APOLLO_NEVER_SENT: Record<string, string> = {
  [ApolloServerErrorCode.PERSISTED_QUERY_NOT_SUPPORTED]: 'automatic persisted queries are enabled (Apollo default)',
  [ApolloServerValidationErrorCode.INTROSPECTION_DISABLED]: 'introspection is enabled (src/graphql/apollo.ts)',
  [ApolloServerValidationErrorCode.MAX_RECURSIVE_SELECTIONS_EXCEEDED]: 'maxRecursiveSelections is not set',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return name === 'generated' ? [] : sourceFiles(file);
    return file.endsWith('.ts') ? [file] : [];
  });
}

/** Codes our own code raises: `ErrorCode.X` outside the enum's declaration, in every source file. */
const raisedByUs = new Set(
  sourceFiles(path.join(PROJECT_ROOT, 'src')).flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/\bErrorCode\.([A-Z_]+)\b/g)].map((m) => m[1]!)),
);

let db: TestDatabase;
let api: TestApi;
beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

async function post(body: unknown): Promise<{ status: number; code: string | undefined }> {
  const response = await fetch(api.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
  return { status: response.status, code: json.errors?.[0]?.extensions?.code };
}

test('the SDL enum and the TS enum hold the same codes', () => {
  expect(sdlCodes).toEqual(Object.values(ErrorCode).sort());
});

test("every code Apollo Server can send is in the SDL, except the ones this configuration rules out", () => {
  const apollo = [...Object.values(ApolloServerErrorCode), ...Object.values(ApolloServerValidationErrorCode)];
  expect(apollo.filter((code) => !(code in APOLLO_NEVER_SENT) && !sdlCodes.includes(code))).toEqual([]);
  expect(sdlCodes.filter((code) => code in APOLLO_NEVER_SENT)).toEqual([]);
});

test('every SDL code is raised by our code or is one Apollo sends', () => {
  const apollo = new Set<string>(Object.values(ApolloServerErrorCode));
  expect(sdlCodes.filter((code) => !raisedByUs.has(code) && !apollo.has(code))).toEqual([]);
  expect([...raisedByUs].filter((code) => !sdlCodes.includes(code))).toEqual([]);
});

test.each([
  ['GRAPHQL_PARSE_FAILED', { query: '{ models { ' }],
  ['GRAPHQL_VALIDATION_FAILED', { query: '{ nope }' }],
  ['BAD_USER_INPUT', { query: 'query($id: ID!) { model(id: $id) { name } }', variables: {} }],
  ['BAD_REQUEST', { variables: {} }],
  ['OPERATION_RESOLUTION_FAILURE', { query: 'query A { models { name } } query B { models { id } }' }],
  ['PERSISTED_QUERY_NOT_FOUND', { extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }],
])('Apollo sends %s, and it is in the SDL', async (code, body) => {
  expect(sdlCodes).toContain(code);
  expect((await post(body)).code).toBe(code);
});
