// A tiny composable SQL builder: fragments carry their parameters, so user values only ever travel
// as $n bind parameters and only whitelisted identifiers (see `identifier`) are spliced into text.

type Part = { text: string } | { value: unknown };

export class SqlFragment {
  constructor(readonly parts: readonly Part[]) {}
}

export interface CompiledSql {
  text: string;
  values: unknown[];
}

/** Tagged template: interpolated SqlFragments are inlined, anything else becomes a bind parameter. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  const parts: Part[] = [];
  strings.forEach((text, index) => {
    if (text) parts.push({ text });
    if (index < values.length) {
      const value = values[index];
      if (value instanceof SqlFragment) parts.push(...value.parts);
      else parts.push({ value });
    }
  });
  return new SqlFragment(parts);
}

/** Trusted SQL text (column names from a fixed whitelist, never user input). */
export function identifier(text: string): SqlFragment {
  if (!/^[a-z_][a-z0-9_.]*$/i.test(text)) throw new Error(`Refusing to splice ${JSON.stringify(text)} into SQL`);
  return new SqlFragment([{ text }]);
}

export const empty = new SqlFragment([]);

export function join(fragments: readonly SqlFragment[], separator: string): SqlFragment {
  const parts: Part[] = [];
  fragments.forEach((fragment, index) => {
    if (index > 0) parts.push({ text: separator });
    parts.push(...fragment.parts);
  });
  return new SqlFragment(parts);
}

/** `WHERE a AND b …`, or nothing when there are no conditions. */
export function where(conditions: readonly SqlFragment[]): SqlFragment {
  return conditions.length === 0 ? empty : sql`WHERE ${join(conditions, ' AND ')}`;
}

export function and(conditions: readonly SqlFragment[]): SqlFragment {
  return conditions.length === 0 ? sql`TRUE` : sql`(${join(conditions, ' AND ')})`;
}

export function compile(fragment: SqlFragment): CompiledSql {
  let text = '';
  const values: unknown[] = [];
  for (const part of fragment.parts) {
    if ('text' in part) text += part.text;
    else {
      values.push(part.value);
      text += `$${values.length}`;
    }
  }
  return { text, values };
}
