// Reading a taps JSON (`npm run extract -- --taps taps.json`): every field is type-checked, so a
// string where a list belongs (`"scopes": "/mid_block/"`, which would otherwise be read letter by
// letter) or an unknown component (which would otherwise be ignored) is refused, naming the file and
// the field path. A component takes one rule object, or a list of alternative rules tried in order
// (`"text_encoder": [{"scopes": […]}, {"scopes": […]}]`, as DEFAULT_TAPS does for transformers 4 and 5).
import { readFileSync, statSync } from 'node:fs';
import { BundleError } from './errors.ts';
import { nearMatches, type ComponentName, type TapConfig, type TapRule, type TapRules } from './taps.ts';

export const TAP_COMPONENTS: readonly ComponentName[] = ['text_encoder', 'unet', 'vae_decoder'];
const RULE_KEYS = ['scopes', 'tensors', 'patterns'] as const;

const show = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks a parsed taps value; `source` (a file name, or e.g. "taps option") leads every message. */
export function parseTapConfig(value: unknown, source: string): TapConfig {
  const bad = (field: string, message: string): never => {
    throw new BundleError('BAD_TAP_CONFIG', `${source}: ${field ? `"${field}" ` : ''}${message}`);
  };
  if (!isObject(value)) bad('', `must hold a JSON object of component → rule, got ${show(value)}.`);
  const config: TapConfig = {};
  for (const [component, rule] of Object.entries(value as Record<string, unknown>)) {
    if (!(TAP_COMPONENTS as readonly string[]).includes(component)) {
      const near = nearMatches(component, TAP_COMPONENTS, 1)[0];
      bad(component, `is not a component (known: ${TAP_COMPONENTS.join(', ')})${near && component.length > 2 ? `; did you mean "${near}"?` : '.'}`);
    }
    const checkRule = (rule: unknown, at: string): TapRule => {
      if (!isObject(rule)) {
        const hint = at !== component && typeof rule === 'string' ? ` (a list under a component holds alternative rules: write {"scopes": [${show(rule)}]})` : '';
        bad(at, `must be an object with "scopes", "tensors" and/or "patterns"${at === component ? ', or a list of such objects (alternatives)' : ''}, got ${show(rule)}${hint}.`);
      }
      const checked: TapRule = {};
      for (const [key, list] of Object.entries(rule as Record<string, unknown>)) {
        const field = `${at}.${key}`;
        if (!(RULE_KEYS as readonly string[]).includes(key)) bad(field, `is not a rule field (known: ${RULE_KEYS.join(', ')}).`);
        if (!Array.isArray(list)) bad(field, `must be an array of strings, got ${show(list)}${typeof list === 'string' ? ` (write [${show(list)}])` : ''}.`);
        (list as unknown[]).forEach((item, index) => {
          if (typeof item !== 'string' || item.length === 0) bad(`${field}[${index}]`, `must be a non-empty string, got ${show(item)}.`);
          if (key === 'patterns') {
            try {
              new RegExp(item as string);
            } catch (error) {
              bad(`${field}[${index}]`, `is not a valid regular expression (${(error as Error).message}).`);
            }
          }
        });
        checked[key as (typeof RULE_KEYS)[number]] = [...(list as string[])];
      }
      return checked;
    };
    let checked: TapRules;
    if (Array.isArray(rule)) {
      if (rule.length === 0) bad(component, 'is an empty list of alternative rules; give at least one rule object.');
      checked = rule.map((alternative, index) => checkRule(alternative, `${component}[${index}]`));
    } else {
      checked = checkRule(rule, component);
    }
    config[component as ComponentName] = checked;
  }
  return config;
}

/** Reads and checks a taps JSON file; every problem is a BundleError naming the file. */
export function readTapConfig(file: string): TapConfig {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new BundleError('BAD_TAP_CONFIG', `${file} is a folder, not a taps JSON file.`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof BundleError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new BundleError(code === 'ENOENT' ? 'MISSING_FILE' : 'BAD_TAP_CONFIG', `${file} cannot be read (${code ?? (error as Error).message}).`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BundleError('BAD_JSON', `${file} is not valid JSON: ${(error as Error).message}.`);
  }
  return parseTapConfig(value, file);
}
