// npm run build:tiny-bundle [-- --out bundles/tiny] [--seed 0] [--random-embeddings]
// Writes the tiny SD-shaped test bundle (docs/bundles.md). Exit 0 done, 1 failed, 2 bad arguments (src/errors.ts).
import path from 'node:path';
import { parseCliArguments, runCli } from '../src/cli.ts';
import { PROJECT_ROOT } from '../src/config.ts';
import { buildTinyBundle } from '../src/demo/tiny-bundle/build.ts';
import { ArgumentError } from '../src/errors.ts';

runCli('build-tiny-bundle', () => {
  const args = parseCliArguments({
    options: { out: { type: 'string', default: 'bundles/tiny' }, seed: { type: 'string', default: '0' }, 'random-embeddings': { type: 'boolean', default: false } },
  }).values;
  const seed = Number(args.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new ArgumentError(`--seed must be a non-negative integer, got ${JSON.stringify(args.seed)}.`);
  const report = buildTinyBundle({ outDir: path.resolve(PROJECT_ROOT, args.out), seed, embeddings: args['random-embeddings'] ? 'random' : 'glove' });
  console.log(
    `Tiny test bundle (not Stable Diffusion) written to ${report.outDir}: vocabulary ${report.vocabSize} tokens, ` +
      `${report.words} whole words (${report.gloveWords} with GloVe vectors), ${(report.bytes / 1e6).toFixed(2)} MB, ${report.seconds.toFixed(2)} s.`,
  );
}, { kinds: ['bad-input'] });
