// One chart's frame, the same for every view: title, what it shows, the chance level, the query behind
// it (shown, and opened in the playground), CSV/PNG/SVG export, a data table for keyboard and screen
// reader users, and a state the tests and people can read: loading, ready, empty, unsupported or error.
import { dedent, playgroundUrl } from './api.ts';
import { download, standaloneSvg, svgToPng, toCsv, type Row } from './export.ts';

export type PanelState = 'loading' | 'ready' | 'empty' | 'unsupported' | 'error';

export interface PanelContent {
  /** The request(s) behind the chart, as sent. */
  query: { document: string; variables: Record<string, unknown> };
  /** What the chart plots, one row per mark; the CSV export and the data table. */
  columns: string[];
  rows: Row[];
  /** Draws the chart into the (emptied) container. */
  draw(container: HTMLElement): void;
  /** One line under the title: the chance level and anything to read the chart by. */
  caption: string;
}

const TABLE_ROWS = 500;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export class Panel {
  readonly root: HTMLElement;
  private readonly caption: HTMLElement;
  private readonly status: HTMLElement;
  private readonly chart: HTMLElement;
  private readonly queryText: HTMLElement;
  private readonly playground: HTMLAnchorElement;
  private readonly table: HTMLElement;
  private readonly tools: HTMLElement;
  /** The view's own inputs (the matrix's timestep slider), kept across redraws. */
  readonly controls: HTMLElement;
  private content: PanelContent | undefined;

  constructor(parent: HTMLElement, readonly id: string, title: string, about: string) {
    this.root = element('section', { class: 'panel', id, 'data-state': 'loading', 'aria-labelledby': `${id}-title`, 'aria-busy': 'true' });
    this.root.append(element('h2', { id: `${id}-title` }, title), element('p', { class: 'about' }, about));
    this.caption = element('p', { class: 'caption', 'data-role': 'caption' });
    this.status = element('p', { class: 'status', 'data-role': 'status', role: 'status' });
    this.tools = element('div', { class: 'tools', role: 'toolbar', 'aria-label': `${title}: export and query` });
    const button = (label: string, role: string, action: () => Promise<void> | void) => {
      const node = element('button', { type: 'button', 'data-action': role }, label);
      node.addEventListener('click', () => {
        Promise.resolve(action()).catch((error: Error) => this.fail('EXPORT_FAILED', error.message));
      });
      return node;
    };
    this.playground = element('a', { 'data-action': 'playground', target: '_blank', rel: 'noopener' }, 'Open in playground');
    this.tools.append(
      button('CSV', 'csv', () => this.exportCsv()),
      button('PNG', 'png', () => this.exportPng()),
      button('SVG', 'svg', () => this.exportSvg()),
      this.playground,
    );
    this.chart = element('div', { class: 'chart', 'data-role': 'chart' });
    this.controls = element('div', { class: 'controls', 'data-role': 'controls' });
    const query = element('details', { class: 'query' });
    this.queryText = element('pre', { 'data-role': 'query' });
    query.append(element('summary', {}, 'Query'), this.queryText);
    const data = element('details', { class: 'data' });
    this.table = element('div', { 'data-role': 'table' });
    data.append(element('summary', {}, 'Data'), this.table);
    this.root.append(this.caption, this.controls, this.status, this.tools, this.chart, query, data);
    parent.append(this.root);
  }

  private setState(state: PanelState): void {
    this.root.dataset.state = state;
    this.root.setAttribute('aria-busy', String(state === 'loading'));
    this.tools.hidden = state !== 'ready';
  }

  loading(): void {
    this.setState('loading');
    this.status.textContent = 'Loading…';
  }

  /** A state without a chart (empty, unsupported, error): the message says why, and what to do. */
  message(state: Exclude<PanelState, 'loading' | 'ready'>, text: string, query?: PanelContent['query']): void {
    this.content = undefined;
    this.chart.replaceChildren();
    this.table.replaceChildren();
    this.caption.textContent = '';
    this.status.textContent = text;
    this.status.setAttribute('role', state === 'error' ? 'alert' : 'status');
    if (query) this.showQuery(query);
    this.setState(state);
  }

  fail(code: string, message: string): void {
    this.message('error', `The API answered with an error (${code}): ${message}`);
  }

  private showQuery(query: PanelContent['query']): void {
    this.queryText.textContent = `${dedent(query.document)}\n\n# variables\n${JSON.stringify(query.variables, null, 2)}`;
    this.playground.href = playgroundUrl(query.document, query.variables);
  }

  show(content: PanelContent): void {
    this.content = content;
    this.status.textContent = '';
    this.status.setAttribute('role', 'status');
    this.caption.textContent = content.caption;
    this.showQuery(content.query);
    this.chart.replaceChildren();
    content.draw(this.chart);
    this.renderTable(content);
    this.setState('ready');
  }

  private renderTable(content: PanelContent): void {
    const table = element('table');
    const head = element('tr');
    for (const column of content.columns) head.append(element('th', { scope: 'col' }, column));
    table.append(element('thead'), element('tbody'));
    table.tHead!.append(head);
    for (const row of content.rows.slice(0, TABLE_ROWS)) {
      const tr = element('tr');
      for (const column of content.columns) {
        const value = row[column];
        tr.append(element('td', {}, value === null || value === undefined ? '' : typeof value === 'number' ? String(+value.toPrecision(6)) : value));
      }
      table.tBodies[0]!.append(tr);
    }
    const note = content.rows.length > TABLE_ROWS ? [element('p', {}, `First ${TABLE_ROWS} of ${content.rows.length} rows; the CSV has all.`)] : [];
    this.table.replaceChildren(table, ...note);
  }

  private get filename(): string {
    return `probe-atlas-${this.id}`;
  }

  exportCsv(): void {
    if (!this.content) return;
    download(`${this.filename}.csv`, new Blob([toCsv(this.content.columns, this.content.rows)], { type: 'text/csv' }));
  }

  exportSvg(): void {
    download(`${this.filename}.svg`, new Blob([standaloneSvg(this.chart).text], { type: 'image/svg+xml' }));
  }

  async exportPng(): Promise<void> {
    download(`${this.filename}.png`, await svgToPng(standaloneSvg(this.chart)));
  }
}
