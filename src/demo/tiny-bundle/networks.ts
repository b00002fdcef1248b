// The three tiny networks, shaped like SD's (same graph inputs/outputs, dtypes and module-scoped
// node names as an Optimum export) but small: a 4-layer pre-LN CLIP-style text transformer, a UNet
// with a sinusoidal timestep MLP, 2 down / mid / 2 up blocks with cross-attention to the text
// states, and a VAE-style decoder. Weights are seeded random except the token embeddings.
import { DataType } from '../../bundles/onnx-model.ts';
import { gaussian } from '../../extraction/random.ts';
import { GraphBuilder } from './graph-builder.ts';

export interface TinySizes {
  vocabSize: number;
  hidden: number;
  layers: number;
  maxPositions: number;
  latentChannels: number;
  latentSize: number;
}

/** Seeded weights: each tensor draws from its own stream, so adding one never shifts the others. */
class Weights {
  private counter = 0;
  constructor(private readonly seed: number) {}
  normal(size: number, std: number): Float32Array {
    return gaussian(size, (this.seed * 1_000_003 + ++this.counter * 7919) >>> 0, std);
  }
}

function layerNorm(g: GraphBuilder, x: string, width: number, scope: string): string {
  return g.scope(scope, () => {
    const scale = g.weight('weight', [width], new Float32Array(width).fill(1));
    const bias = g.weight('bias', [width], new Float32Array(width));
    return g.one('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { float: 1e-5 } });
  });
}

function linear(g: GraphBuilder, w: Weights, x: string, inDim: number, outDim: number, scope: string, gain = 1): string {
  return g.scope(scope, () => {
    const weight = g.weight('weight', [inDim, outDim], w.normal(inDim * outDim, gain / Math.sqrt(inDim)));
    const bias = g.weight('bias', [outDim], w.normal(outDim, 0.02));
    return g.one('Add', [g.one('MatMul', [x, weight]), bias]);
  });
}

function conv(g: GraphBuilder, w: Weights, x: string, cin: number, cout: number, scope: string, options: { kernel?: number; stride?: number; gain?: number } = {}): string {
  const k = options.kernel ?? 3;
  return g.scope(scope, () => {
    const weight = g.weight('weight', [cout, cin, k, k], w.normal(cout * cin * k * k, (options.gain ?? 1) / Math.sqrt(cin * k * k)));
    const bias = g.weight('bias', [cout], w.normal(cout, 0.02));
    const pad = (k - 1) / 2;
    return g.one('Conv', [x, weight, bias], { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [options.stride ?? 1, options.stride ?? 1] });
  });
}

function silu(g: GraphBuilder, x: string): string {
  return g.one('Mul', [x, g.one('Sigmoid', [x])]);
}

// ───────────────────────────── text encoder ─────────────────────────────

export function textEncoderGraph(sizes: TinySizes, tokenEmbedding: Float32Array, seed: number) {
  const g = new GraphBuilder();
  const w = new Weights(seed);
  const D = sizes.hidden;
  const ids = g.input('input_ids', DataType.INT32, ['batch_size', 'sequence_length']);
  const shape = g.one('Shape', [ids]);
  const seqLen = g.one('Slice', [shape, g.ints([1]), g.ints([2]), g.ints([0])]);
  const seqScalar = g.one('Squeeze', [seqLen, g.ints([0])]);
  const hidden = g.scope('text_model', () => {
    let x = g.scope('embeddings', () => {
      const table = g.scope('token_embedding', () => g.weight('weight', [sizes.vocabSize, D], tokenEmbedding));
      const tokens = g.one('Gather', [table, ids]);
      const positions = g.scope('position_embedding', () => g.weight('weight', [sizes.maxPositions, D], w.normal(sizes.maxPositions * D, 0.1)));
      const used = g.one('Slice', [positions, g.ints([0]), seqLen, g.ints([0])]);
      return g.one('Add', [tokens, used]);
    });
    // Causal mask: position i attends to positions ≤ i, as in CLIP's text transformer.
    const mask = new Float32Array(sizes.maxPositions * sizes.maxPositions);
    for (let i = 0; i < sizes.maxPositions; i++) for (let j = i + 1; j < sizes.maxPositions; j++) mask[i * sizes.maxPositions + j] = -1e4;
    const fullMask = g.weight('causal_mask', [sizes.maxPositions, sizes.maxPositions], mask);
    const causal = g.one('Slice', [fullMask, g.ints([0, 0]), g.one('Concat', [seqLen, seqLen], { axis: 0 }), g.ints([0, 1])]);
    g.scope('encoder', () => {
      for (let layer = 0; layer < sizes.layers; layer++) {
        x = g.scope(`layers.${layer}`, () => {
          const h = layerNorm(g, x, D, 'layer_norm1');
          const attention = g.scope('self_attn', () => {
            const q = linear(g, w, h, D, D, 'q_proj');
            const k = linear(g, w, h, D, D, 'k_proj');
            const v = linear(g, w, h, D, D, 'v_proj');
            const scores = g.one('Add', [g.one('Mul', [g.one('MatMul', [q, g.one('Transpose', [k], { perm: [0, 2, 1] })]), g.scalar(1 / Math.sqrt(D))]), causal]);
            const mixed = g.one('MatMul', [g.one('Softmax', [scores], { axis: -1 }), v]);
            return linear(g, w, mixed, D, D, 'out_proj');
          });
          const afterAttention = g.one('Add', [x, attention]);
          const h2 = layerNorm(g, afterAttention, D, 'layer_norm2');
          const mlp = g.scope('mlp', () => {
            const up = linear(g, w, h2, D, 2 * D, 'fc1');
            const gelu = g.one('Mul', [up, g.one('Sigmoid', [g.one('Mul', [up, g.scalar(1.702)])])]);
            return linear(g, w, gelu, 2 * D, D, 'fc2');
          });
          return g.one('Add', [afterAttention, mlp]);
        });
      }
    });
    return g.scope('final_layer_norm', () => {
      const scale = g.weight('weight', [D], new Float32Array(D).fill(1));
      const bias = g.weight('bias', [D], new Float32Array(D));
      return g.one('LayerNormalization', [x, scale, bias], { axis: -1, epsilon: { float: 1e-5 } }, 'last_hidden_state');
    });
  });
  // pooler_output: the state at the end-of-text token, found as the highest id (CLIP's argmax trick).
  const eot = g.one('ArgMax', [g.one('Cast', [ids], { to: DataType.FLOAT })], { axis: -1, keepdims: 0 });
  const range = g.one('Range', [g.intScalar(0), seqScalar, g.intScalar(1)]);
  const onehot = g.one('Cast', [g.one('Equal', [g.one('Unsqueeze', [eot, g.ints([1])]), range])], { to: DataType.FLOAT });
  const picked = g.one('MatMul', [g.one('Unsqueeze', [onehot, g.ints([1])]), hidden]);
  g.one('Squeeze', [picked, g.ints([1])], {}, 'pooler_output');
  g.output('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', D]);
  g.output('pooler_output', DataType.FLOAT, ['batch_size', D]);
  return g.model('text_encoder');
}

// ───────────────────────────── UNet ─────────────────────────────

const TIME_FREQUENCIES = 16;
const TIME_EMBED = 64;
const ATTENTION = 32;

function resnet(g: GraphBuilder, w: Weights, x: string, cin: number, cout: number, scope: string, temb: string | null): string {
  return g.scope(scope, () => {
    let h = conv(g, w, silu(g, x), cin, cout, 'conv1');
    if (temb) {
      const projected = linear(g, w, silu(g, temb), TIME_EMBED, cout, 'time_emb_proj');
      h = g.one('Add', [h, g.one('Unsqueeze', [projected, g.ints([2, 3])])]);
    }
    h = conv(g, w, silu(g, h), cout, cout, 'conv2', { gain: 0.5 });
    const skip = cin === cout ? x : conv(g, w, x, cin, cout, 'conv_shortcut', { kernel: 1 });
    return g.one('Add', [skip, h]);
  });
}

function crossAttention(g: GraphBuilder, w: Weights, x: string, channels: number, context: string, contextDim: number, scope: string): string {
  return g.scope(scope, () => {
    const shape = g.one('Shape', [x]);
    const tokens = g.one('Transpose', [g.one('Reshape', [x, g.ints([0, channels, -1])])], { perm: [0, 2, 1] });
    const normed = layerNorm(g, tokens, channels, 'norm');
    const q = linear(g, w, normed, channels, ATTENTION, 'to_q');
    const k = linear(g, w, context, contextDim, ATTENTION, 'to_k');
    const v = linear(g, w, context, contextDim, channels, 'to_v');
    const scores = g.one('Mul', [g.one('MatMul', [q, g.one('Transpose', [k], { perm: [0, 2, 1] })]), g.scalar(1 / Math.sqrt(ATTENTION))]);
    const mixed = g.one('MatMul', [g.one('Softmax', [scores], { axis: -1 }), v]);
    const out = linear(g, w, mixed, channels, channels, 'to_out', 0.5);
    const back = g.one('Reshape', [g.one('Transpose', [out], { perm: [0, 2, 1] }), shape]);
    return g.one('Add', [x, back]);
  });
}

function upsample(g: GraphBuilder, w: Weights, x: string, channels: number): string {
  return g.scope('upsamplers.0', () => {
    const scales = g.weight('scales', [4], new Float32Array([1, 1, 2, 2]));
    const resized = g.one('Resize', [x, '', scales], { mode: 'nearest' });
    return conv(g, w, resized, channels, channels, 'conv');
  });
}

export function unetGraph(sizes: TinySizes, seed: number) {
  const g = new GraphBuilder();
  const w = new Weights(seed);
  const C = sizes.latentChannels;
  const sample = g.input('sample', DataType.FLOAT, ['batch_size', C, 'height', 'width']);
  const timestep = g.input('timestep', DataType.INT64, ['steps']);
  const context = g.input('encoder_hidden_states', DataType.FLOAT, ['batch_size', 'sequence_length', sizes.hidden]);
  const D = sizes.hidden;
  const projected = g.scope('time_proj', () => {
    const freqs = new Float32Array(TIME_FREQUENCIES);
    for (let i = 0; i < TIME_FREQUENCIES; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / TIME_FREQUENCIES);
    const t = g.one('Unsqueeze', [g.one('Cast', [timestep], { to: DataType.FLOAT }), g.ints([1])]);
    const angles = g.one('Mul', [t, g.weight('frequencies', [1, TIME_FREQUENCIES], freqs)]);
    return g.one('Concat', [g.one('Cos', [angles]), g.one('Sin', [angles])], { axis: 1 });
  });
  const temb = g.scope('time_embedding', () => linear(g, w, silu(g, linear(g, w, projected, 2 * TIME_FREQUENCIES, TIME_EMBED, 'linear_1')), TIME_EMBED, TIME_EMBED, 'linear_2'));
  let h = conv(g, w, sample, C, 32, 'conv_in');
  let skip0 = '';
  let skip1 = '';
  h = g.scope('down_blocks.0', () => {
    const r = resnet(g, w, h, 32, 32, 'resnets.0', temb);
    skip0 = crossAttention(g, w, r, 32, context, D, 'attentions.0');
    return g.scope('downsamplers.0', () => conv(g, w, skip0, 32, 32, 'conv', { stride: 2 }));
  });
  h = g.scope('down_blocks.1', () => {
    const r = resnet(g, w, h, 32, 64, 'resnets.0', temb);
    skip1 = crossAttention(g, w, r, 64, context, D, 'attentions.0');
    return skip1;
  });
  h = g.scope('mid_block', () => {
    const r = resnet(g, w, h, 64, 64, 'resnets.0', temb);
    const a = crossAttention(g, w, r, 64, context, D, 'attentions.0');
    return resnet(g, w, a, 64, 64, 'resnets.1', temb);
  });
  h = g.scope('up_blocks.0', () => {
    const joined = g.one('Concat', [h, skip1], { axis: 1 });
    const r = resnet(g, w, joined, 128, 64, 'resnets.0', temb);
    const a = crossAttention(g, w, r, 64, context, D, 'attentions.0');
    return upsample(g, w, a, 64);
  });
  h = g.scope('up_blocks.1', () => {
    const joined = g.one('Concat', [h, skip0], { axis: 1 });
    const r = resnet(g, w, joined, 96, 32, 'resnets.0', temb);
    return crossAttention(g, w, r, 32, context, D, 'attentions.0');
  });
  const act = g.scope('conv_act', () => silu(g, h));
  g.scope('conv_out', () => {
    const weight = g.weight('weight', [C, 32, 3, 3], w.normal(C * 32 * 9, 0.5 / Math.sqrt(32 * 9)));
    const bias = g.weight('bias', [C], new Float32Array(C));
    g.one('Conv', [act, weight, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'out_sample');
  });
  g.output('out_sample', DataType.FLOAT, ['batch_size', C, 'height', 'width']);
  return g.model('unet');
}

// ───────────────────────────── VAE decoder ─────────────────────────────

export function vaeDecoderGraph(sizes: TinySizes, seed: number) {
  const g = new GraphBuilder();
  const w = new Weights(seed);
  const C = sizes.latentChannels;
  const latent = g.input('latent_sample', DataType.FLOAT, ['batch_size', C, 'latent_height', 'latent_width']);
  const quant = conv(g, w, latent, C, C, 'post_quant_conv', { kernel: 1 });
  g.scope('decoder', () => {
    let h = conv(g, w, quant, C, 32, 'conv_in');
    h = g.scope('mid_block', () => resnet(g, w, h, 32, 32, 'resnets.0', null));
    h = g.scope('up_blocks.0', () => upsample(g, w, resnet(g, w, h, 32, 32, 'resnets.0', null), 32));
    h = g.scope('up_blocks.1', () => resnet(g, w, h, 32, 16, 'resnets.0', null));
    const act = g.scope('conv_act', () => silu(g, h));
    g.scope('conv_out', () => {
      const weight = g.weight('weight', [3, 16, 3, 3], w.normal(3 * 16 * 9, 1 / Math.sqrt(16 * 9)));
      const bias = g.weight('bias', [3], new Float32Array(3));
      g.one('Conv', [act, weight, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, 'sample');
    });
  });
  g.output('sample', DataType.FLOAT, ['batch_size', 3, 'height', 'width']);
  return g.model('vae_decoder');
}
