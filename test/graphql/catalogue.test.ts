// Catalogue queries over real HTTP: nesting, ordering, lookups by id, NOT_FOUND and bad ids.
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { readBinder, seedBinder, seedModel, type SeededDataset, type SeededModel } from './fixtures.ts';

let db: TestDatabase;
let api: TestApi;
let binder: SeededDataset;
let tiny: SeededModel;
let sd: SeededModel;

beforeAll(async () => {
  db = await createTestDatabase();
  // Inserted out of name order: `models` must sort by name.
  tiny = await seedModel(db.prisma, { name: 'tiny-sd', components: 2, layers: 3 });
  sd = await seedModel(db.prisma, { name: 'a-stable-diffusion', components: 3, layers: 2, kind: 'STABLE_DIFFUSION' });
  binder = await seedBinder(db.prisma, { concepts: 6, groups: ['Vision', 'Audition', 'Emotion'] });
  api = await startTestApi(db);
});
afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

test('models → components → layers come back nested, each level in its order', async () => {
  const { status, body } = await api.graphql(`{
    models { id name kind kindLabel components { name position hasTimesteps model { name } layers { id index name shape component { name } } } }
  }`);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  const models = body.data.models;
  expect(models.map((m: any) => m.name)).toEqual(['a-stable-diffusion', 'tiny-sd']);
  const tinyModel = models[1];
  expect(tinyModel.id).toBe(String(tiny.id));
  expect(tinyModel.kind).toBe('TINY_TEST_NETWORK');
  expect(tinyModel.kindLabel).toMatch(/tiny test network/i);
  expect(tinyModel.kindLabel).toMatch(/not Stable Diffusion/);
  expect(models[0].kindLabel).toBe('Stable Diffusion');
  expect(tinyModel.components.map((c: any) => c.position)).toEqual([0, 1]);
  expect(tinyModel.components.map((c: any) => c.name)).toEqual(tiny.components.map((c) => c.name));
  expect(tinyModel.components[1].hasTimesteps).toBe(true);
  for (const component of [...models[0].components, ...tinyModel.components]) {
    expect(component.layers.map((l: any) => l.index)).toEqual([...component.layers.keys()]);
    for (const layer of component.layers) expect(layer.component.name).toBe(component.name);
  }
  expect(tinyModel.components[0].layers[2]).toMatchObject({ index: 2, name: 'block_2', shape: [4, 8] });
  expect(models[0].components).toHaveLength(3);
});

test('norms datasets → attribute groups → attributes in the dataset order, with the real Binder descriptions', async () => {
  const { body } = await api.graphql(`{
    normsDatasets { id name version citation versions { version } attributeGroups { name position normsDataset { id } attributes { name description position attributeGroup { name } } } attributes { name } }
  }`);
  expect(body.errors).toBeUndefined();
  const [dataset] = body.data.normsDatasets;
  expect(dataset).toMatchObject({ id: String(binder.id), name: 'binder2016', version: 1, versions: [{ version: 1 }] });
  expect(dataset.attributeGroups.map((g: any) => g.name)).toEqual(['Vision', 'Audition', 'Emotion']);
  const vision = dataset.attributeGroups[0];
  expect(vision.normsDataset.id).toBe(String(binder.id));
  expect(vision.attributes.slice(0, 3).map((a: any) => a.name)).toEqual(['Vision', 'Bright', 'Dark']);
  expect(vision.attributes[1].description).toBe('visually light or bright');
  expect(vision.attributes.every((a: any) => a.attributeGroup.name === 'Vision')).toBe(true);
  expect(dataset.attributes.map((a: any) => a.name)).toEqual(binder.attributes.map((a) => a.name));
});

test('a new version of a dataset lists every version', async () => {
  // Concepts far from the ones other tests read, so their memberships stay single.
  const words = readBinder().ratings.slice(200, 202).map((row) => row.concept!);
  const v2 = await seedBinder(db.prisma, { concepts: words, groups: ['Vision'], name: 'binder-versions', version: 2 });
  await seedBinder(db.prisma, { concepts: words, groups: ['Vision'], name: 'binder-versions', version: 1 });
  const { body } = await api.graphql(`query($id: ID!) { normsDataset(id: $id) { version versions { version } } }`, { id: String(v2.id) });
  expect(body.data.normsDataset).toEqual({ version: 2, versions: [{ version: 1 }, { version: 2 }] });
});

test('a dataset says plainly that no per-attribute noise ceiling is available, and why', async () => {
  const { body } = await api.graphql(`{ normsDatasets { noiseCeiling { available reason } } }`);
  expect(body.data.normsDatasets.length).toBeGreaterThan(0);
  for (const dataset of body.data.normsDatasets) {
    expect(dataset.noiseCeiling.available).toBe(false);
    expect(dataset.noiseCeiling.reason).toMatch(/rater-level data/);
  }
});

test('a concept by word or id carries its memberships and its ratings in attribute order', async () => {
  const concept = binder.concepts[1]!;
  const { body } = await api.graphql(
    `query($word: String, $id: ID) {
      byWord: concept(word: $word) { id word memberships { category position normsDataset { name } } ratings(first: 5) { totalCount nodes { value attribute { name } concept { word } } } }
      byId: concept(id: $id) { word }
    }`,
    { word: concept.word, id: String(concept.id) },
  );
  expect(body.errors).toBeUndefined();
  expect(body.data.byId.word).toBe(concept.word);
  const byWord = body.data.byWord;
  expect(byWord.memberships).toEqual([{ category: concept.category, position: 1, normsDataset: { name: 'binder2016' } }]);
  expect(byWord.ratings.totalCount).toBe(binder.attributes.length);
  expect(byWord.ratings.nodes.map((r: any) => r.attribute.name)).toEqual(binder.attributes.slice(0, 5).map((a) => a.name));
  for (const rating of byWord.ratings.nodes) {
    expect(rating.concept.word).toBe(concept.word);
    expect(rating.value).toBeCloseTo(binder.rating(concept.word, rating.attribute.name), 9);
  }
});

test('an attribute lists its ratings by concept word', async () => {
  const bright = binder.attributes.find((a) => a.name === 'Bright')!;
  const { body } = await api.graphql(`query($id: ID!) { attribute(id: $id) { name normsDataset { name } ratings { totalCount nodes { value concept { word } } } } }`, {
    id: String(bright.id),
  });
  const words = binder.concepts.map((c) => c.word).sort();
  expect(body.data.attribute.ratings.totalCount).toBe(binder.concepts.length);
  expect(body.data.attribute.ratings.nodes.map((r: any) => r.concept.word)).toEqual(words);
  expect(body.data.attribute.ratings.nodes[0].value).toBeCloseTo(binder.rating(words[0]!, 'Bright'), 9);
});

test('every entity can be looked up by id', async () => {
  const component = tiny.components[1]!;
  const layer = component.layers[2]!;
  const { body } = await api.graphql(
    `query($model: ID!, $component: ID!, $layer: ID!, $dataset: ID!, $group: ID!, $attribute: ID!) {
      model(id: $model) { name }
      component(id: $component) { name }
      layer(id: $layer) { name index }
      normsDataset(id: $dataset) { name }
      attributeGroup(id: $group) { name }
      attribute(id: $attribute) { name }
    }`,
    {
      model: String(sd.id),
      component: String(component.id),
      layer: String(layer.id),
      dataset: String(binder.id),
      group: String(binder.groups[2]!.id),
      attribute: String(binder.attributes[0]!.id),
    },
  );
  expect(body.errors).toBeUndefined();
  expect(body.data).toEqual({
    model: { name: 'a-stable-diffusion' },
    component: { name: component.name },
    layer: { name: 'block_2', index: 2 },
    normsDataset: { name: 'binder2016' },
    attributeGroup: { name: 'Emotion' },
    attribute: { name: 'Vision' },
  });
});

test.each([
  ['model', 'model(id: "999999") { id }'],
  ['component', 'component(id: "999999") { id }'],
  ['layer', 'layer(id: "999999") { id }'],
  ['normsDataset', 'normsDataset(id: "999999") { id }'],
  ['attributeGroup', 'attributeGroup(id: "999999") { id }'],
  ['attribute', 'attribute(id: "999999") { id }'],
  ['concept', 'concept(id: "999999") { id }'],
  ['concept', 'concept(word: "no-such-word") { id }'],
])('an unknown %s is null with a NOT_FOUND error, HTTP 200', async (field, selection) => {
  const { status, body } = await api.graphql(`{ ${selection} }`);
  expect(status).toBe(200);
  expect(body.data[field]).toBeNull();
  expect(body.errors).toHaveLength(1);
  expect(body.errors![0]!.extensions!.code).toBe('NOT_FOUND');
  expect(body.errors![0]!.path).toEqual([field]);
  expect(body.errors![0]!.message).toMatch(/999999|no-such-word/);
});

test.each([['abc'], ['-1'], ['0'], ['1.5'], ['99999999999']])('a malformed id %j is BAD_USER_INPUT naming `id`', async (id) => {
  const { status, body } = await api.graphql(`query($id: ID!) { model(id: $id) { id } }`, { id });
  expect(status).toBe(200);
  expect(body.data.model).toBeNull();
  expect(body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'id' });
  expect(body.errors![0]!.message).toContain('`id`');
});

test('concept needs exactly one of id and word', async () => {
  const neither = await api.graphql(`{ concept { id } }`);
  expect(neither.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'id' });
  const both = await api.graphql(`{ concept(id: "1", word: "x") { id } }`);
  expect(both.body.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'word' });
});

test('one failing field does not hide its siblings', async () => {
  const { status, body } = await api.graphql(`{ models { name } model(id: "999999") { name } }`);
  expect(status).toBe(200);
  expect(body.data.models).toHaveLength(2);
  expect(body.data.model).toBeNull();
});
