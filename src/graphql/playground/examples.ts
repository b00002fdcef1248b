// The saved example queries shown as playground tabs, kept as .graphql files so tests validate them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXAMPLES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'examples');

export interface ExampleQuery {
  /** Tab title (GraphiQL names a tab after the query's operation name, which matches). */
  title: string;
  file: string;
  query: string;
  variables?: string;
}

const EXAMPLES = [
  { title: 'Catalogue', file: 'catalogue.graphql' },
  { title: 'Heatmap', file: 'heatmap.graphql' },
  { title: 'Comparison', file: 'comparison.graphql' },
];

export function loadExamples(): ExampleQuery[] {
  return EXAMPLES.map(({ title, file }) => ({ title, file, query: readFileSync(path.join(EXAMPLES_DIR, file), 'utf8') }));
}
