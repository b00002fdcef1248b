// The naming rules of docs/api.md, checked on the introspection of the executable schema: every
// type, field, argument, input field and enum value. A new field that breaks a rule fails here
// with its coordinate (`Type.field(argument)`), before any client depends on it.
import { graphql, introspectionFromSchema, type IntrospectionField, type IntrospectionInputValue, type IntrospectionObjectType, type IntrospectionTypeRef } from 'graphql';
import { createExecutableSchema } from '../../src/graphql/apollo.ts';
import { resolveLimits } from '../../src/graphql/limits/resolve.ts';
import { loadConfig } from '../../src/config.ts';

const schema = createExecutableSchema();
const types = introspectionFromSchema(schema).__schema.types.filter((type) => !type.name.startsWith('__'));
const objects = types.filter((type): type is IntrospectionObjectType => type.kind === 'OBJECT' || type.kind === 'INTERFACE');
const typeNames = new Set(types.map((type) => type.name));

interface Named {
  coordinate: string;
  name: string;
  description: string | null | undefined;
  type: IntrospectionTypeRef;
  parent: string;
}

/** Every field, argument and input field of the schema, with its coordinate. */
const named: Named[] = types.flatMap((type) => {
  if (type.kind === 'OBJECT' || type.kind === 'INTERFACE') {
    return type.fields.flatMap((field: IntrospectionField) => [
      { coordinate: `${type.name}.${field.name}`, name: field.name, description: field.description, type: field.type, parent: type.name },
      ...field.args.map((arg: IntrospectionInputValue) => ({ coordinate: `${type.name}.${field.name}(${arg.name})`, name: arg.name, description: arg.description, type: arg.type, parent: type.name })),
    ]);
  }
  if (type.kind === 'INPUT_OBJECT') {
    return type.inputFields.map((field) => ({ coordinate: `${type.name}.${field.name}`, name: field.name, description: field.description, type: field.type, parent: type.name }));
  }
  return [];
});

/** The named type under NON_NULL and LIST wrappers, and whether a list is among them. */
function unwrap(ref: IntrospectionTypeRef): { name: string; list: boolean } {
  let list = false;
  let current = ref;
  while (current.kind === 'NON_NULL' || current.kind === 'LIST') {
    if (current.kind === 'LIST') list = true;
    current = (current as { ofType: IntrospectionTypeRef }).ofType;
  }
  return { name: (current as { name: string }).name, list };
}

const lowerFirst = (name: string) => name[0]!.toLowerCase() + name.slice(1);
const upperFirst = (name: string) => name[0]!.toUpperCase() + name.slice(1);

/** Entity types: objects with their own `id: ID!` (what a field refers to by type name). */
const entities = new Set(objects.filter((type) => type.kind === 'OBJECT' && type.fields.some((f) => f.name === 'id' && f.type.kind === 'NON_NULL' && unwrap(f.type).name === 'ID')).map((t) => t.name));

test('the schema has entities and names to check (the walk is not empty)', () => {
  expect(entities).toEqual(new Set(['Model', 'Component', 'Layer', 'NormsDataset', 'AttributeGroup', 'Attribute', 'Concept', 'ExtractionRun', 'ProbeRun', 'ProbeCell', 'ProbeScore', 'Job', 'Worker']));
  expect(named.length).toBeGreaterThan(250);
});

test('casing: types PascalCase, fields and arguments camelCase, enum values SCREAMING_SNAKE_CASE', () => {
  expect(types.filter((type) => !/^[A-Z][A-Za-z0-9]*$/.test(type.name)).map((t) => t.name)).toEqual([]);
  expect(named.filter((n) => !/^[a-z][A-Za-z0-9]*$/.test(n.name)).map((n) => n.coordinate)).toEqual([]);
  const values = types.flatMap((type) => (type.kind === 'ENUM' ? type.enumValues.map((v) => `${type.name}.${v.name}`) : []));
  expect(values.filter((value) => !/\.[A-Z][A-Z0-9_]*$/.test(value))).toEqual([]);
});

test('rule 1: no shortened reference (group, dataset, run…) anywhere', () => {
  const banned = /^(group|groups|groupId|groupIds|dataset|datasets|datasetId|datasetIds|run|runs|runId|runIds|cell|cellId)$/;
  expect(named.filter((n) => banned.test(n.name)).map((n) => n.coordinate)).toEqual([]);
});

test('rule 1: a field returning an entity (or a list or connection of them) is named after its type', () => {
  const wrong = objects.flatMap((type) =>
    type.fields.flatMap((field) => {
      const target = unwrap(field.type).name;
      const entity = entities.has(target) ? target : target.endsWith('Connection') && entities.has(target.slice(0, -'Connection'.length)) ? target.slice(0, -'Connection'.length) : null;
      if (!entity || ['node', 'nodes'].includes(field.name)) return [];
      // A type's relation to itself names its role (NormsDataset.versions).
      if (entity === type.name) return [];
      const singular = lowerFirst(entity);
      const plural = singular.endsWith('s') ? singular : `${singular}s`;
      return field.name === singular || field.name === plural ? [] : [`${type.name}.${field.name}: ${entity}`];
    }),
  );
  expect(wrong).toEqual([]);
});

test('rule 1: every `…Id`/`…Ids` names a type of the schema, and is an ID', () => {
  const ids = named.filter((n) => /Ids?$/.test(n.name));
  expect(ids.length).toBeGreaterThan(10);
  const wrong = ids.filter((n) => {
    const typeName = upperFirst(n.name.replace(/Ids?$/, ''));
    return !entities.has(typeName) || unwrap(n.type).name !== 'ID' || n.name.endsWith('Ids') !== unwrap(n.type).list;
  });
  expect(wrong.map((n) => n.coordinate)).toEqual([]);
});

test('rule 3: closed sets are enums, one per set', () => {
  const closed = /^(pooling|poolings|metric|method|scheduler|device|status|kind|componentKinds|dimension|per)$/;
  const strings = named.filter((n) => closed.test(n.name) && unwrap(n.type).name === 'String');
  expect(strings.map((n) => n.coordinate)).toEqual([]);
  // One enum per set: every metric-carrying field uses `Metric`, every pooling `Pooling`.
  const byName = (pattern: RegExp) => new Set(named.filter((n) => pattern.test(n.name)).map((n) => unwrap(n.type).name));
  expect(byName(/^metric$/)).toEqual(new Set(['Metric']));
  expect(byName(/^poolings?$/)).toEqual(new Set(['Pooling']));
  expect(typeNames.has('GridMetric')).toBe(false);
});

test('rule 4: counts end in Count; totalCount only on connections; no n, size, total, numX', () => {
  const bannedCounts = named.filter((n) => /^(n|n[A-Z].*|.*[a-z]N|size|total|done|count|num[A-Z].*)$/.test(n.name));
  expect(bannedCounts.map((n) => n.coordinate)).toEqual([]);
  const describedAsCount = named.filter((n) => /^(Number of|How many)/.test(n.description ?? '') && !n.name.endsWith('Count'));
  expect(describedAsCount.map((n) => n.coordinate)).toEqual([]);
  const counts = named.filter((n) => n.name.endsWith('Count'));
  expect(counts.filter((n) => unwrap(n.type).name !== 'Int').map((n) => n.coordinate)).toEqual([]);
  expect(counts.filter((n) => n.name === 'totalCount' && !n.parent.endsWith('Connection')).map((n) => n.coordinate)).toEqual([]);
});

test('rule 5: durations end in Seconds; no abbreviated units', () => {
  expect(named.filter((n) => /(MB|Mb|Sec|Secs|Ms)$/.test(n.name) && n.coordinate !== 'ApiLimits.heavyQueueTimeoutMs').map((n) => n.coordinate)).toEqual([]);
  expect(named.filter((n) => n.name.endsWith('Seconds') && unwrap(n.type).name !== 'Float').map((n) => n.coordinate)).toEqual([]);
});

test('rule 6: connections are Relay-shaped, and once a type has one every list of it is that connection', () => {
  const connections = objects.filter((type) => type.name.endsWith('Connection'));
  for (const connection of connections) {
    expect([connection.name, connection.fields.map((f) => f.name).sort()]).toEqual([connection.name, ['edges', 'nodes', 'pageInfo', 'totalCount']]);
  }
  const paged = new Set(connections.map((c) => c.name.slice(0, -'Connection'.length)));
  expect([...paged].sort()).toEqual(['Concept', 'ExtractionRun', 'Job', 'ProbeCell', 'ProbeRun', 'ProbeScore', 'Rating']);
  const listed = objects.flatMap((type) =>
    type.fields.filter((f) => unwrap(f.type).list && paged.has(unwrap(f.type).name) && !(type.name.endsWith('Connection') && f.name === 'nodes')).map((f) => `${type.name}.${f.name}`),
  );
  expect(listed).toEqual([]);
  // A connection field takes `first` and `after`.
  const withoutPaging = objects.flatMap((type) =>
    type.fields.filter((f) => unwrap(f.type).name.endsWith('Connection') && !['first', 'after'].every((a) => f.args.some((arg) => arg.name === a))).map((f) => `${type.name}.${f.name}`),
  );
  expect(withoutPaging).toEqual([]);
});

test('rule 7: both run kinds implement Run, with typed timings; JSON only for verbatim settings and metadata', () => {
  const run = types.find((type) => type.name === 'Run');
  expect(run?.kind).toBe('INTERFACE');
  for (const name of ['ExtractionRun', 'ProbeRun']) {
    const type = objects.find((t) => t.name === name)!;
    expect(type.interfaces.map((i) => i.name)).toEqual(['Run']);
    expect(unwrap(type.fields.find((f) => f.name === 'timings')!.type).name).not.toBe('JSON');
  }
  expect(named.filter((n) => unwrap(n.type).name === 'JSON' && !['settings', 'metadata'].includes(n.name)).map((n) => n.coordinate)).toEqual([]);
});

test('ApiLimits lists every limit the server enforces, and serves each', async () => {
  const config = loadConfig({});
  const limits = objects.find((type) => type.name === 'ApiLimits')!;
  const expected = [...Object.keys(resolveLimits(config.limits)), 'defaultPageSize'].sort();
  expect(limits.fields.map((f) => f.name).sort()).toEqual(expected);
  const result = await graphql({ schema, source: `{ apiLimits { ${expected.join(' ')} } }`, contextValue: { config } });
  expect(result.errors).toBeUndefined();
  expect(Object.values(result.data!.apiLimits as object).every((value) => Number.isInteger(value))).toBe(true);
});

test('the SDL ComponentKind is the database enum (grid filters read it from Prisma)', async () => {
  const { COMPONENT_KINDS } = await import('../../src/grid/input.ts');
  const sdl = types.find((type) => type.name === 'ComponentKind');
  expect(sdl?.kind === 'ENUM' && sdl.enumValues.map((v) => v.name)).toEqual([...COMPONENT_KINDS]);
});
