// Every GraphQL example in the README and docs/, and every document the benchmarks send, must stay
// valid against the schema as it is.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { buildASTSchema, parse, validate } from 'graphql';
import { PROJECT_ROOT } from '../../src/config.ts';
import { loadTypeDefs } from '../../src/graphql/schema.ts';
import * as benchQueries from '../../scripts/bench/queries.ts';

const schema = buildASTSchema(loadTypeDefs());
const files = ['README.md', ...readdirSync(path.join(PROJECT_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const examples = files.flatMap((file) =>
  [...readFileSync(path.join(PROJECT_ROOT, file), 'utf8').matchAll(/```graphql\n([\s\S]*?)```/g)].map((match, i) => ({
    name: `${file} example ${i + 1}`,
    source: match[1]!,
  })),
);

test('the docs hold GraphQL examples', () => {
  expect(examples.length).toBeGreaterThanOrEqual(3);
});

test.each(examples)('$name is valid against the schema', ({ source }) => {
  expect(validate(schema, parse(source)).map((error) => error.message)).toEqual([]);
});

test.each(Object.entries(benchQueries).map(([name, source]) => ({ name, source })))('the benchmarks\' $name is valid against the schema', ({ source }) => {
  expect(validate(schema, parse(source)).map((error) => error.message)).toEqual([]);
});
