// The SQL builder: values become bind parameters in order, fragments nest, identifiers are checked.
import { and, compile, identifier, join, sql, where } from '../../src/grid/sql.ts';

test('values become numbered parameters, nested fragments keep their order', () => {
  const evil = "Vision'); DROP TABLE probe_score; --";
  const inner = sql`ag.name = ANY(${[evil]}::text[])`;
  const statement = sql`SELECT 1 FROM t ${where([sql`a = ${1}`, inner, sql`b = ${'x'}`])}`;
  expect(compile(statement)).toEqual({
    text: 'SELECT 1 FROM t WHERE a = $1 AND ag.name = ANY($2::text[]) AND b = $3',
    values: [1, [evil], 'x'],
  });
});

test('empty condition lists produce no WHERE and a TRUE conjunction', () => {
  expect(compile(sql`SELECT 1 ${where([])}`).text).toBe('SELECT 1 ');
  expect(compile(and([])).text).toBe('TRUE');
  expect(compile(join([sql`${1}`, sql`${2}`], ', '))).toEqual({ text: '$1, $2', values: [1, 2] });
});

test('identifiers must look like (qualified) column names', () => {
  expect(compile(identifier('ps.pearson_r')).text).toBe('ps.pearson_r');
  expect(() => identifier('pearson_r; DROP TABLE x')).toThrow(/Refusing/);
  expect(() => identifier('"x"')).toThrow(/Refusing/);
});
