// Depth, nesting, alias, directive, token and cost limits reject abusive operations before
// execution, with codes and HTTP 400, in time linear in the document.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { getIntrospectionQuery, getOperationAST, parse } from 'graphql';
import { loadConfig, PROJECT_ROOT } from '../../src/config.ts';
import { resolveLimits } from '../../src/graphql/limits/resolve.ts';
import { loadExamples } from '../../src/graphql/playground/examples.ts';
import { createExecutableSchema } from '../../src/graphql/apollo.ts';
import { operationCost } from '../../src/graphql/limits/cost.ts';
import { measureOperation } from '../../src/graphql/limits/measure.ts';
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

test('the only mutations are the control ones; a subscription on /graphql is refused, pointing to /graphql/stream', async () => {
  const { body } = await api.graphql(`{ __schema { mutationType { name fields { name } } subscriptionType { name } } }`);
  expect(body.data.__schema).toEqual({ mutationType: { name: 'Mutation', fields: [{ name: 'cancelRun' }, { name: 'retryRun' }] }, subscriptionType: { name: 'Subscription' } });
  const attempt = await api.graphql(`mutation { anything }`);
  expect(attempt.status).toBe(400);
  expect(attempt.body.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
  const subscription = await api.graphql(`subscription { runProgress(probeRunId: "1") { jobs { jobCount } } }`);
  expect(subscription.status).toBe(400);
  expect(subscription.body.errors![0]!.extensions!.code).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(subscription.body.errors![0]!.message).toMatch(/Server-Sent Events at \/graphql\/stream/);
});

test('variables that do not coerce are BAD_USER_INPUT with HTTP 400, not a cost failure', async () => {
  const wrongType = await api.graphql(`query($n: Int) { concepts(first: $n) { totalCount } }`, { n: 'ten' });
  expect(wrongType.status).toBe(400);
  expect(wrongType.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  expect(wrongType.body.errors![0]!.message).toMatch(/\$n/);
  const wrongEnum = await api.graphql(`query($s: RunStatus) { extractionRuns(status: $s) { totalCount } }`, { s: 'DONE' });
  expect(wrongEnum.status).toBe(400);
  expect(wrongEnum.body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
  expect(wrongEnum.body.errors![0]!.message).toMatch(/DONE/);
});

test('a document of more tokens than GRAPHQL_MAX_TOKENS is QUERY_TOO_LARGE, refused by the parser', async () => {
  const fields = Array.from({ length: 10_001 }, (_, i) => `a${i}: apiLimits { maxCost }`).join(' ');
  const { status, body } = await api.graphql(`{ ${fields} }`);
  expect(status).toBe(400);
  expect(body.data).toBeUndefined();
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_LARGE', limit: 'GRAPHQL_MAX_TOKENS', max: 5_000 });
  expect(body.errors![0]!.message).toMatch(/GRAPHQL_MAX_TOKENS/);
});

/** `levels` levels of `fragment Fi on Query { ...Fi+1 ...Fi+1 }`: 2^levels copies of the last fragment once expanded. */
function fragmentBomb(levels: number): string {
  const lines = ['query Bomb { ...F0 }'];
  for (let i = 0; i < levels; i++) lines.push(`fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  lines.push(`fragment F${levels} on Query { apiLimits { maxCost } }`);
  return lines.join('\n');
}

// The old depth and cost walks re-entered every fragment at each spread: 24 levels froze the event
// loop for ~25 s, 60 levels would never finish (and these tests would time out). 60 levels also
// nest deeper than GRAPHQL_MAX_NESTING, which refuses them first.
test.each([
  [24, 'QUERY_TOO_COSTLY'],
  [60, 'QUERY_TOO_DEEP'],
])('a %i-level fragment bomb is refused with %s before execution', async (levels, code) => {
  const { status, body } = await api.graphql(fragmentBomb(levels));
  expect(status).toBe(400);
  expect(body.data).toBeUndefined();
  expect(body.errors![0]!.extensions!.code).toBe(code);
});

test('the cost and shape of a 60-level fragment bomb are computed once per fragment (exact, no expansion)', () => {
  const schema = createExecutableSchema();
  const document = parse(fragmentBomb(60));
  const operation = getOperationAST(document)!;
  // 2^60 copies of `apiLimits { maxCost }`, 2 each.
  expect(operationCost({ schema, document, operation, maxPageSize: 100 })).toBe(2 ** 61);
  expect(measureOperation(operation, document)).toEqual({ depth: 2, nesting: 63, aliases: 0, directives: 0, heavy: false });
});

test('nested inline fragments: 1,000 levels are refused by the token limit, 40 by the nesting limit, even under __schema', async () => {
  const nested = (levels: number, type: string, inner: string) => `... on ${type} { `.repeat(levels) + inner + ' }'.repeat(levels);
  const thousand = await api.graphql(`{ ${nested(1000, 'Query', 'apiLimits { maxCost }')} }`);
  expect(thousand.status).toBe(400);
  expect(thousand.body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_LARGE', limit: 'GRAPHQL_MAX_TOKENS' });
  for (const query of [`{ ${nested(40, 'Query', 'apiLimits { maxCost }')} }`, `{ __schema { ${nested(40, '__Schema', 'queryType { name }')} } }`]) {
    const { status, body } = await api.graphql(query);
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_DEEP', limit: 'GRAPHQL_MAX_NESTING', maxNesting: 30 });
  }
});

test('aliases and directives are counted with fragments expanded (QUERY_TOO_LARGE naming the limit)', async () => {
  // 8 aliases in a fragment spread 8 times: 64 > 50, though the document holds only 8.
  const aliases = await api.graphql(`{ ...A ...A ...A ...A ...A ...A ...A ...A }
    fragment A on Query { ${Array.from({ length: 8 }, (_, i) => `l${i}: apiLimits { maxCost }`).join(' ')} }`);
  expect(aliases.status).toBe(400);
  expect(aliases.body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_LARGE', limit: 'GRAPHQL_MAX_ALIASES', count: 64, max: 50 });
  const directives = await api.graphql(`{ apiLimits { ${Array.from({ length: 51 }, () => 'maxCost @include(if: true)').join(' ')} } }`);
  expect(directives.status).toBe(400);
  expect(directives.body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_LARGE', limit: 'GRAPHQL_MAX_DIRECTIVES', count: 51, max: 50 });
  const within = await api.graphql(`{ ${Array.from({ length: 50 }, (_, i) => `l${i}: apiLimits { maxCost @include(if: true) }`).join(' ')} }`);
  expect(within.status).toBe(200);
  expect(within.body.errors).toBeUndefined();
});

test('apiLimits tells clients every budget', async () => {
  const { body } = await api.graphql(`{ apiLimits { maxTokens maxAliases maxDirectives maxNesting maxGridCells maxOperationCells maxResponseBytes } }`);
  expect(body.data.apiLimits).toEqual({
    maxTokens: 5_000, maxAliases: 50, maxDirectives: 50, maxNesting: 30, maxGridCells: 100_000, maxOperationCells: 200_000, maxResponseBytes: 64 * 1024 * 1024,
  });
});

test('every documented and playground example, and GraphiQL introspection, is within every default limit', () => {
  const schema = createExecutableSchema();
  const defaults = resolveLimits(loadConfig({}).limits);
  const docs = ['README.md', ...readdirSync(path.join(PROJECT_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
    .flatMap((file) => [...readFileSync(path.join(PROJECT_ROOT, file), 'utf8').matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!));
  const sources = [...docs, ...loadExamples().map((example) => example.query), getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true })];
  expect(sources.length).toBeGreaterThanOrEqual(6);
  for (const source of sources) {
    const document = parse(source, { maxTokens: defaults.maxTokens });
    for (const operation of document.definitions.filter((d) => d.kind === 'OperationDefinition')) {
      const measured = measureOperation(operation, document);
      expect(measured.depth).toBeLessThanOrEqual(defaults.maxDepth);
      expect(measured.nesting).toBeLessThanOrEqual(defaults.maxNesting);
      expect(measured.aliases).toBeLessThanOrEqual(defaults.maxAliases);
      expect(measured.directives).toBeLessThanOrEqual(defaults.maxDirectives);
      expect(operationCost({ schema, document, operation, maxPageSize: defaults.maxPageSize })).toBeLessThanOrEqual(defaults.maxCost);
    }
  }
});
