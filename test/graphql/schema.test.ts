// The SDL contract: descriptions everywhere, error codes in sync, every Query field resolved,
// placeholder files ignored, and the playground's saved examples valid against the schema.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GraphQLEnumType, Kind, parse, validate, type ASTNode } from 'graphql';
import { createExecutableSchema } from '../../src/graphql/apollo.ts';
import { ErrorCode } from '../../src/graphql/errors.ts';
import { loadExamples } from '../../src/graphql/playground/examples.ts';
import { buildExecutableSchema, loadTypeDefs, SCHEMA_DIR } from '../../src/graphql/schema.ts';

const sdlFiles = readdirSync(SCHEMA_DIR).filter((name) => name.endsWith('.graphql'));

/** Every type, field, argument, enum value and input field lacking a description, by name. */
function undescribed(source: string): string[] {
  if (source.replace(/#[^\n]*/g, '').trim() === '') return [];
  const missing: string[] = [];
  const described = (node: ASTNode & { description?: { value: string } }) => Boolean(node.description?.value.trim());
  for (const definition of parse(source).definitions) {
    if (!('name' in definition) || !definition.name) continue;
    const typeName = definition.name.value;
    const isExtension = definition.kind.endsWith('Extension');
    if (!isExtension && !described(definition)) missing.push(typeName);
    if ('fields' in definition) {
      for (const field of definition.fields ?? []) {
        if (!described(field)) missing.push(`${typeName}.${field.name.value}`);
        for (const arg of ('arguments' in field ? field.arguments : undefined) ?? []) {
          if (!described(arg)) missing.push(`${typeName}.${field.name.value}(${arg.name.value})`);
        }
      }
    }
    if ('values' in definition) {
      for (const value of definition.values ?? []) if (!described(value)) missing.push(`${typeName}.${value.name.value}`);
    }
  }
  return missing;
}

test.each(sdlFiles)('%s describes every type, field, argument and enum value', (file) => {
  expect(undescribed(readFileSync(path.join(SCHEMA_DIR, file), 'utf8'))).toEqual([]);
});

test('the SDL ErrorCode enum lists exactly the codes the server uses', () => {
  const schema = createExecutableSchema();
  const sdl = (schema.getType('ErrorCode') as GraphQLEnumType).getValues().map((value) => value.name);
  expect(sdl.sort()).toEqual(Object.values(ErrorCode).sort());
});

test('every Query and Mutation field has a resolver and every Subscription field a source (the grid module is merged)', () => {
  const schema = createExecutableSchema();
  const unresolved = Object.values(schema.getQueryType()!.getFields()).filter((field) => !field.resolve).map((field) => field.name);
  expect(unresolved).toEqual([]);
  expect(Object.values(schema.getMutationType()!.getFields()).filter((field) => !field.resolve).map((field) => field.name)).toEqual([]);
  expect(Object.keys(schema.getMutationType()!.getFields()).sort()).toEqual(['cancelRun', 'retryRun']);
  expect(Object.values(schema.getSubscriptionType()!.getFields()).filter((field) => !field.subscribe).map((field) => field.name)).toEqual([]);
});

test('comment-only SDL files (placeholders) are skipped; resolvers for undeclared fields are refused', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'probe-atlas-sdl-'));
  writeFileSync(path.join(dir, 'common.graphql'), '"Root." type Query { "A field." ok: Boolean }');
  writeFileSync(path.join(dir, 'later.graphql'), '# Placeholder: nothing here yet.\n\n');
  const typeDefs = loadTypeDefs(dir);
  expect(typeDefs.definitions.filter((d) => d.kind === Kind.OBJECT_TYPE_DEFINITION)).toHaveLength(1);
  expect(() => buildExecutableSchema(typeDefs, { Query: { ok: () => true } })).not.toThrow();
  expect(() => buildExecutableSchema(typeDefs, { Query: { missing: () => true } })).toThrow(/Query\.missing/);
  expect(() => buildExecutableSchema(typeDefs, { Nope: {} })).toThrow(/Nope/);
});

describe('playground examples', () => {
  const examples = loadExamples();

  test('there are three saved tabs, each a named query', () => {
    expect(examples.map((example) => example.title)).toEqual(['Catalogue', 'Heatmap', 'Comparison']);
    for (const example of examples) expect(example.query).toMatch(new RegExp(`query ${example.title}\\b`));
  });

  test.each(examples.map((example) => [example.file, example.query]))('%s parses and validates against the executable schema', (_file, query) => {
    const errors = validate(createExecutableSchema(), parse(query));
    expect(errors.map((error) => error.message)).toEqual([]);
  });
});
