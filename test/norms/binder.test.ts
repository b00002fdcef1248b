// The bundled Binder et al. (2016) subset parses to the shape its SOURCE.md documents.
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/config.ts';
import { loadNormsFolder } from '../../src/norms/read-folder.ts';

const BINDER = path.join(PROJECT_ROOT, 'data/norms/binder2016');

test('275 concepts × 65 attributes in 14 groups with the documented group sizes', async () => {
  const dataset = await loadNormsFolder(BINDER);
  expect(dataset.concepts).toHaveLength(275);
  expect(dataset.attributes).toHaveLength(65);
  expect(dataset.ratings).toHaveLength(275 * 65); // none missing
  const sizes = dataset.groups.map((group) => [group, dataset.attributes.filter((a) => a.group === group).length]);
  // SOURCE.md, "Cleaning and choices" item 6 (Binder et al. 2016, Table 1).
  expect(sizes).toEqual([
    ['Vision', 15], ['Somatic', 5], ['Audition', 7], ['Gustation', 1], ['Olfaction', 1], ['Motor', 4], ['Spatial', 7],
    ['Temporal', 4], ['Causal', 2], ['Social', 4], ['Cognition', 1], ['Emotion', 10], ['Drive', 2], ['Attention', 2],
  ]);
  expect(dataset.attributes[0]!.name).toBe('Vision');
  expect(dataset.attributes.at(-1)!.name).toBe('Arousal');
  const values = dataset.ratings.map((r) => r.value);
  expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
  expect(Math.max(...values)).toBeLessThanOrEqual(6);
  expect(values.reduce((a, b) => a + b, 0) / values.length).toBeCloseTo(1.504, 3);
  expect(new Set(dataset.concepts.map((c) => c.category)).size).toBe(17);
  expect(dataset.concepts.filter((c) => c.category === 'human')).toHaveLength(43);
  expect(dataset.concepts.filter((c) => c.category === 'group')).toHaveLength(9);
  expect(dataset.concepts[0]).toMatchObject({ word: 'accordion', category: 'instrument', metadata: { super_category: 'artifact', binder_id: '385' } });
  expect(dataset.attributes[0]!.metadata).toEqual({ binder_type: 'Sensory', binder_modality: 'Vision', binder_submodality: 'General' });
  expect(dataset.citation).toMatch(/^Binder, J\. R\., Conant.*\n.*Cognitive Neuropsychology.*\nhttps:\/\/doi\.org\/10\.1080\/02643294\.2016\.1147426/);
  expect(dataset.source).toContain('wywgreat/CognitiveAlignment');
});
