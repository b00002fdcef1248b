// The demo pipeline's worker thread: its own small connection pool, log lines and the outcome sent
// to the parent, and a 'stop' message that aborts after the current concept or cell.
import { parentPort, workerData } from 'node:worker_threads';
import { connectDatabase } from '../../db/client.ts';
import type { LogFields } from '../../log.ts';
import { runDemoPipeline, type DemoLogger } from './run.ts';
import type { DemoPipelineSettings } from './settings.ts';
import { DemoPipelineStopped } from './stop.ts';

export interface DemoWorkerData {
  databaseUrl: string;
  settings?: Partial<DemoPipelineSettings>;
}

export type DemoWorkerMessage =
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string; fields?: LogFields }
  | { type: 'outcome'; outcome: Awaited<ReturnType<typeof runDemoPipeline>> };

const port = parentPort;
if (!port) throw new Error('src/demo/pipeline/worker.ts runs as a worker thread (see background.ts).');
const data = workerData as DemoWorkerData;
const controller = new AbortController();
port.on('message', (message: unknown) => {
  if (message === 'stop' && !controller.signal.aborted) controller.abort(new DemoPipelineStopped());
});
const send = (message: DemoWorkerMessage) => port.postMessage(message);
const log: DemoLogger = {
  info: (message, fields) => send({ type: 'log', level: 'info', message, fields }),
  warn: (message, fields) => send({ type: 'log', level: 'warn', message, fields }),
  error: (message, fields) => send({ type: 'log', level: 'error', message, fields }),
};
// A few connections: the runs use one at a time, plus one for a concurrent write.
const db = connectDatabase(data.databaseUrl, { maxConnections: 3 });
try {
  const outcome = await runDemoPipeline({ db, log, settings: data.settings, signal: controller.signal });
  send({ type: 'outcome', outcome });
} finally {
  await db.close();
  port.unref(); // nothing else keeps the thread alive: it exits, and the parent sees 'exit' after the outcome
}
