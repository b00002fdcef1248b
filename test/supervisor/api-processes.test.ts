// API_PROCESSES, how many API processes npm start runs on one port: 1 by default, `auto` the cores
// available, any integer from 1; anything else is refused naming the variable (bad input, exit 2).
import os from 'node:os';
import { ConfigError, loadConfig } from '../../src/config.ts';

test('API_PROCESSES: 1 by default, auto = the cores available, an integer ≥ 1 as given', () => {
  expect(loadConfig({}).apiProcesses).toBe(1);
  expect(loadConfig({ API_PROCESSES: '' }).apiProcesses).toBe(1);
  expect(loadConfig({ API_PROCESSES: '3' }).apiProcesses).toBe(3);
  expect(loadConfig({ API_PROCESSES: 'auto' }).apiProcesses).toBe(os.availableParallelism());
  expect(loadConfig({ API_PROCESSES: ' AUTO ' }).apiProcesses).toBe(os.availableParallelism());
});

test('API_PROCESSES below 1 or not an integer is refused by name', () => {
  for (const value of ['0', '-1', '1.5', 'many']) {
    expect(() => loadConfig({ API_PROCESSES: value })).toThrow(ConfigError);
    expect(() => loadConfig({ API_PROCESSES: value })).toThrow(new RegExp(`API_PROCESSES=${JSON.stringify(value).replace(/[.]/g, '\\.')} is invalid`));
  }
});
