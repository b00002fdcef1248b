// npm run probe -- --run <extraction run id> --norms <name[@version] | id> [--category a,b]
//   [--exclude-category human,group] [--folds 10] [--seed 0] [--alphas 0.01,0.1,…] [--permutations 100]
//   [--bootstrap 1000] [--pooling a,b] [--layers 1,2] [--timesteps none,981,…]
//   [--min-support K] [--min-variance v] [--enqueue [--job-size 8] [--max-attempts 3]] [--help]
// Fits ridge probes for every cell of a COMPLETED extraction run; re-running resumes (docs/metrics.md).
// --enqueue fits nothing here: it plans the same run (same identity) into jobs of --job-size cells for
// the worker processes (npm run worker), each tried at most --max-attempts times, prints one JSON line
// (probeRunId, jobs, added, requeued, units) and exits 0; enqueueing again adds only the cells no job
// covers and requeues failed or cancelled jobs. A run already complete is reported NOTHING_TO_DO.
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
import { connectDatabase, type Database } from '../src/db/client.ts';
import { loadConfig } from '../src/config.ts';
import { ArgumentError, EXIT_CODES } from '../src/errors.ts';
import type { ProbeJobSpec } from '../src/jobs/probe-job.ts';
import { enqueue, taskFor } from '../src/jobs/plan.ts';
import { parseEnqueueArguments, parseProbeArguments, type EnqueueOptions } from '../src/probe-runs/arguments.ts';
import { cellKeyString, cellLabel, type CellKey } from '../src/probe-runs/load.ts';
import { planProbeRun, runProbe, type ProbeRunOptions } from '../src/probe-runs/run.ts';
import { normaliseSettings } from '../src/probe-runs/settings.ts';
import { significanceWarning } from '../src/probe-runs/significance.ts';
import { closeFoldPool } from '../src/probes/ridge.ts';

/** The usage is this file's header comment, so the two cannot drift apart. */
function usage(): string {
  const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const header = lines.slice(0, lines.findIndex((line) => !line.startsWith('//')));
  return header.map((line) => line.replace(/^\/\/ ?/, '')).join('\n');
}

/** --enqueue: the run planned into PROBE jobs; one JSON line. */
async function enqueueRun(db: Database, options: ProbeRunOptions, jobs: EnqueueOptions): Promise<number> {
  const planned = await planProbeRun(db.pool, options);
  const warning = significanceWarning(planned.settings.permutations, planned.attributeCount, planned.cells.length);
  if (warning !== null) console.error(`probe: warning: ${warning}`);
  const line = { probeRunId: planned.run.id, created: planned.run.created, total: planned.cells.length, alreadyDone: planned.alreadyDone };
  if (planned.complete) {
    console.log(JSON.stringify({ event: 'enqueued', ...line, status: 'NOTHING_TO_DO', jobs: 0, added: 0, requeued: 0 }));
    return 0;
  }
  const base = { probeRunId: planned.run.id, extractionRunId: planned.extractionRunId, datasetId: planned.datasetId, settings: planned.settings };
  const report = await enqueue<CellKey>(db.pool, {
    kind: 'PROBE', runId: planned.run.id, task: taskFor('PROBE'), units: planned.cells, key: cellKeyString,
    jobSize: jobs.jobSize, spec: (units): ProbeJobSpec => ({ ...base, units }), maxAttempts: jobs.maxAttempts,
  });
  console.log(JSON.stringify({ event: 'enqueued', ...line, status: 'QUEUED', jobs: report.jobs, added: report.added, requeued: report.requeued, units: report.units }));
  return 0;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return 0;
  }
  const options = parseProbeArguments(argv);
  const jobs = parseEnqueueArguments(argv);
  const { permutations } = normaliseSettings(options.settings ?? {});
  const databaseUrl = loadConfig().databaseUrl;
  if (!databaseUrl) throw new ArgumentError('DATABASE_URL is not set: probe runs write to an existing PostgreSQL database.');
  const db = connectDatabase(databaseUrl, { maxConnections: 2 });
  if (jobs !== null) {
    try {
      return await enqueueRun(db, options, jobs);
    } finally {
      await db.close();
    }
  }
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
