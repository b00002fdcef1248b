// Depth and cost limits reject abusive operations before execution, with codes and HTTP 400.
import { getIntrospectionQuery } from 'graphql';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seedBinder } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;
const LIMITS = { maxDepth: 6, maxCost: 1_000, maxPageSize: 100 };

beforeAll(async () => {
  db = await createTestDatabase();
  await seedBinder(db.prisma, { concepts: 2, groups: ['Vision'] });
  api = await startTestApi(db, { limits: LIMITS });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

// Depth 6: models(1) components(2) model(3) components(4) layers(5) id(6).
const DEPTH_6 = `{ models { components { model { components { layers { id } } } } } }`;
const DEPTH_7 = `{ models { components { model { components { layers { component { id } } } } } } }`;

test('a query at the depth limit runs', async () => {
  const { status, body } = await api.graphql(DEPTH_6);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
});

test('one level deeper is QUERY_TOO_DEEP, HTTP 400, nothing executed', async () => {
  const { status, body } = await api.graphql(DEPTH_7);
  expect(status).toBe(400);
  expect(body.data).toBeUndefined();
  expect(body.errors).toHaveLength(1);
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_DEEP', depth: 7, maxDepth: 6 });
  expect(body.errors![0]!.message).toBe('Query depth 7 exceeds the maximum of 6.');
});

test('depth hidden in fragments counts too', async () => {
  const { body } = await api.graphql(`
    query { models { ...M } }
    fragment M on Model { components { model { components { ... on Component { layers { component { id } } } } } } }`);
  expect(body.errors![0]!.extensions!.code).toBe('QUERY_TOO_DEEP');
});

test('the introspection query GraphiQL sends is not limited by depth', async () => {
  const { status, body } = await api.graphql(getIntrospectionQuery());
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  expect(body.data.__schema.queryType.name).toBe('Query');
});

test('connections cost their page size times their children: within budget runs', async () => {
  // 1 (concepts) + 10 × (1 nodes + 1 word + 1 ratings + 10 × (nodes + value)) ≈ 231
  const { status, body } = await api.graphql(`{ concepts(first: 10) { nodes { word ratings(first: 10) { nodes { value } } } } }`);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
});

test('the same shape with bigger pages is QUERY_TOO_COSTLY, before execution', async () => {
  const { status, body } = await api.graphql(`{ concepts(first: 100) { nodes { word ratings(first: 100) { nodes { value } } } } }`);
  expect(status).toBe(400);
  expect(body.data).toBeUndefined();
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', maxCost: 1_000 });
  expect(body.errors![0]!.extensions!.cost).toBeGreaterThan(1_000);
  expect(body.errors![0]!.message).toMatch(/`first`/);
});

test('page sizes given as variables are costed too', async () => {
  const query = `query($n: Int) { concepts(first: $n) { nodes { ratings(first: $n) { nodes { value } } } } }`;
  expect((await api.graphql(query, { n: 5 })).status).toBe(200);
  const costly = await api.graphql(query, { n: 100 });
  expect(costly.body.errors![0]!.extensions!.code).toBe('QUERY_TOO_COSTLY');
});

test('syntax and schema errors carry their own codes', async () => {
  const parse = await api.graphql(`{ models { `);
  expect(parse.status).toBe(400);
  expect(parse.body.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
  const validation = await api.graphql(`{ models { noSuchField } }`);
  expect(validation.status).toBe(400);
  expect(validation.body.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
});

test('the API is read-only: there is no mutation type', async () => {
  const { body } = await api.graphql(`{ __schema { mutationType { name } subscriptionType { name } } }`);
  expect(body.data.__schema).toEqual({ mutationType: null, subscriptionType: null });
  const attempt = await api.graphql(`mutation { anything }`);
  expect(attempt.status).toBe(400);
  expect(attempt.body.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(attempt.body.errors![0]!.message).toMatch(/read-only/);
});

test('variables that do not coerce are BAD_USER_INPUT with HTTP 400, not a cost failure', async () => {
  const wrongType = await api.graphql(`query($n: Int) { concepts(first: $n) { totalCount } }`, { n: 'ten' });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  expect(wrongType.body.errors![0]!.message).toMatch(/\$n/);
  const wrongEnum = await api.graphql(`query($s: RunStatus) { extractionRuns(status: $s) { id } }`, { s: 'DONE' });
  expect(wrongEnum.status).toBe(400);
  expect(wrongEnum.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  expect(wrongEnum.body.errors![0]!.message).toMatch(/DONE/);
});

test('a document too large to cost is QUERY_TOO_COSTLY', async () => {
  const fields = Array.from({ length: 10_001 }, (_, i) => `a${i}: apiLimits { maxCost }`).join(' ');
  const { status, body } = await api.graphql(`{ ${fields} }`);
  expect(status).toBe(400);
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', cost: null });
});
