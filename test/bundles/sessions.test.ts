/** @jest-environment ./test/bundles/onnx-environment.cjs */
// Sessions with a device choice, on real onnxruntime-node sessions. There is no GPU on the
// development machines, so the GPU tests here check the FALLBACK path: a cuda or webgpu request
// whose provider cannot load ends as a real CPU session that computes the right numbers, reports
// device 'cpu' (what the run records) and warns with what to install. On a host where the provider
// does load, the same tests check that the session reports that provider and computes the same.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, encodeModel } from '../../src/bundles/onnx-model.ts';
import {
  DEVICES, SessionError, commonDevice, createSession, cudaProviderInstalled, isDevice, ort, resetUnavailableProviders, type Device, type SessionModel,
} from '../../src/bundles/sessions.ts';
import { GraphBuilder } from '../../src/demo/tiny-bundle/graph-builder.ts';

let work: string;
let model: SessionModel;
const WEIGHT = new Float32Array([0.5, -2, 3]);

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'probe-atlas-sessions-'));
  // y = tanh(x · w) per column: small, but a real graph with a weight, so a wrong session shows.
  const g = new GraphBuilder();
  const x = g.input('x', DataType.FLOAT, ['batch', 3]);
  const w = g.weight('w', [3], WEIGHT);
  g.one('Tanh', [g.one('Mul', [x, w])], {}, 'y');
  g.output('y', DataType.FLOAT, ['batch', 3]);
  const file = path.join(work, 'model.onnx');
  writeFileSync(file, encodeModel(g.model('sessions-test')));
  model = { modelPath: file, externalData: [], externalMode: 'none' };
});

afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(() => resetUnavailableProviders());

async function checkComputes(session: ort.InferenceSession): Promise<void> {
  const input = new Float32Array([1, 2, 3, -1, 0, 0.25]);
  const out = await session.run({ x: new ort.Tensor('float32', input, [2, 3]) });
  const y = out.y!.data as Float32Array;
  const expected = Array.from(input, (v, i) => Math.tanh(v * WEIGHT[i % 3]!));
  expect(Array.from(y)).toHaveLength(6);
  y.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
}

describe('createSession', () => {
  it('opens a CPU session that reports cpu, with no warning', async () => {
    const opened = await createSession(model, 'cpu');
    expect(opened).toMatchObject({ device: 'cpu', requested: 'cpu' });
    expect(opened.warning).toBeUndefined();
    await checkComputes(opened.session);
    await opened.session.release();
  });

  const cuda = cudaProviderInstalled();
  it(cuda ? 'cuda: the provider is installed here, so the session reports cuda (or, without a usable GPU, falls back and says so)'
    : 'cuda without its provider libraries (this machine): falls back to a real CPU session, reports cpu and says how to install CUDA', async () => {
    const opened = await createSession(model, 'cuda');
    expect(opened.requested).toBe('cuda');
    if (cuda && opened.device === 'cuda') {
      expect(opened.warning).toBeUndefined();
    } else {
      expect(opened.device).toBe('cpu');
      expect(opened.warning).toMatch(/^CUDA was requested but is unavailable \(.+\); running on the CPU instead, and the run records device cpu\./);
      expect(opened.warning).toContain('node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12');
      expect(opened.warning).toContain('cuDNN 9');
    }
    await checkComputes(opened.session);
    await opened.session.release();
  });

  it('webgpu: the bundled provider runs where a GPU adapter exists; elsewhere (no adapter on this machine) a real CPU session reports cpu and names the Vulkan driver it needs', async () => {
    const opened = await createSession(model, 'webgpu');
    expect(opened.requested).toBe('webgpu');
    if (opened.device === 'webgpu') {
      expect(opened.warning).toBeUndefined();
    } else {
      expect(opened.device).toBe('cpu');
      expect(opened.warning).toMatch(/^WebGPU was requested but is unavailable \(.+\); running on the CPU instead/);
      expect(opened.warning).toMatch(/Vulkan/);
    }
    await checkComputes(opened.session);
    await opened.session.release();
  });

  it('a provider that failed once is not tried again in the process: the next session falls back with the same warning', async () => {
    const first = await createSession(model, 'webgpu');
    if (first.device === 'webgpu') {
      // A GPU host: nothing fails, so there is no memo to check; both sessions are on the GPU.
      const second = await createSession(model, 'webgpu');
      expect(second.device).toBe('webgpu');
      await Promise.all([first.session.release(), second.session.release()]);
      return;
    }
    const second = await createSession(model, 'webgpu');
    expect(second).toMatchObject({ device: 'cpu', requested: 'webgpu', warning: first.warning });
    await checkComputes(second.session);
    await Promise.all([first.session.release(), second.session.release()]);
  });
});

describe('commonDevice', () => {
  it('is the one provider every session ran on', () => {
    expect(commonDevice(['cuda', 'cuda', 'cuda'])).toBe('cuda');
    expect(commonDevice(['webgpu'])).toBe('webgpu');
    expect(commonDevice(['cpu', 'cpu'])).toBe('cpu');
  });

  it('refuses sessions on different providers, naming each, instead of recording either', () => {
    const mixed = () => commonDevice(['cuda', 'cuda', 'cpu'], ['text_encoder', 'unet', 'vae_decoder']);
    expect(mixed).toThrow(SessionError);
    expect(mixed).toThrow(/text_encoder on cuda, unet on cuda, vae_decoder on cpu/);
    try {
      mixed();
    } catch (error) {
      expect(error).toMatchObject({ code: 'MIXED_DEVICES', kind: 'failed' });
    }
  });
});

describe('devices', () => {
  it('are cpu, cuda and webgpu, and nothing else passes isDevice', () => {
    expect(DEVICES).toEqual(['cpu', 'cuda', 'webgpu'] satisfies Device[]);
    expect(DEVICES.every(isDevice)).toBe(true);
    for (const wrong of ['gpu', 'CUDA', '', 'tensorrt', 3, null]) expect(isDevice(wrong)).toBe(false);
  });
});
