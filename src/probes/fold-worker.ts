// Worker-thread side of fold-pool.ts: fits one outer fold per message with a backend rebuilt from
// its spec (ONNX Runtime with one intra-op thread: the pool already uses one worker per core).
import { parentPort } from 'node:worker_threads';
import { backendFromSpec, type MatmulBackend } from './matmul-backend.ts';
import type { FoldReply, FoldTask } from './fold-pool.ts';
import { fitOuterFold } from './outer-fold.ts';

const backends = new Map<string, Promise<MatmulBackend>>();

parentPort!.on('message', async (task: FoldTask) => {
  let reply: FoldReply;
  try {
    const key = JSON.stringify(task.spec);
    let backend = backends.get(key);
    if (backend === undefined) backends.set(key, (backend = backendFromSpec(task.spec, 1)));
    const result = await fitOuterFold(task.features, task.d, task.targets, task.columns, task.train, task.test, task.alphas, await backend, task.options);
    reply = { id: task.id, result };
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    reply = { id: task.id, error: { message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) } };
  }
  parentPort!.postMessage(reply);
});
