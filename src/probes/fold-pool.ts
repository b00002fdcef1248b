// A small persistent pool of worker threads that fits the outer folds of a ridge CV in parallel
// (one fold per message; features and targets shared through SharedArrayBuffer, never copied per
// fold). Created on first use and reused by every later cell of the process. Idle workers are
// unref'd so the pool never keeps a process alive; `closeFoldPool()` ends them explicitly. Each
// worker gives ONNX Runtime one intra-op thread, so N workers use N cores without oversubscription.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BackendSpec, MatmulBackend } from './matmul-backend.ts';
import type { FoldOptions, OuterFoldResult } from './outer-fold.ts';

/** Folds with fewer training rows than this run in the calling thread (the O(n³) work per fold is then too small to repay a message round trip). */
export const PARALLEL_MIN_TRAIN_ROWS = 96;
const MAX_WORKERS = 8;

export function poolSize(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_WORKERS));
}

export function canRebuildInWorker(backend: MatmulBackend): boolean {
  return backend.spec !== undefined;
}

/** What a worker receives per fold. The typed arrays over SharedArrayBuffers are shared, not copied. */
export interface FoldTask {
  id: number;
  spec: BackendSpec;
  features: Float32Array | Float64Array;
  d: number;
  targets: Float64Array;
  columns: number;
  alphas: readonly number[];
  options: FoldOptions;
  train: Int32Array;
  test: Int32Array;
}

export type FoldReply = { id: number; result: OuterFoldResult } | { id: number; error: { message: string; stack?: string } };

interface Pending {
  task: FoldTask;
  resolve: (result: OuterFoldResult) => void;
  reject: (error: Error) => void;
}

/**
 * Starts a worker on this directory's fold-worker module. Run from TypeScript sources (tsx, jest),
 * the worker first registers tsx's ESM loader in its own thread (Node 20 does not carry the
 * parent's loader hooks into workers), then imports the .ts module.
 */
function startWorker(): Worker {
  const url = new URL('./fold-worker.ts', import.meta.url);
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  const tsxRoot = path.dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  const tsxApi = pathToFileURL(path.join(tsxRoot, 'dist/esm/api/index.mjs')).href; // the ESM build of 'tsx/esm/api'
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}

class FoldPool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private readonly workers = new Set<Worker>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly size: number) {}

  run(task: Omit<FoldTask, 'id'>): Promise<OuterFoldResult> {
    if (this.closed) return Promise.reject(new Error('The fold pool is closed.'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task: { ...task, id: this.nextId++ }, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (worker === undefined && this.workers.size < this.size) worker = this.spawn();
      if (worker === undefined) return;
      const pending = this.queue.shift()!;
      this.running.set(worker, pending);
      worker.ref(); // a fold in flight keeps the process alive until its result arrives
      worker.postMessage(pending.task);
    }
  }

  private spawn(): Worker {
    const worker = startWorker();
    worker.unref();
    this.workers.add(worker);
    worker.on('message', (reply: FoldReply) => {
      const pending = this.running.get(worker);
      if (pending === undefined || pending.task.id !== reply.id) return;
      this.running.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if ('error' in reply) {
        const error = new Error(`fold worker: ${reply.error.message}`);
        if (reply.error.stack) error.stack = reply.error.stack;
        pending.reject(error);
      } else pending.resolve(reply.result);
      this.dispatch();
    });
    const fail = (error: Error) => {
      this.workers.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      const pending = this.running.get(worker);
      this.running.delete(worker);
      pending?.reject(error);
      if (!this.closed) this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`fold worker exited with code ${code} before replying.`)));
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const error = new Error('The fold pool was closed.');
    for (const pending of this.queue.splice(0)) pending.reject(error);
    await Promise.all([...this.workers].map((worker) => worker.terminate()));
    this.workers.clear();
    this.idle.length = 0;
  }
}

let pool: FoldPool | undefined;

function sharedCopy(values: Float32Array | Float64Array): Float32Array | Float64Array {
  if (values.buffer instanceof SharedArrayBuffer) return values;
  const shared = values instanceof Float32Array
    ? new Float32Array(new SharedArrayBuffer(values.length * 4))
    : new Float64Array(new SharedArrayBuffer(values.length * 8));
  shared.set(values);
  return shared;
}

export interface PoolFolds {
  features: Float32Array | Float64Array;
  d: number;
  targets: Float64Array;
  columns: number;
  alphas: readonly number[];
  backend: MatmulBackend;
  options: FoldOptions;
  folds: { train: Int32Array; test: Int32Array }[];
}

/** Fits every fold on the pool; results in fold order. */
export async function fitFoldsInPool(input: PoolFolds): Promise<OuterFoldResult[]> {
  const spec = input.backend.spec;
  if (spec === undefined) throw new Error(`Backend ${input.backend.name} cannot be rebuilt in a worker thread.`);
  pool ??= new FoldPool(poolSize());
  const active = pool;
  const features = sharedCopy(input.features);
  const targets = sharedCopy(input.targets) as Float64Array;
  const alphas = [...input.alphas];
  return Promise.all(input.folds.map(({ train, test }) => active.run({ spec, features, d: input.d, targets, columns: input.columns, alphas, options: input.options, train, test })));
}

/** Ends the pool's workers (a later fit starts a new pool). Call once a process's probing is done. */
export async function closeFoldPool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.close();
}
