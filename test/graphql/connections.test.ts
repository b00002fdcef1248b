// Cursor connections: pages, totalCount, pageInfo, opaque cursors, scoping, and bad arguments.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seedBinder, type SeededDataset } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;
let binder: SeededDataset;
const MAX_PAGE = 7;

beforeAll(async () => {
  db = await createTestDatabase();
  binder = await seedBinder(db.prisma, { concepts: 12, groups: ['Vision', 'Audition'] });
  // A concept outside the dataset: unscoped listings include it, scoped ones do not.
  await db.prisma.concept.create({ data: { word: 'zzz-outside' } });
  api = await startTestApi(db, { limits: { maxDepth: 10, maxCost: 50_000, maxPageSize: MAX_PAGE } });
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

const CONCEPTS = `query($first: Int, $after: String, $normsDatasetId: ID, $search: String) {
  concepts(first: $first, after: $after, normsDatasetId: $normsDatasetId, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor category node { word } }
    nodes { word }
  }
}`;

test('walking the pages with endCursor visits every concept once, in word order', async () => {
  const seen: string[] = [];
  let after: string | null = null;
  let pages = 0;
  for (;;) {
    const response: { body: any } = await api.graphql(CONCEPTS, { first: 5, after });
    expect(response.body.errors).toBeUndefined();
    const connection: any = response.body.data.concepts;
    expect(connection.totalCount).toBe(13);
    expect(connection.pageInfo.hasPreviousPage).toBe(pages > 0);
    expect(connection.nodes).toEqual(connection.edges.map((e: any) => e.node));
    expect(connection.pageInfo.startCursor).toBe(connection.edges[0].cursor);
    expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1).cursor);
    seen.push(...connection.nodes.map((n: any) => n.word));
    pages++;
    if (!connection.pageInfo.hasNextPage) break;
    after = connection.pageInfo.endCursor;
  }
  expect(pages).toBe(3);
  const expected = [...binder.concepts.map((c) => c.word), 'zzz-outside'].sort();
  expect(seen).toEqual(expected);
});

test('cursors are opaque strings, not offsets', async () => {
  const { body } = await api.graphql(CONCEPTS, { first: 2 });
  for (const edge of body.data.concepts.edges) expect(edge.cursor).not.toMatch(/^\d+$/);
});

test('scoped to a dataset: its order (file order), its categories on the edges, its count', async () => {
  const { body } = await api.graphql(CONCEPTS, { first: MAX_PAGE, normsDatasetId: String(binder.id) });
  const connection = body.data.concepts;
  expect(connection.totalCount).toBe(12);
  expect(connection.edges.map((e: any) => e.node.word)).toEqual(binder.concepts.slice(0, MAX_PAGE).map((c) => c.word));
  expect(connection.edges.map((e: any) => e.category)).toEqual(binder.concepts.slice(0, MAX_PAGE).map((c) => c.category));
  expect(connection.pageInfo.hasNextPage).toBe(true);
});

test('search filters by substring, case-insensitively, and treats % and _ literally', async () => {
  const word = binder.concepts[3]!.word;
  const { body } = await api.graphql(CONCEPTS, { search: word.slice(1, 4).toUpperCase() });
  expect(body.data.concepts.nodes.map((n: any) => n.word)).toContain(word);
  for (const node of body.data.concepts.nodes) expect(node.word.toLowerCase()).toContain(word.slice(1, 4).toLowerCase());
  const literal = await api.graphql(CONCEPTS, { search: '%' });
  expect(literal.body.data.concepts).toMatchObject({ totalCount: 0, nodes: [], pageInfo: { hasNextPage: false, startCursor: null, endCursor: null } });
});

test('without first, a page has the default size (capped by maxPageSize)', async () => {
  const { body } = await api.graphql(`{ concepts { nodes { word } } apiLimits { maxPageSize defaultPageSize maxDepth maxCost } }`);
  expect(body.data.apiLimits).toEqual({ maxPageSize: MAX_PAGE, defaultPageSize: MAX_PAGE, maxDepth: 10, maxCost: 50_000 });
  expect(body.data.concepts.nodes).toHaveLength(MAX_PAGE);
});

test('first: 0 returns the count and no nodes', async () => {
  const { body } = await api.graphql(CONCEPTS, { first: 0 });
  expect(body.data.concepts).toMatchObject({ totalCount: 13, nodes: [], pageInfo: { hasNextPage: true } });
});

test('a cursor past the end gives an empty page with the right totalCount', async () => {
  const first = await api.graphql(CONCEPTS, { first: MAX_PAGE });
  const second = await api.graphql(CONCEPTS, { first: MAX_PAGE, after: first.body.data.concepts.pageInfo.endCursor });
  const third = await api.graphql(CONCEPTS, { first: MAX_PAGE, after: second.body.data.concepts.pageInfo.endCursor });
  expect(second.body.data.concepts.nodes).toHaveLength(6);
  expect(third.body.data.concepts).toMatchObject({ totalCount: 13, nodes: [], pageInfo: { hasNextPage: false, hasPreviousPage: true } });
});

test.each([
  [{ first: MAX_PAGE + 1 }, 'first', /between 0 and 7/],
  [{ first: -1 }, 'first', /between 0 and 7/],
  [{ after: 'not-a-cursor!' }, 'after', /not a cursor/],
  [{ after: Buffer.from('o1:x').toString('base64url') }, 'after', /not a cursor/],
  [{ after: '' }, 'after', /not a cursor/],
  [{ normsDatasetId: 'x' }, 'normsDatasetId', /positive integer/],
  // One spelling per id, as the grid filters read them: "007" is not the id 7.
  [{ normsDatasetId: '007' }, 'normsDatasetId', /leading zeros/],
  [{ normsDatasetId: ' 7' }, 'normsDatasetId', /leading zeros/],
])('bad connection arguments %j are BAD_USER_INPUT naming %s', async (variables, argument, message) => {
  const { status, body } = await api.graphql(CONCEPTS, variables);
  expect(status).toBe(200);
  expect(body.data).toBeNull();
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
  expect(body.errors![0]!.message).toMatch(message);
  expect(body.errors![0]!.message).toContain(`\`${argument}\``);
});

test('nested connections page per parent: dataset concepts, concept ratings scoped to a dataset, attribute ratings', async () => {
  const { body } = await api.graphql(
    `query($normsDatasetId: ID!) {
      normsDataset(id: $normsDatasetId) {
        concepts(first: 2) {
          totalCount
          pageInfo { hasNextPage endCursor }
          edges { category node { word ratings(first: 3, normsDatasetId: $normsDatasetId) { totalCount pageInfo { hasNextPage } nodes { attribute { name } } } } }
        }
        attributeGroups { attributes { name ratings(first: 4) { totalCount nodes { concept { word } } } } }
      }
    }`,
    { normsDatasetId: String(binder.id) },
  );
  expect(body.errors).toBeUndefined();
  const concepts = body.data.normsDataset.concepts;
  expect(concepts.totalCount).toBe(12);
  expect(concepts.edges.map((e: any) => [e.node.word, e.category])).toEqual(binder.concepts.slice(0, 2).map((c) => [c.word, c.category]));
  for (const edge of concepts.edges) {
    expect(edge.node.ratings.totalCount).toBe(binder.attributes.length);
    expect(edge.node.ratings.nodes.map((r: any) => r.attribute.name)).toEqual(['Vision', 'Bright', 'Dark']);
  }
  const next = await api.graphql(`query($id: ID!, $after: String) { normsDataset(id: $id) { concepts(first: 2, after: $after) { edges { node { word } } } } }`, {
    id: String(binder.id),
    after: concepts.pageInfo.endCursor,
  });
  expect(next.body.data.normsDataset.concepts.edges.map((e: any) => e.node.word)).toEqual(binder.concepts.slice(2, 4).map((c) => c.word));
  for (const group of body.data.normsDataset.attributeGroups) {
    for (const attribute of group.attributes) {
      expect(attribute.ratings.totalCount).toBe(12);
      expect(attribute.ratings.nodes).toHaveLength(4);
    }
  }
});

test('a concept rated in no dataset of the filter has an empty ratings connection', async () => {
  const { body } = await api.graphql(`{ concept(word: "zzz-outside") { ratings { totalCount nodes { value } pageInfo { hasNextPage } } } }`);
  expect(body.data.concept.ratings).toEqual({ totalCount: 0, nodes: [], pageInfo: { hasNextPage: false } });
});
