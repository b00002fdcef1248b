// The committed resolver types (src/graphql/generated/resolvers-types.ts) are what codegen.ts makes of
// today's SDL, parents and enum values: a schema change without `npm run codegen` fails here, so the
// types `tsc` checks the resolvers against never lag behind the contract. Codegen runs in memory.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import type { Types } from '@graphql-codegen/plugin-helpers';
import config, { GENERATED_RESOLVER_TYPES } from '../../codegen.ts';
import { PROJECT_ROOT } from '../../src/config.ts';

async function generated(overrides: Partial<Types.Config> = {}): Promise<string> {
  const outputs: Types.FileOutput[] = await generate({ ...config, ...overrides, cwd: PROJECT_ROOT }, false);
  const output = outputs.find((file) => path.resolve(PROJECT_ROOT, file.filename) === path.resolve(PROJECT_ROOT, GENERATED_RESOLVER_TYPES));
  if (!output) throw new Error(`codegen.ts produced no ${GENERATED_RESOLVER_TYPES}.`);
  return output.content;
}

const committed = readFileSync(path.join(PROJECT_ROOT, GENERATED_RESOLVER_TYPES), 'utf8');

test('the committed resolver types are what `npm run codegen` generates from schema/*.graphql', async () => {
  const fresh = await generated();
  if (fresh !== committed) {
    const lines = [fresh.split('\n'), committed.split('\n')] as const;
    const at = lines[0].findIndex((line, i) => line !== lines[1][i]);
    throw new Error(
      `${GENERATED_RESOLVER_TYPES} is stale: run \`npm run codegen\` and commit it. First difference at line ${at + 1}:\n` +
        `  generated: ${lines[0][at]}\n  committed: ${lines[1][at]}`,
    );
  }
  expect(fresh).toBe(committed);
});

test('a field added to the SDL changes the generated types (the comparison above sees schema changes)', async () => {
  const schema = [String(config.schema), 'extend type Query { addedByCodegenTest(probeRunId: ID!): Int }'];
  const changed = await generated({ schema });
  expect(changed).not.toBe(committed);
  expect(changed).toContain('QueryAddedByCodegenTestArgs');
});
