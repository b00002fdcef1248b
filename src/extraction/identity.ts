// The identity of an extraction run: the bundle, the resolved taps and every setting that changes a
// number. The device actually used is included (numerics differ by device); the concept list is not,
// so a later invocation with more concepts extends the same run. Hashed canonically (sorted keys), so
// readers such as the demo pipeline find a run by `settings_hash` without re-deriving JSON spellings.
import type { Bundle } from '../bundles/bundle.ts';
import type { Device } from '../bundles/sessions.ts';
import { DEFAULT_TAPS, resolveTaps, type ComponentName, type TapConfig } from '../bundles/taps.ts';
import { identityHash } from '../identity.ts';
import type { ExtractionSettings } from './pipeline.ts';
import { DdimScheduler, ddimConfigFrom } from './scheduler.ts';

export type TapSummary = Record<ComponentName, { label: string; tensor: string }[]>;

export interface ExtractionIdentity {
  bundle: string;
  /** sha256 of every external weight file, by `<component>/<location>` (the bundle identity covers them too; listed so a run's settings say which weights it ran on). */
  weights: Record<string, string>;
  taps: TapSummary;
  scheduler: Record<string, unknown>;
  settings: Omit<ExtractionSettings, 'timesteps'> & { timesteps: number[] };
  device: Device;
}

const COMPONENTS: ComponentName[] = ['text_encoder', 'unet', 'vae_decoder'];

/** The taps a pipeline on this bundle would resolve (same rule as Pipeline.open), without opening sessions. */
export function resolvedTapSummary(bundle: Bundle, taps?: TapConfig): TapSummary {
  return Object.fromEntries(COMPONENTS.map((name) => {
    const component = bundle.components[name];
    const resolved = resolveTaps(component.model.graph!, taps?.[name] ?? DEFAULT_TAPS[name], component.file);
    return [name, resolved.map(({ label, tensor }) => ({ label, tensor }))];
  })) as TapSummary;
}

export function extractionIdentity(input: { bundle: Bundle; settings: ExtractionSettings; taps: TapSummary; device: Device }): ExtractionIdentity {
  const { bundle, settings } = input;
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
