// ONNX Runtime sessions with a device choice: cpu, cuda or webgpu. onnxruntime-node does NOT fall
// back by itself: asking for CUDA where its provider libraries (or a GPU) are missing, or for WebGPU
// where no adapter is found, throws at session creation. So we catch that, warn in plain words with
// what to install, retry on the CPU, and report the execution provider that ACTUALLY ran, which is
// what a run records (extraction_run.device) and the API serves. docs/bundles.md "GPU hosts".
import * as ort from 'onnxruntime-node';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CodedError } from '../errors.ts';
import type { TappedModel } from './tapped-model.ts';

export type Device = 'cpu' | 'cuda' | 'webgpu';

/** Every device `--device` accepts, in the order the docs list them. */
export const DEVICES: readonly Device[] = ['cpu', 'cuda', 'webgpu'];

export function isDevice(value: unknown): value is Device {
  return typeof value === 'string' && (DEVICES as readonly string[]).includes(value);
}

/** What a session needs of a (tapped) model file. */
export type SessionModel = Pick<TappedModel, 'modelPath' | 'externalData' | 'externalMode'>;

export interface SessionResult {
  session: ort.InferenceSession;
  /** The execution provider that actually runs this session (not the one requested). */
  device: Device;
  /** The device that was asked for. */
  requested: Device;
  /** Set when the requested device was unavailable and the session fell back to the CPU. */
  warning?: string;
}

export type SessionErrorCode = 'MIXED_DEVICES';

/** A set of sessions that did not all open on one execution provider (a run keeps one device). */
export class SessionError extends CodedError<SessionErrorCode> {
  constructor(code: SessionErrorCode, message: string, options?: ErrorOptions) {
    super(code, 'failed', message, options);
  }
}

/**
 * Where onnxruntime-node keeps its native libraries, and whether its CUDA provider library is
 * there: the npm package ships without it, its install script fetches it (INSTALL_HINTS.cuda).
 * Present is necessary, not sufficient: the library still needs the NVIDIA driver, CUDA 12 and cuDNN 9.
 */
export function onnxRuntimeLibraryDir(): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
}

export function cudaProviderInstalled(): boolean {
  const dir = onnxRuntimeLibraryDir();
  return existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so')) && existsSync(path.join(dir, 'libonnxruntime_providers_shared.so'));
}

let quieted = false;

/** ORT prints provider-loading noise to stderr before throwing; our warning says what matters. */
export function quietOnnxRuntime(): void {
  if (quieted) return;
  ort.env.logLevel = 'fatal';
  quieted = true;
}

/** How to get each GPU provider, for the fallback warning (docs/bundles.md "GPU hosts" says more). */
export const INSTALL_HINTS: Readonly<Record<Exclude<Device, 'cpu'>, string>> = {
  cuda:
    'the CUDA provider is not part of the npm package: on a Linux x64 host with an NVIDIA driver, CUDA 12 and cuDNN 9, run ' +
    '`node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12` (it downloads it from NuGet; ' +
    '`npm rebuild onnxruntime-node` does nothing here because package.json allowScripts turns that install script off)',
  webgpu:
    'the WebGPU provider is bundled but needs a GPU adapter: on Linux the Vulkan loader (libvulkan.so.1, package libvulkan1) ' +
    "and a Vulkan driver for the GPU (NVIDIA's driver ships one; Mesa's is mesa-vulkan-drivers); `vulkaninfo --summary` lists the GPUs it sees",
};

/**
 * Providers that failed in this process, with the first reason. A provider that cannot load for
 * one model cannot for the next (missing libraries, no adapter), so later sessions go straight to
 * the CPU with the same warning and every component of a run ends on the same device.
 */
const unavailable = new Map<Exclude<Device, 'cpu'>, string>();

/** Forgets the providers that failed (tests; a long-lived process after installing a provider). */
export function resetUnavailableProviders(): void {
  unavailable.clear();
}

function sessionOptions(device: Device, model: SessionModel, threads: number | undefined): ort.InferenceSession.SessionOptions {
  return {
    // The CPU stays in the list so nodes the GPU provider cannot run are placed on it (ORT's
    // per-node assignment); it is not a fallback for a provider that fails to load.
    executionProviders: device === 'cpu' ? ['cpu'] : [device, 'cpu'],
    graphOptimizationLevel: 'all',
    ...(threads ? { intraOpNumThreads: threads } : {}),
    ...(model.externalData.length ? { externalData: model.externalData } : {}),
  };
}

async function open(model: SessionModel, device: Device, threads: number | undefined): Promise<ort.InferenceSession> {
  const options = sessionOptions(device, model, threads);
  // With in-memory external data ORT needs the model as bytes (a path would make it look on disk).
  if (model.externalMode === 'memory') return ort.InferenceSession.create(readFileSync(model.modelPath), options);
  return ort.InferenceSession.create(model.modelPath, options);
}

/** ORT's first line, without the C++ source location and assertion text it puts before the reason. */
function shortReason(error: unknown): string {
  const line = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim();
  const reason = line.includes(' was false. ') ? line.slice(line.lastIndexOf(' was false. ') + ' was false. '.length) : line;
  return reason.length > 300 ? `${reason.slice(0, 299)}…` : reason;
}

function fallbackWarning(device: Exclude<Device, 'cpu'>, reason: string): string {
  const name = device === 'cuda' ? 'CUDA' : 'WebGPU';
  return `${name} was requested but is unavailable (${reason}); running on the CPU instead, and the run records device cpu. To use ${name}: ${INSTALL_HINTS[device]}.`;
}

export async function createSession(model: SessionModel, device: Device, options: { threads?: number } = {}): Promise<SessionResult> {
  quietOnnxRuntime();
  if (device === 'cpu') return { session: await open(model, 'cpu', options.threads), device: 'cpu', requested: 'cpu' };
  const known = unavailable.get(device);
  if (known === undefined) {
    try {
      return { session: await open(model, device, options.threads), device, requested: device };
    } catch (error) {
      unavailable.set(device, shortReason(error));
    }
  }
  const warning = fallbackWarning(device, unavailable.get(device)!);
  return { session: await open(model, 'cpu', options.threads), device: 'cpu', requested: device, warning };
}

/**
 * The one device a set of sessions ran on (what a run records). Sessions that ended on different
 * providers (the GPU opened for one model, then failed for the next, e.g. out of GPU memory) are
 * refused rather than recorded as either: `names` label them in the message.
 */
export function commonDevice(devices: readonly Device[], names: readonly string[] = []): Device {
  const distinct = [...new Set(devices)];
  if (distinct.length === 1) return distinct[0]!;
  if (distinct.length === 0) return 'cpu';
  const where = devices.map((d, i) => `${names[i] ?? `session ${i + 1}`} on ${d}`).join(', ');
  const reasons = [...unavailable.entries()].map(([d, reason]) => `${d}: ${reason}`).join('; ');
  throw new SessionError(
    'MIXED_DEVICES',
    `The sessions of one run opened on different execution providers (${where})${reasons ? ` — ${reasons}` : ''}. ` +
      'A run keeps one device: free GPU memory, or run with --device cpu.',
  );
}

export { ort };
