import { parseProbeArguments } from '../../src/probe-runs/arguments.ts';
import { identityHash } from '../../src/identity.ts';
import { benjaminiHochberg } from '../../src/probes/fdr.ts';
import { DEFAULT_SETTINGS, PROBE_METHOD, describeCvScheme, normaliseSettings, probeSettingsHash } from '../../src/probe-runs/settings.ts';
import { significanceReach, significanceWarning } from '../../src/probe-runs/significance.ts';

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

test('--min-support and --min-variance become the attribute selection, validated', () => {
  const options = parseProbeArguments(['--run', '3', '--norms', 'mcrae', '--min-support', '10', '--min-variance=0.05']);
  expect(options.settings).toEqual({ minSupport: 10, minVariance: 0.05 });
  expect(normaliseSettings(options.settings!)).toMatchObject({ minSupport: 10, minVariance: 0.05 });
  expect(() => parseProbeArguments(['--run', '3', '--norms', 'x', '--min-support', '2.5'])).toThrow('--min-support: "2.5" is not an integer');
  expect(() => parseProbeArguments(['--run', '3', '--norms', 'x', '--min-variance', 'lots'])).toThrow('--min-variance: "lots" is not a number');
  expect(() => normaliseSettings({ minSupport: 0 })).toThrow('--min-support must be an integer ≥ 1, got 0');
  expect(() => normaliseSettings({ minVariance: -1 })).toThrow('--min-variance must be a finite number ≥ 0, got -1');
  expect(describeCvScheme(normaliseSettings({ minSupport: 10 }))).toMatch(/; attributes kept with a non-zero rating for ≥ 10 of the run's concepts$/);
  expect(describeCvScheme(DEFAULT_SETTINGS)).not.toMatch(/attributes kept/);
});

test('the selection is part of the identity; without one, the hash is the one runs had before it existed', () => {
  const finished = new Date('2026-01-01T00:00:00Z');
  const plain = normaliseSettings({});
  // The identity as it was computed before --min-support existed: the settings without the two keys.
  const { minSupport: _s, minVariance: _v, ...before } = plain;
  const legacy = identityHash({ extractionRunId: 1, extractionFinishedAt: finished.toISOString(), datasetId: 2, method: PROBE_METHOD, settings: before });
  expect(probeSettingsHash(1, finished, 2, plain)).toBe(legacy);
  const selected = probeSettingsHash(1, finished, 2, normaliseSettings({ minSupport: 10 }));
  expect(selected).not.toBe(legacy);
  expect(probeSettingsHash(1, finished, 2, normaliseSettings({ minSupport: 5 }))).not.toBe(selected);
  expect(probeSettingsHash(1, finished, 2, normaliseSettings({ minSupport: 10, minVariance: 0.1 }))).not.toBe(selected);
});

test('the smallest p is 1/(P+1), and no q-value is below it', () => {
  expect(significanceReach(10, 0.05)).toMatchObject({ minimumPValue: 1 / 11, minimumQValue: 1 / 11, canReach: false, permutationsNeeded: 20 });
  expect(significanceReach(19, 0.05).canReach).toBe(false); // p = 0.05 is not below 0.05
  expect(significanceReach(20, 0.05).canReach).toBe(true);
  expect(significanceReach(0, 0.05)).toMatchObject({ minimumPValue: null, canReach: false });
  // 100 permutations, 65 attributes × 4 cells = 260 tests: q < 0.05 needs k with 260 · (1/101) / k < 0.05, k ≥ 52.
  expect(significanceReach(100, 0.05, 260).testsAtMinimumNeeded).toBe(52);
  // BH itself agrees: 52 tests at the smallest p give q just below 0.05, 51 do not.
  const pMin = 1 / 101;
  const qWith = (k: number) => Math.min(...benjaminiHochberg(Float64Array.from({ length: 260 }, (_, i) => (i < k ? pMin : 1))));
  expect(qWith(52)).toBeLessThan(0.05);
  expect(qWith(51)).toBeGreaterThanOrEqual(0.05);
  expect(significanceWarning(10, 2526, 1)).toMatch(/smallest p-value is 1\/11 = 0\.0909.*no q-value of this run can be below 0\.05\. Use --permutations 20 or more/);
  expect(significanceWarning(30, 65, 4)).toMatch(/needs at least 168 of the run's 260 tests/);
  expect(significanceWarning(100, 65, 4)).toBeNull();
  expect(significanceWarning(0, 65, 4)).toMatch(/--permutations 0/);
});
