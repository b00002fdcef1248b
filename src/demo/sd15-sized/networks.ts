// The three networks of the SD-1.5-SIZED benchmark bundle: Stable Diffusion 1.5's activation shapes
// (77×768 text states over 12 layers; a UNet on 4×64×64 latents with 320/640/1280/1280 channels at
// 64/32/16/8, mid 1280×8×8 and mirrored up blocks; a VAE decoder 4×64×64 → 3×512×512 through
// 512/512/256/128-channel up blocks) built from CHEAP ops (per-channel scales, pooling, nearest
// resizing, 1×1 convolutions), so what the benchmark measures is what leaves session.run and the
// host's work around it, not FLOPs. Node names follow the Optimum (torch.onnx) scope layout, so
// DEFAULT_TAPS resolve to the same blocks as on a real export. NOT Stable Diffusion.
import { DataType } from '../../bundles/onnx-model.ts';
import { gaussian } from '../../extraction/random.ts';
import { GraphBuilder } from '../tiny-bundle/graph-builder.ts';

export interface Sd15Sizes {
  /** Text: hidden width, layers, positions (SD 1.5: 768, 12, 77). */
  hidden: number;
  layers: number;
  maxPositions: number;
  vocabSize: number;
  /** UNet: latent channels and side (4, 64), block channels (320, 640, 1280, 1280). */
  latentChannels: number;
  latentSize: number;
  unetChannels: [number, number, number, number];
  /** VAE decoder: channels of its mid block and four up blocks (512; 512, 512, 256, 128). */
  vaeChannels: [number, number, number, number, number];
}

export const SD15_SIZES: Omit<Sd15Sizes, 'vocabSize'> = {
  hidden: 768,
  layers: 12,
  maxPositions: 77,
  latentChannels: 4,
  latentSize: 64,
  unetChannels: [320, 640, 1280, 1280],
  vaeChannels: [512, 512, 512, 256, 128],
};

/** Seeded weights, one stream per tensor (as the tiny bundle's). */
class Weights {
  private counter = 0;
  constructor(private readonly seed: number) {}
  normal(size: number, std: number, mean = 0): Float32Array {
    const values = gaussian(size, (this.seed * 1_000_003 + ++this.counter * 7919) >>> 0, std);
    if (mean) for (let i = 0; i < size; i++) values[i]! += mean;
    return values;
  }
}

/** A per-channel vector shaped [1, C, 1, 1] (broadcasts over batch and space). */
function channelVector(g: GraphBuilder, w: Weights, name: string, channels: number, std: number, mean = 0): string {
  return g.weight(name, [1, channels, 1, 1], w.normal(channels, std, mean));
}

/** A 1×1 convolution: the cheapest real channel mixing (in → out channels, same space). */
function pointwise(g: GraphBuilder, w: Weights, x: string, cin: number, cout: number, scope: string): string {
  return g.scope(scope, () => {
    const weight = g.weight('weight', [cout, cin, 1, 1], w.normal(cout * cin, 1 / Math.sqrt(cin)));
    const bias = g.weight('bias', [cout], w.normal(cout, 0.02));
    return g.one('Conv', [x, weight, bias], { kernel_shape: [1, 1] });
  });
}

/** Changes channel count cheaply: doubling by [x, a·x], halving by averaging the two halves. */
function rechannel(g: GraphBuilder, w: Weights, x: string, cin: number, cout: number): string {
  if (cin === cout) return x;
  if (cout === 2 * cin) return g.one('Concat', [x, g.one('Mul', [x, channelVector(g, w, 'expand', cin, 0.3, 0.5)])], { axis: 1 });
  if (cin === 2 * cout) {
    const first = g.one('Slice', [x, g.ints([0]), g.ints([cout]), g.ints([1])]);
    const second = g.one('Slice', [x, g.ints([cout]), g.ints([cin]), g.ints([1])]);
    return g.one('Mul', [g.one('Add', [first, second]), g.scalar(0.5)]);
  }
  throw new Error(`sd15-sized: no cheap channel change from ${cin} to ${cout}`);
}

/** A "resnet": x + tanh(x·scale + conditioning), conditioning broadcast per channel ([B or 1, C, 1, 1]). */
function resnet(g: GraphBuilder, w: Weights, x: string, cin: number, cout: number, scope: string, conditioning: ((c: number) => string) | null): string {
  return g.scope(scope, () => {
    const h = rechannel(g, w, x, cin, cout);
    let pre = g.one('Mul', [h, channelVector(g, w, 'scale', cout, 0.2, 1)]);
    if (conditioning) pre = g.one('Add', [pre, conditioning(cout)]);
    return g.one('Add', [h, g.one('Tanh', [pre])]);
  });
}

/** An "attention": x + sigmoid(x)·gate, the gate per channel from the text states ([B, C, 1, 1]). */
function attention(g: GraphBuilder, x: string, scope: string, gate: string): string {
  return g.scope(scope, () => g.one('Add', [x, g.one('Mul', [g.one('Sigmoid', [x]), gate])]));
}

// ───────────────────────────── text encoder ─────────────────────────────

export function textEncoderGraph(sizes: Sd15Sizes, seed: number) {
  const g = new GraphBuilder();
  const w = new Weights(seed);
  const D = sizes.hidden;
  const ids = g.input('input_ids', DataType.INT32, ['batch_size', 'sequence_length']);
  const seqLen = g.one('Slice', [g.one('Shape', [ids]), g.ints([1]), g.ints([2]), g.ints([0])]);
  g.scope('text_model', () => {
    let x = g.scope('embeddings', () => {
      const table = g.scope('token_embedding', () => g.weight('weight', [sizes.vocabSize, D], w.normal(sizes.vocabSize * D, 0.4)));
      const positions = g.scope('position_embedding', () => g.weight('weight', [sizes.maxPositions, D], w.normal(sizes.maxPositions * D, 0.1)));
      return g.one('Add', [g.one('Gather', [table, ids]), g.one('Slice', [positions, g.ints([0]), seqLen, g.ints([0])])]);
    });
    g.scope('encoder', () => {
      for (let layer = 0; layer < sizes.layers; layer++) {
        x = g.scope(`layers.${layer}`, () => {
          const normed = g.scope('layer_norm1', () => g.one('LayerNormalization', [x, g.weight('weight', [D], new Float32Array(D).fill(1)), g.weight('bias', [D], new Float32Array(D))], { axis: -1, epsilon: { float: 1e-5 } }));
          const mixed = g.scope('mlp', () => g.one('Tanh', [g.one('Add', [g.one('Mul', [normed, g.weight('scale', [D], w.normal(D, 0.3, 1))]), g.weight('bias', [D], w.normal(D, 0.1))])]));
          return g.one('Add', [x, mixed]);
        });
      }
    });
    g.scope('final_layer_norm', () => g.one('LayerNormalization', [x, g.weight('weight', [D], new Float32Array(D).fill(1)), g.weight('bias', [D], new Float32Array(D))], { axis: -1, epsilon: { float: 1e-5 } }, 'last_hidden_state'));
  });
  g.output('last_hidden_state', DataType.FLOAT, ['batch_size', 'sequence_length', D]);
  return g.model('text_encoder');
}

// ───────────────────────────── UNet ─────────────────────────────

export function unetGraph(sizes: Sd15Sizes, seed: number) {
  const g = new GraphBuilder();
  const w = new Weights(seed);
  const C = sizes.latentChannels;
  const D = sizes.hidden;
  const [c0, c1, c2, c3] = sizes.unetChannels;
  const widest = Math.max(...sizes.unetChannels);
  const sample = g.input('sample', DataType.FLOAT, ['batch_size', C, 'height', 'width']);
  const timestep = g.input('timestep', DataType.INT64, ['steps']);
  const context = g.input('encoder_hidden_states', DataType.FLOAT, ['batch_size', 'sequence_length', D]);

  // Time embedding [steps, widest] and text conditioning [B, widest]; each block takes its first C channels.
  const temb = g.scope('time_embedding', () => {
    const t = g.one('Unsqueeze', [g.one('Cast', [timestep], { to: DataType.FLOAT }), g.ints([1])]);
    const freqs = new Float32Array(widest).map((_, i) => Math.exp((-Math.log(10000) * i) / widest));
    return g.one('Sin', [g.one('Mul', [t, g.weight('frequencies', [1, widest], freqs)])]);
  });
  const text = g.scope('text_projection', () => {
    const pooled = g.one('ReduceMean', [context], { axes: [1], keepdims: 0 });
    return g.one('MatMul', [pooled, g.weight('weight', [D, widest], w.normal(D * widest, 1 / Math.sqrt(D)))]);
  });
  const perChannel = (source: string) => (channels: number) =>
    g.one('Unsqueeze', [g.one('Slice', [source, g.ints([0]), g.ints([channels]), g.ints([1])]), g.ints([2, 3])]);
  const timeOf = perChannel(temb);
  const textOf = perChannel(text);
  const both = (channels: number) => g.one('Add', [timeOf(channels), textOf(channels)]);
  const gate = (channels: number) => g.one('Sigmoid', [textOf(channels)]);

  let h = pointwise(g, w, sample, C, c0, 'conv_in');
  const skips: string[] = [];
  const downs = [c0, c1, c2, c3];
  let cin = c0;
  downs.forEach((channels, i) => {
    h = g.scope(`down_blocks.${i}`, () => {
      let x = resnet(g, w, h, cin, channels, 'resnets.0', both);
      if (i < 3) x = attention(g, x, 'attentions.0', gate(channels));
      skips.push(x);
      return i < 3 ? g.scope('downsamplers.0', () => g.one('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] })) : x;
    });
    cin = channels;
  });
  h = g.scope('mid_block', () => {
    const r = resnet(g, w, h, c3, c3, 'resnets.0', both);
    return resnet(g, w, attention(g, r, 'attentions.0', gate(c3)), c3, c3, 'resnets.1', both);
  });
  const ups = [c3, c2, c1, c0];
  cin = c3;
  ups.forEach((channels, j) => {
    h = g.scope(`up_blocks.${j}`, () => {
      let x = g.one('Add', [resnet(g, w, h, cin, channels, 'resnets.0', both), skips[3 - j]!]);
      if (j > 0) x = attention(g, x, 'attentions.0', gate(channels));
      return j < 3 ? g.scope('upsamplers.0', () => g.one('Resize', [x, '', g.weight('scales', [4], new Float32Array([1, 1, 2, 2]))], { mode: 'nearest' })) : x;
    });
    cin = channels;
  });
  const act = g.scope('conv_act', () => g.one('Mul', [h, g.one('Sigmoid', [h])]));
  g.scope('conv_out', () => {
    const weight = g.weight('weight', [C, c0, 1, 1], w.normal(C * c0, 0.5 / Math.sqrt(c0)));
    g.one('Conv', [act, weight, g.weight('bias', [C], new Float32Array(C))], { kernel_shape: [1, 1] }, 'out_sample');
  });
  g.output('out_sample', DataType.FLOAT, ['batch_size', C, 'height', 'width']);
  return g.model('unet');
}

// ───────────────────────────── VAE decoder ─────────────────────────────

export function vaeDecoderGraph(sizes: Sd15Sizes, seed: number) {
  const g = new GraphBuilder();
  const w = new Weights(seed);
  const C = sizes.latentChannels;
  const [mid, ...ups] = sizes.vaeChannels;
  const latent = g.input('latent_sample', DataType.FLOAT, ['batch_size', C, 'latent_height', 'latent_width']);
  const quant = pointwise(g, w, latent, C, C, 'post_quant_conv');
  g.scope('decoder', () => {
    let h = pointwise(g, w, quant, C, mid, 'conv_in');
    h = g.scope('mid_block', () => resnet(g, w, attention(g, resnet(g, w, h, mid, mid, 'resnets.0', null), 'attentions.0', channelVector(g, w, 'gate', mid, 0.1, 0.5)), mid, mid, 'resnets.1', null));
    let cin = mid;
    ups.forEach((channels, j) => {
      h = g.scope(`up_blocks.${j}`, () => {
        const x = resnet(g, w, h, cin, channels, 'resnets.0', null);
        return j < 3 ? g.scope('upsamplers.0', () => g.one('Resize', [x, '', g.weight('scales', [4], new Float32Array([1, 1, 2, 2]))], { mode: 'nearest' })) : x;
      });
      cin = channels;
    });
    const act = g.scope('conv_act', () => g.one('Mul', [h, g.one('Sigmoid', [h])]));
    const last = ups[ups.length - 1]!;
    g.scope('conv_out', () => {
      const weight = g.weight('weight', [3, last, 1, 1], w.normal(3 * last, 1 / Math.sqrt(last)));
      g.one('Conv', [act, weight, g.weight('bias', [3], new Float32Array(3))], { kernel_shape: [1, 1] }, 'sample');
    });
  });
  g.output('sample', DataType.FLOAT, ['batch_size', 3, 'height', 'width']);
  return g.model('vae_decoder');
}
