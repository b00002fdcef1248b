// The identity of an extraction run: the bundle, the resolved taps and every setting that changes a
// number. The device actually used is included (numerics differ by device); the concept list is not,
// so a later invocation with more concepts extends the same run. The batch size is not either: like the
// thread count it is how the work is scheduled, not what is computed (no op of these networks mixes
// batch items, and batch k gives batch 1's vectors to float tolerance, tested), so a run killed at one
// batch size resumes at another. Hashed canonically (sorted keys), so
// readers such as the demo pipeline find a run by `settings_hash` without re-deriving JSON spellings.
import type { Bundle } from '../bundles/bundle.ts';
import type { Device } from '../bundles/sessions.ts';
import { DEFAULT_TAPS, resolveTaps, type ComponentName, type TapConfig } from '../bundles/taps.ts';
import { identityHash } from '../identity.ts';
import { normalizeSettings, selectedComponents, type ComponentSelection, type ExtractionSettings, type VaeMode } from './pipeline.ts';
import { DdimScheduler, ddimConfigFrom } from './scheduler.ts';

export type TapSummary = Record<ComponentName, { label: string; tensor: string }[]>;

export interface ExtractionIdentity {
  bundle: string;
  /** sha256 of every external weight file, by `<component>/<location>` (the bundle identity covers them too; listed so a run's settings say which weights it ran on). */
  weights: Record<string, string>;
  taps: TapSummary;
  scheduler: Record<string, unknown>;
  settings: Omit<ExtractionSettings, 'timesteps' | 'vae'> & { timesteps: number[]; vae: VaeMode };
  device: Device;
}

const COMPONENTS: ComponentName[] = ['text_encoder', 'unet', 'vae_decoder'];

/**
 * The taps a pipeline on this bundle would resolve (same rule as Pipeline.open), without opening
 * sessions; none for a component the run does not run (a text-encoder-only run).
 */
export function resolvedTapSummary(bundle: Bundle, taps?: TapConfig, components: ComponentSelection = 'all'): TapSummary {
  const run = selectedComponents(components);
  return Object.fromEntries(COMPONENTS.map((name) => {
    if (!run.includes(name)) return [name, []];
    const component = bundle.components[name];
    const resolved = resolveTaps(component.model.graph!, taps?.[name] ?? DEFAULT_TAPS[name], component.file);
    return [name, resolved.map(({ label, tensor }) => ({ label, tensor }))];
  })) as TapSummary;
}

export function extractionIdentity(input: { bundle: Bundle; settings: ExtractionSettings; taps: TapSummary; device: Device }): ExtractionIdentity {
  const { bundle } = input;
  const settings = normalizeSettings(input.settings);
  const scheduler = ddimConfigFrom(bundle.schedulerConfig, bundle.schedulerFile);
  // Recorded timesteps as the pipeline records them: the requested ones, else the whole schedule.
  const timesteps = [...new Set(settings.timesteps ?? new DdimScheduler(scheduler, settings.steps, bundle.schedulerFile).timesteps)];
  const weights = Object.fromEntries(COMPONENTS.flatMap((name) => bundle.components[name].weights.map((w) => [`${name}/${w.location}`, w.sha256])));
  return {
    bundle: bundle.identity,
    weights,
    taps: input.taps,
    scheduler: { name: 'DDIM', eta: 0, ...scheduler },
    settings: { ...settings, timesteps },
    device: input.device,
  };
}

export function extractionSettingsHash(input: Parameters<typeof extractionIdentity>[0]): string {
  return identityHash(extractionIdentity(input));
}
