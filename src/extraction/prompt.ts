// Prompts from a template per concept. `{concept}` is the word; `{a}` is its indefinite article
// ("a photo of {a} {concept}" → "a photo of an apple"). A literal "a" in a template stays literal.
import { CodedError } from '../errors.ts';

export const DEFAULT_TEMPLATE = 'a photo of {a} {concept}';

// Spelling-based article rules miss these (sound, not letter, decides).
const AN_EXCEPTIONS = /^(hour|honest|honor|honour|heir|herb)/;
const A_EXCEPTIONS = /^(uni|use|usu|ut|eu|ewe|one|once|ur)/;

export function indefiniteArticle(word: string): 'a' | 'an' {
  const w = word.toLowerCase();
  if (AN_EXCEPTIONS.test(w)) return 'an';
  if (A_EXCEPTIONS.test(w)) return 'a';
  return /^[aeiou]/.test(w) ? 'an' : 'a';
}

export class TemplateError extends CodedError<'BAD_TEMPLATE'> {
  constructor(message: string) {
    super('BAD_TEMPLATE', 'bad-input', message);
  }
}

export function validateTemplate(template: string): void {
  const count = template.split('{concept}').length - 1;
  if (count !== 1) throw new TemplateError(`--template must contain {concept} exactly once, got ${JSON.stringify(template)}.`);
  const unknown = template.replace(/\{concept\}|\{a\}/g, '').match(/\{[^}]*\}/);
  if (unknown) throw new TemplateError(`--template has an unknown placeholder ${unknown[0]} (known: {concept}, {a}).`);
}

/** The prompt and the character span of the concept inside it. */
export function renderPrompt(template: string, concept: string): { text: string; span: { start: number; end: number } } {
  validateTemplate(template);
  const [before, after] = template.split('{concept}') as [string, string];
  const article = indefiniteArticle(concept);
  const prefix = before.replaceAll('{a}', article);
  const suffix = after.replaceAll('{a}', article);
  return { text: `${prefix}${concept}${suffix}`, span: { start: prefix.length, end: prefix.length + concept.length } };
}
