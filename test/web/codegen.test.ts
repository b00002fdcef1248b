// The atlas page's committed operation types (web/src/generated/operations.ts) are what web/codegen.ts
// makes of today's SDL and the page's documents (web/src/queries.ts): a schema change that breaks or
// changes a query the page sends fails here (and, through the types, `tsc -p web`). Codegen runs in memory.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import type { Types } from '@graphql-codegen/plugin-helpers';
import config, { GENERATED_OPERATION_TYPES } from '../../web/codegen.ts';
import { PROJECT_ROOT } from '../../src/config.ts';

async function generated(overrides: Partial<Types.Config> = {}): Promise<string> {
  const outputs: Types.FileOutput[] = await generate({ ...config, ...overrides, cwd: PROJECT_ROOT }, false);
  const output = outputs.find((file) => path.resolve(PROJECT_ROOT, file.filename) === path.resolve(PROJECT_ROOT, GENERATED_OPERATION_TYPES));
  if (!output) throw new Error(`web/codegen.ts produced no ${GENERATED_OPERATION_TYPES}.`);
  return output.content;
}

const committed = readFileSync(path.join(PROJECT_ROOT, GENERATED_OPERATION_TYPES), 'utf8');

test("the atlas page's committed operation types are what `npm run codegen:web` generates", async () => {
  const fresh = await generated();
  if (fresh !== committed) {
    const lines = [fresh.split('\n'), committed.split('\n')] as const;
    const at = lines[0].findIndex((line, i) => line !== lines[1][i]);
    throw new Error(
      `${GENERATED_OPERATION_TYPES} is stale: run \`npm run codegen:web\` and commit it. First difference at line ${at + 1}:\n` +
        `  generated: ${lines[0][at]}\n  committed: ${lines[1][at]}`,
    );
  }
  expect(fresh).toBe(committed);
});

test("a query of the page that the schema does not serve is refused by codegen (the page's documents are validated)", async () => {
  const documents = [String(config.documents), path.join(PROJECT_ROOT, 'test/web/fixtures/unknown-field.graphql')];
  await expect(generated({ documents })).rejects.toThrow(/notAField/);
});
