/** @jest-environment ./test/bundles/onnx-environment.cjs */
// scripts/bench/gpu.sh on a host without a usable GPU provider (the development machines): it must
// exit non-zero with what is missing and how to install it, having timed nothing, and it refuses to
// be pointed at the CPU. On a GPU host the "no provider" cases do not apply and say so in their titles.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { DataType, encodeModel } from '../../src/bundles/onnx-model.ts';
import { createSession, cudaProviderInstalled } from '../../src/bundles/sessions.ts';
import { GraphBuilder } from '../../src/demo/tiny-bundle/graph-builder.ts';

interface Outcome { code: number | null; stdout: string; stderr: string }

function gpuScript(env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile('bash', ['scripts/bench/gpu.sh'], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, timeout: 90_000 },
      (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }));
  });
}

const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;
const cuda = cudaProviderInstalled();
let webgpu = false;

beforeAll(async () => {
  // Whether this host has a WebGPU adapter: a real session, as the script itself probes.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-gpu-probe-'));
  try {
    const g = new GraphBuilder();
    g.one('Relu', [g.input('x', DataType.FLOAT, [4])], {}, 'y');
    g.output('y', DataType.FLOAT, [4]);
    const file = path.join(dir, 'probe.onnx');
    writeFileSync(file, encodeModel(g.model('probe')));
    const opened = await createSession({ modelPath: file, externalData: [], externalMode: 'none' }, 'webgpu');
    webgpu = opened.device === 'webgpu';
    await opened.session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

(cuda ? test.skip : test)(
  cuda ? 'GPU_BENCH_DEVICE=cuda without the CUDA provider… SKIPPED: the provider libraries are installed on this host'
    : 'GPU_BENCH_DEVICE=cuda without the CUDA provider libraries: exit 3, what is missing and the install command, nothing timed',
  async () => {
    const out = await gpuScript({ GPU_BENCH_DEVICE: 'cuda' });
    expect(out.code).toBe(3);
    expect(out.stderr).toContain('bench:gpu: NO_GPU_PROVIDER: no GPU execution provider loads on this host, so nothing was timed');
    expect(out.stderr).toContain('libonnxruntime_providers_cuda.so');
    expect(out.stderr).toContain('node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12');
    expect(out.stderr).not.toMatch(STACK_FRAME);
    expect(out.stdout).toContain('CUDA provider libraries');
    expect(out.stdout).not.toMatch(/it\/s|projected wall time/);
  },
  120_000,
);

(cuda || webgpu ? test.skip : test)(
  cuda || webgpu ? 'with no provider forced, on a host with neither… SKIPPED: this host has a GPU provider'
    : 'with no provider forced, on a host with neither CUDA libraries nor a WebGPU adapter: exit 3 naming both and how to get each',
  async () => {
    const out = await gpuScript({ GPU_BENCH_DEVICE: undefined });
    expect(out.code).toBe(3);
    expect(out.stderr).toMatch(/- CUDA: the provider libraries .* are not installed/);
    expect(out.stderr).toMatch(/- WebGPU was requested but is unavailable \(.*adapter.*\)/);
    expect(out.stderr).toContain('libvulkan.so.1');
    expect(out.stderr).toContain('npm run bench:extract` gives the CPU figures');
    expect(out.stdout).not.toMatch(/it\/s|projected wall time/);
  },
  120_000,
);

test('GPU_BENCH_DEVICE=cpu is refused as bad input (2): the script never times the CPU', async () => {
  const out = await gpuScript({ GPU_BENCH_DEVICE: 'cpu' });
  expect(out.code).toBe(2);
  expect(out.stderr).toContain('bench:gpu: BAD_ARGUMENT: GPU_BENCH_DEVICE must be cuda or webgpu, got "cpu".');
}, 120_000);
