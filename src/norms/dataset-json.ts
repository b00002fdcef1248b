// dataset.json, the optional file that describes a norms dataset as a whole. Today it declares the
// rating scale ({"scale": {"min": 0, "max": 6}}), so that a value outside it (a typo such as 55 for
// 5.5, or a file on another scale) is refused instead of stored. Unknown keys are refused too: a
// misspelt "scael" must not silently leave a dataset without its scale.
import type { ErrorCollector } from './errors.ts';
import { NORMS_FILES, type NormsScale } from './types.ts';

const FILE = NORMS_FILES.dataset;

/** 1-based line and column (in UTF-16 units) of a string offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) { line++; lineStart = i + 1; }
  }
  return { line, column: offset - lineStart + 1 };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The declared scale (null when none is declared), or undefined after recording the problems. */
export function parseDatasetJson(text: string, errors: ErrorCollector): NormsScale | null | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    errors.add('INVALID_METADATA', { file: FILE, ...(position ? lineAndColumn(text, Number(position[1])) : {}) }, `not valid JSON: ${message}`);
    return undefined;
  }
  if (!isPlainObject(parsed)) {
    errors.add('INVALID_METADATA', { file: FILE, line: 1, column: 1 }, 'must be a JSON object such as {"scale": {"min": 0, "max": 6}}');
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(parsed)) {
    if (key !== 'scale') {
      errors.add('INVALID_METADATA', { file: FILE }, `unknown key ${JSON.stringify(key)}; the only key is "scale"`);
      ok = false;
    }
  }
  const scale = parsed.scale;
  if (scale === undefined || scale === null) return ok ? null : undefined;
  if (!isPlainObject(scale) || Object.keys(scale).some((key) => key !== 'min' && key !== 'max')) {
    errors.add('INVALID_METADATA', { file: FILE }, '"scale" must be an object with exactly the keys "min" and "max", e.g. {"min": 0, "max": 6}');
    return undefined;
  }
  const { min, max } = scale;
  for (const [key, value] of [['min', min], ['max', max]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      errors.add('INVALID_METADATA', { file: FILE }, `"scale.${key}" must be a finite number, got ${JSON.stringify(value) ?? 'nothing'}`);
      ok = false;
    }
  }
  if (!ok) return undefined;
  if (!((min as number) < (max as number))) {
    errors.add('INVALID_METADATA', { file: FILE }, `"scale.min" (${min}) must be below "scale.max" (${max})`);
    return undefined;
  }
  return { min: (min as number) === 0 ? 0 : (min as number), max: (max as number) === 0 ? 0 : (max as number) };
}
