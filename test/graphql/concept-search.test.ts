// concepts(search:) cannot hold the pool: its text is bounded (a 900 KB pattern held a connection for
// 6 s, and twelve starved the 10-connection pool) and the substring match is served by a trigram index.
import { MAX_CONCEPT_SEARCH_LENGTH } from '../../src/db/catalogue.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { seedBinder } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedBinder(db.prisma, { concepts: 40, groups: ['Vision'] });
  api = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const SEARCH = `query S($search: String) { concepts(search: $search, first: 5) { totalCount edges { node { word } } } }`;

test('a search still finds words containing the text, case-insensitively', async () => {
  const { rows } = await db.pool.query<{ word: string }>(`SELECT word FROM concept ORDER BY word LIMIT 1`);
  const word = rows[0]!.word;
  const { status, body } = await api.graphql(SEARCH, { search: word.slice(1, 4).toUpperCase() });
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  expect(body.data.concepts.edges.map((edge: any) => edge.node.word)).toContain(word);
});

test(`a search of ${MAX_CONCEPT_SEARCH_LENGTH} characters is accepted, one more is BAD_USER_INPUT naming \`search\``, async () => {
  expect(MAX_CONCEPT_SEARCH_LENGTH).toBe(200);
  const atLimit = await api.graphql(SEARCH, { search: 'é'.repeat(MAX_CONCEPT_SEARCH_LENGTH) });
  expect(atLimit.body.errors).toBeUndefined();
  expect(atLimit.body.data.concepts.totalCount).toBe(0);
  const over = await api.graphql(SEARCH, { search: 'x'.repeat(MAX_CONCEPT_SEARCH_LENGTH + 1) });
  expect(over.status).toBe(200);
  expect(over.body.data).toBeNull();
  expect(over.body.errors).toEqual([
    expect.objectContaining({
      message: 'Argument `search` is 201 characters long; the maximum is 200.',
      path: ['concepts'],
      extensions: { code: 'BAD_USER_INPUT', argument: 'search' },
    }),
  ]);
});

test('characters are code points: 200 emoji (400 UTF-16 units) are accepted', async () => {
  const { body } = await api.graphql(SEARCH, { search: '🔨'.repeat(200) });
  expect(body.errors).toBeUndefined();
});

test('a 900 KB search is refused before it reaches the database', async () => {
  const statements: string[] = [];
  const query = db.pool.query.bind(db.pool);
  (db.pool as any).query = (...args: any[]) => {
    statements.push(String(typeof args[0] === 'string' ? args[0] : args[0]?.text));
    return (query as any)(...args);
  };
  try {
    const { body } = await api.graphql(SEARCH, { search: 'a'.repeat(900_000) });
    expect(body.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(statements.filter((text) => /FROM concept/.test(text))).toEqual([]);
  } finally {
    (db.pool as any).query = query;
  }
});

test('the substring match can use the trigram index (concept_word_trgm_idx)', async () => {
  const client = await db.pool.connect();
  try {
    await client.query('BEGIN');
    // A test database is too small for the planner to prefer an index on its own; forbid the scan.
    await client.query('SET LOCAL enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT c.id FROM concept c WHERE c.word ILIKE $1`, ['%ammer%']);
    expect(rows.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/concept_word_trgm_idx/);
    await client.query('ROLLBACK');
  } finally {
    client.release();
  }
});
