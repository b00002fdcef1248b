// npm run probe -- --run <extraction run id> --norms <name[@version] | id> [--category a,b]
//   [--exclude-category human,group] [--folds 10] [--seed 0] [--alphas 0.01,0.1,…] [--permutations 100]
//   [--bootstrap 1000] [--pooling a,b] [--layers 1,2] [--timesteps none,981,…]
//   [--min-support K] [--min-variance v] [--help]
// Fits ridge probes for every cell of a COMPLETED extraction run; re-running resumes (docs/metrics.md).
// --min-support K keeps the attributes with a non-zero, non-missing rating for at least K of the run's
// concepts, --min-variance v those whose ratings vary at least that much over them (sparse
// feature-production norms: docs/norms.md); what they leave out is recorded with the run. It warns (on
// stderr) when the permutations are too few for any q-value to be below 0.05.
// Ctrl-C stops after the current cell and marks the run FAILED ("interrupted; re-run to resume").
// Exit codes: 0 done, 1 run failed, 2 bad argument, 3 not found, 4 nothing to probe (or extraction not
// completed), 5 run locked by another process, 130 interrupted (the one table, src/errors.ts).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { runCli } from '../src/cli.ts';
import { connectDatabase } from '../src/db/client.ts';
import { loadConfig } from '../src/config.ts';
import { ArgumentError, EXIT_CODES } from '../src/errors.ts';
import { parseProbeArguments } from '../src/probe-runs/arguments.ts';
import { cellLabel } from '../src/probe-runs/load.ts';
import { runProbe } from '../src/probe-runs/run.ts';
import { normaliseSettings } from '../src/probe-runs/settings.ts';
import { significanceWarning } from '../src/probe-runs/significance.ts';
import { closeFoldPool } from '../src/probes/ridge.ts';

/** The usage is this file's header comment, so the two cannot drift apart. */
function usage(): string {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const header = lines.slice(0, lines.findIndex((line) => !line.startsWith('//')));
  return header.map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return 0;
  }
  const options = parseProbeArguments(argv);
  const { permutations } = normaliseSettings(options.settings ?? {});
  const databaseUrl = loadConfig().databaseUrl;
  if (!databaseUrl) throw new ArgumentError('DATABASE_URL is not set: probe runs write to an existing PostgreSQL database.');
  const db = connectDatabase(databaseUrl, { maxConnections: 2 });
  const tty = process.stderr.isTTY;
  // First Ctrl-C (or SIGTERM): finish the current cell, then mark the run FAILED and exit 130.
  // A second one exits at once (the run may then stay RUNNING until the next re-run resumes it).
  const interrupt = new AbortController();
  const onSignal = () => {
    if (interrupt.signal.aborted) process.exit(EXIT_CODES.interrupted);
    console.error('probe: interrupted; stopping after the current cell (Ctrl-C again to quit at once)');
    interrupt.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const bar = tty ? new cliProgress.SingleBar({ format: 'probe {bar} {value}/{total} cells | ETA {eta_formatted} | {cell}', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  try {
    const summary = await runProbe(db.pool, { ...options, signal: interrupt.signal }, {
      onStart: ({ probeRunId, created, total, alreadyDone, attributeCount, excludedAttributeCount }) => {
        // On stderr (stdout stays one JSON line per event), before the bar starts so a terminal shows it above it.
        const warning = significanceWarning(permutations, attributeCount, total);
        if (warning !== null) console.error(`probe: warning: ${warning}`);
        if (bar) {
          if (excludedAttributeCount > 0) console.error(`probe: ${attributeCount} attributes probed, ${excludedAttributeCount} left out by the selection (recorded with run ${probeRunId})`);
          bar.start(total, alreadyDone, { cell: '' });
        } else console.log(JSON.stringify({ event: 'start', probeRunId, created, total, alreadyDone, attributeCount, excludedAttributeCount }));
      },
      onCell: (event) => {
        const line = {
          event: event.skipped ? 'cell-skipped' : 'cell', probeRunId: event.probeRunId, cellId: event.cellId, ...event.cell,
          done: event.done, total: event.total, seconds: Number(event.seconds.toFixed(3)),
          etaSeconds: event.etaSeconds === null ? null : Math.round(event.etaSeconds), skipped: event.skipped,
          meanPearsonR: event.result ? Number((event.result.attributes.reduce((s, a) => s + (Number.isFinite(a.pearsonR) ? a.pearsonR : 0), 0) / event.result.attributes.length).toFixed(4)) : undefined,
          conceptTwoVsTwo: event.result?.conceptTwoVsTwo,
        };
        if (bar) bar.update(event.done, { cell: cellLabel(event.cell) });
        else console.log(JSON.stringify(line));
      },
    });
    bar?.stop();
    console.log(JSON.stringify({ event: 'done', ...summary }));
    return 0;
  } finally {
    bar?.stop();
    await closeFoldPool();
    await db.close();
  }
}

runCli('probe', main);
