// Refused imports against a real PostgreSQL and the real `import:norms` command (issue 7): every bad
// input exits 2 with file:line:column or the path and no stack, and leaves the database identical,
// sequences included, because validation runs before the first write.
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { PROJECT_ROOT } from '../../src/config.ts';
import { importNormsDataset } from '../../src/norms/import.ts';
import { loadNormsFolder, readNormsFolder } from '../../src/norms/read-folder.ts';
import { parseNormsFiles } from '../../src/norms/parse.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { databaseSnapshot } from '../support/snapshot.ts';

const ATTRIBUTES = 'attribute,group\nBright,Vision\nLoud,Audition\n';
const HEADER = 'concept,category,Bright,Loud\n';
const RATINGS = `${HEADER}hammer,tool,1.5,2\ndrum,instrument,0.5,5.5\n`;
const SOURCE = '# Tiny\n\n## Citation\n\nDoe (2020).\n';
const TABLES = ['norms_dataset', 'attribute_group', 'attribute', 'concept', 'dataset_concept', 'rating'] as const;

let db: TestDatabase;
let root: string;
beforeAll(async () => {
  db = await createTestDatabase();
  root = await mkdtemp(path.join(os.tmpdir(), 'norms-refused-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  await db.drop();
});
beforeEach(async () => {
  await db.pool.query('TRUNCATE norms_dataset, concept RESTART IDENTITY CASCADE');
  // Something already stored, so that every sequence has been used and would show a move.
  const base = parseNormsFiles({ ratings: `${HEADER}kettle,tool,1,1\n`, attributes: ATTRIBUTES, source: SOURCE });
  if (!base.ok) throw new Error('base dataset must parse');
  await importNormsDataset(db.prisma, base.dataset, { name: 'base' });
});

const snapshot = () => databaseSnapshot(db.pool, TABLES);

let folders = 0;
async function folder(files: Record<string, string>): Promise<string> {
  const dir = path.join(root, `f${folders++}`);
  await mkdir(dir);
  const all: Record<string, string> = { 'attributes.csv': ATTRIBUTES, 'SOURCE.md': SOURCE, 'ratings.csv': RATINGS, ...files };
  for (const [name, content] of Object.entries(all)) await writeFile(path.join(dir, name), content);
  return dir;
}

/** Runs the real command; resolves with its exit status and output. */
function importNorms(target: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/tsx/dist/cli.mjs'), path.join(PROJECT_ROOT, 'scripts/import-norms.ts'), target, '--name', 'tried'],
      { env: { ...process.env, DATABASE_URL: db.url }, cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The command refuses `target` with exit 2, a message containing `expected`, no stack, and writes nothing. */
async function expectRefused(target: string, expected: (string | RegExp)[]): Promise<string> {
  const before = await snapshot();
  const result = await importNorms(target);
  expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 2, stdout: '' });
  for (const text of expected) expect(result.stderr).toMatch(text);
  expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m); // no stack frames
  expect(result.stderr.length).toBeLessThan(4000);
  expect(await snapshot()).toEqual(before);
  return result.stderr;
}

/** In-process, what the command does: read and validate the folder, and import it only if it is valid. */
async function expectRefusedInProcess(dir: string, code: string, location: string): Promise<void> {
  const before = await snapshot();
  const result = await readNormsFolder(dir);
  if (result.ok) await importNormsDataset(db.prisma, result.dataset, { name: 'tried' });
  expect(result.ok ? [] : result.errors.map((e) => [e.code, e.message.split(': ')[0]])).toContainEqual([code, location]);
  expect(await snapshot()).toEqual(before);
}

describe('values and fields the database cannot take', () => {
  test('1e999 in a rating exits 2 at its file:line:column (was exit 1, NULL in column "value")', async () => {
    await expectRefused(await folder({ 'ratings.csv': `${HEADER}hammer,tool,1e999,2\n` }), ['ratings.csv:2:3 (column "Bright")', 'VALUE_OUT_OF_RANGE']);
  });

  test('a 50 MB digit string exits 2 naming the limit', async () => {
    await expectRefused(await folder({ 'ratings.csv': `${HEADER}hammer,tool,1,${'7'.repeat(50 * 1024 * 1024)}\n` }),
      ['ratings.csv:2:4 (column "Loud")', 'MAX_VALUE_LENGTH', 'FIELD_TOO_LONG']);
  });

  test('a 50 MB concept name exits 2 naming the limit (was "index row requires … bytes")', async () => {
    await expectRefused(await folder({ 'ratings.csv': `${HEADER}${'w'.repeat(50 * 1024 * 1024)},tool,1,2\n` }),
      ['ratings.csv:2:1 (column "concept")', 'MAX_NAME_LENGTH', 'FIELD_TOO_LONG']);
  });

  test('1e-400 is refused instead of being stored as 0', async () => {
    await expectRefusedInProcess(await folder({ 'ratings.csv': `${HEADER}hammer,tool,1e-400,2\n` }), 'VALUE_OUT_OF_RANGE', 'ratings.csv:2:3 (column "Bright")');
  });
});

describe('paths that are not what they should be', () => {
  test('ratings.csv as a symbolic link loop (ELOOP) exits 2 naming the path', async () => {
    const dir = await folder({});
    await rm(path.join(dir, 'ratings.csv'));
    await symlink('ratings.csv', path.join(dir, 'ratings.csv'));
    await expectRefused(dir, [`${path.join(dir, 'ratings.csv')} is a symbolic link loop`, 'ELOOP', 'UNREADABLE_FILE']);
    // A folder argument that is itself a loop is refused the same way.
    const loop = path.join(root, 'loop');
    await symlink('loop', loop);
    const result = await readNormsFolder(loop);
    expect(result.ok ? [] : result.errors.map((e) => e.message)).toEqual([`${loop}: is a symbolic link loop (too many levels of symbolic links) (ELOOP): expected a norms folder [NOT_A_FOLDER]`]);
  });

  test('a file given as the folder (ENOTDIR) exits 2 naming the path', async () => {
    const dir = await folder({});
    const file = path.join(dir, 'ratings.csv');
    await expectRefused(file, [`${file}: is a file, not a norms folder (ENOTDIR) [NOT_A_FOLDER]`]);
  });

  test('ratings.csv that is a directory (EISDIR) exits 2 naming the file', async () => {
    const dir = await folder({});
    await rm(path.join(dir, 'ratings.csv'));
    await mkdir(path.join(dir, 'ratings.csv'));
    await expectRefused(dir, [`ratings.csv: ${path.join(dir, 'ratings.csv')} is a folder, not a file (EISDIR) [UNREADABLE_FILE]`]);
  });
});

describe('concept keys', () => {
  test('Accordion beside accordion is refused as a duplicate, not imported as a second concept', async () => {
    await expectRefusedInProcess(await folder({ 'ratings.csv': `${HEADER}accordion,instrument,1,2\nAccordion,instrument,1,2\n` }),
      'DUPLICATE_CONCEPT', 'ratings.csv:3:1 (column "concept")');
  });

  test('a zero-width space in a concept key is refused at its line and column', async () => {
    await expectRefusedInProcess(await folder({ 'ratings.csv': `${HEADER}hammer,tool,1,2\nac\u200bcordion,instrument,1,2\n` }),
      'INVALID_NAME', 'ratings.csv:3:1 (column "concept")');
  });

  test('the shipped Binder norms import unchanged: the same 275 keys, the declared 0–6 scale stored', async () => {
    const dir = path.join(PROJECT_ROOT, 'data/norms/binder2016');
    const result = await importNormsDataset(db.prisma, await loadNormsFolder(dir), { name: 'binder2016' });
    expect(result.counts).toMatchObject({ concepts: 275, ratings: 17875 });
    const { readFile } = await import('node:fs/promises');
    const fileKeys = (await readFile(path.join(dir, 'ratings.csv'), 'utf8')).trim().split('\n').slice(1).map((line) => line.split(',')[0]);
    const stored = await db.prisma.datasetConcept.findMany({ where: { normsDatasetId: result.datasetId }, orderBy: { position: 'asc' }, select: { concept: { select: { word: true } } } });
    expect(stored.map((s) => s.concept.word)).toEqual(fileKeys);
    expect(await db.prisma.normsDataset.findUniqueOrThrow({ where: { id: result.datasetId } })).toMatchObject({ scaleMin: 0, scaleMax: 6 });
  });
});

describe('declared scale', () => {
  test('a value outside the scale of dataset.json is refused at file:line:column', async () => {
    await expectRefusedInProcess(await folder({ 'dataset.json': '{"scale": {"min": 0, "max": 6}}', 'ratings.csv': `${HEADER}hammer,tool,1,2\ndrum,instrument,55,2\n` }),
      'VALUE_OUT_OF_SCALE', 'ratings.csv:3:3 (column "Bright")');
  });

  test('the declared scale is stored with the dataset; without one both bounds are null', async () => {
    const scaled = await importNormsDataset(db.prisma, await loadNormsFolder(await folder({ 'dataset.json': '{"scale": {"min": -1, "max": 7.5}}' })), { name: 'scaled' });
    const plain = await importNormsDataset(db.prisma, await loadNormsFolder(await folder({})), { name: 'plain' });
    const rows = await db.pool.query('SELECT name, scale_min, scale_max FROM norms_dataset WHERE id = ANY($1) ORDER BY name', [[scaled.datasetId, plain.datasetId]]);
    expect(rows.rows).toEqual([{ name: 'plain', scale_min: null, scale_max: null }, { name: 'scaled', scale_min: -1, scale_max: 7.5 }]);
  });
});

test('an unclosed quote on line 4 is reported at line 4, not at the last line', async () => {
  await expectRefusedInProcess(await folder({ 'ratings.csv': `${HEADER}hammer,tool,1,2\ndrum,instrument,1,2\nbell,"instrument,1,2\nkettle,tool,1,2\nlamp,tool,1,2\n` }),
    'CSV_SYNTAX', 'ratings.csv:4:2');
});

test('content handed to importNormsDataset in code is validated before the first write: sequences do not move', async () => {
  const parsed = parseNormsFiles({ ratings: RATINGS, attributes: ATTRIBUTES, source: SOURCE });
  if (!parsed.ok) throw new Error('must parse');
  const before = await snapshot();
  const duplicate = { ...parsed.dataset, ratings: [...parsed.dataset.ratings, { ...parsed.dataset.ratings[0]! }] };
  await expect(importNormsDataset(db.prisma, duplicate, { name: 'tiny' })).rejects.toMatchObject({ name: 'NormsValidationFailure', errors: [expect.objectContaining({ code: 'INVALID_CONTENT' })] });
  const infinite = { ...parsed.dataset, ratings: parsed.dataset.ratings.map((r, i) => (i === 0 ? { ...r, value: Infinity } : r)) };
  await expect(importNormsDataset(db.prisma, infinite, { name: 'tiny' })).rejects.toMatchObject({ errors: [expect.objectContaining({ code: 'VALUE_OUT_OF_RANGE' })] });
  const longName = { ...parsed.dataset, concepts: parsed.dataset.concepts.map((c, i) => (i === 0 ? { ...c, word: 'x'.repeat(5000) } : c)) };
  await expect(importNormsDataset(db.prisma, longName, { name: 'tiny' })).rejects.toMatchObject({ errors: [expect.objectContaining({ code: 'FIELD_TOO_LONG' })] });
  expect(await snapshot()).toEqual(before);
});
