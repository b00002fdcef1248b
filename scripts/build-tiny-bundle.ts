// npm run build:tiny-bundle [-- --out bundles/tiny] [--seed 0] [--random-embeddings]
// Writes the tiny SD-shaped test bundle (docs/bundles.md). Exit code 2 on bad arguments.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/config.ts';
import { buildTinyBundle } from '../src/demo/tiny-bundle/build.ts';

let args;
try {
  args = parseArgs({
    options: { out: { type: 'string', default: 'bundles/tiny' }, seed: { type: 'string', default: '0' }, 'random-embeddings': { type: 'boolean', default: false } },
  }).values;
} catch (error) {
  console.error(`build-tiny-bundle: ${(error as Error).message}`);
  process.exit(2);
}
const seed = Number(args.seed);
if (!Number.isInteger(seed) || seed < 0) {
  console.error(`build-tiny-bundle: --seed must be a non-negative integer, got ${JSON.stringify(args.seed)}.`);
  process.exit(2);
}
const report = buildTinyBundle({ outDir: path.resolve(PROJECT_ROOT, args.out!), seed, embeddings: args['random-embeddings'] ? 'random' : 'glove' });
console.log(
  `Tiny test bundle (not Stable Diffusion) written to ${report.outDir}: vocabulary ${report.vocabSize} tokens, ` +
    `${report.words} whole words (${report.gloveWords} with GloVe vectors), ${(report.bytes / 1e6).toFixed(2)} MB, ${report.seconds.toFixed(2)} s.`,
);
