// ONNX Runtime sessions with a device choice. onnxruntime-node does NOT fall back by itself: asking
// for CUDA where its libraries (or a GPU) are missing throws at session creation, so we catch that,
// warn once in plain words, and retry on the CPU.
import * as ort from 'onnxruntime-node';
import type { TappedModel } from './tapped-model.ts';

export type Device = 'cpu' | 'cuda';

export interface SessionResult {
  session: ort.InferenceSession;
  /** The device actually used. */
  device: Device;
  /** Set when the requested device was unavailable. */
  warning?: string;
}

let quieted = false;

/** ORT prints provider-loading noise to stderr before throwing; our warning says what matters. */
export function quietOnnxRuntime(): void {
  if (quieted) return;
  ort.env.logLevel = 'fatal';
  quieted = true;
}

function sessionOptions(device: Device, model: TappedModel | undefined, threads: number | undefined): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
    ...(model?.externalData.length ? { externalData: model.externalData } : {}),
  };
}

export async function createSession(model: TappedModel, device: Device, options: { threads?: number } = {}): Promise<SessionResult> {
  quietOnnxRuntime();
  const open = async (d: Device) => {
    const opts = sessionOptions(d, model, options.threads);
    // With in-memory external data ORT needs the model as bytes (a path would make it look on disk).
    if (model.externalMode === 'memory') {
      const { readFileSync } = await import('node:fs');
      return ort.InferenceSession.create(readFileSync(model.modelPath), opts);
    }
    return ort.InferenceSession.create(model.modelPath, opts);
  };
  if (device === 'cpu') return { session: await open('cpu'), device: 'cpu' };
  try {
    return { session: await open('cuda'), device: 'cuda' };
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 300);
    const warning =
      `CUDA was requested but is unavailable (${reason}); falling back to the CPU. ` +
      'Install the CUDA provider with ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node (docs/bundles.md).';
    return { session: await open('cpu'), device: 'cpu', warning };
  }
}

export { ort };
