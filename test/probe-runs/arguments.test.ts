import { parseProbeArguments } from '../../src/probe-runs/arguments.ts';
import { DEFAULT_SETTINGS, describeCvScheme, normaliseSettings, probeSettingsHash } from '../../src/probe-runs/settings.ts';

test('command-line arguments become probe settings', () => {
  const options = parseProbeArguments(['--run', '3', '--norms', 'binder2016@1', '--exclude-category', 'human,group', '--folds=5',
    '--alphas', '1,10', '--timesteps', 'none,981', '--layers', '4,2', '--pooling', 'mean', '--permutations', '0']);
  expect(options).toEqual({
    extractionRunId: 3,
    norms: 'binder2016@1',
    settings: { folds: 5, permutations: 0, excludeCategories: ['human', 'group'], alphas: [1, 10], poolings: ['mean'], layers: [4, 2], timesteps: [null, 981] },
  });
});

test('bad arguments name the flag at fault', () => {
  expect(() => parseProbeArguments(['--norms', 'x'])).toThrow('--run <extraction run id> is required');
  expect(() => parseProbeArguments(['--run', '1'])).toThrow(/--norms/);
  expect(() => parseProbeArguments(['--run', '1', '--norms', 'x', '--folds', 'ten'])).toThrow('--folds: "ten" is not a number');
  expect(() => parseProbeArguments(['--run', '1', '--norms', 'x', '--bogus', '1'])).toThrow('Unknown option --bogus');
  expect(() => parseProbeArguments(['--run', '1', '--norms'])).toThrow('--norms needs a value');
  expect(() => normaliseSettings({ alphas: [1, -1] })).toThrow(/--alphas/);
  expect(() => normaliseSettings({ permutations: 1.5 })).toThrow(/--permutations/);
});

test('equal settings hash equally whatever their order; any change changes the hash', () => {
  const a = normaliseSettings({ excludeCategories: ['human', 'group'], alphas: [10, 1] });
  const b = normaliseSettings({ alphas: [1, 10, 10], excludeCategories: ['group', 'human'] });
  const finished = new Date('2026-01-01T00:00:00Z');
  expect(probeSettingsHash(1, finished, 2, a)).toBe(probeSettingsHash(1, new Date(finished.getTime()), 2, b));
  expect(probeSettingsHash(1, finished, 2, a)).not.toBe(probeSettingsHash(1, finished, 3, a));
  expect(probeSettingsHash(1, finished, 2, a)).not.toBe(probeSettingsHash(2, finished, 2, a));
  expect(probeSettingsHash(1, finished, 2, a)).not.toBe(probeSettingsHash(1, finished, 2, { ...a, seed: 1 }));
  // An extraction that finished again (it was resumed and grew) is a new identity.
  expect(probeSettingsHash(1, finished, 2, a)).not.toBe(probeSettingsHash(1, new Date('2026-01-02T00:00:00Z'), 2, a));
  expect(normaliseSettings({})).toEqual(DEFAULT_SETTINGS);
  expect(describeCvScheme(DEFAULT_SETTINGS)).toMatch(/^10-fold outer CV over concepts .*seed 0.*exact LOO/);
});
