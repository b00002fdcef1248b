// The atlas page: pickers, a status line and five charts, all from the public GraphQL API (the
// reference front-end client of docs/frontend.md). The URL holds the state (state.ts); each change
// re-resolves it against the catalogue, fills in defaults, and redraws every chart. While a run is
// pending or running the page says so and refreshes every 5 s; an empty database and API errors get
// their own messages instead of empty charts.
import './style.css';
import { ApiError, request, requestLog } from './api.ts';
import { BAR_COLUMNS, barRows, drawBars } from './charts/bars.ts';
import { CURVE_COLUMNS, curveRows, drawCurves } from './charts/curves.ts';
import { DISENTANGLEMENT_COLUMNS, drawDisentanglement, type DisentanglementRow } from './charts/disentanglement.ts';
import { MATRIX_COLUMNS, drawMatrix, matrixRows } from './charts/matrix.ts';
import { HEATMAP_COLUMNS, drawHeatmap, heatmapCaption, heatmapCells, heatmapRows, type HeatmapCell } from './charts/heatmap.ts';
import { chanceText, metricLabel } from './format.ts';
import type {
  AtlasCatalogueQuery, AtlasCatalogueQueryVariables, AtlasCellScoresQuery, AtlasCellScoresQueryVariables, AtlasCurvesQuery,
  AtlasCurvesQueryVariables, AtlasHeatmapQuery, AtlasHeatmapQueryVariables, AtlasMatrixQuery, AtlasMatrixQueryVariables, AtlasProbeCellsQuery, AtlasProbeCellsQueryVariables,
  GridInput, Metric, Pooling,
} from './generated/operations.ts';
import { Panel } from './panel.ts';
import { CATALOGUE, CELL_SCORES, CURVES, HEATMAP, MATRIX, PROBE_CELLS } from './queries.ts';
import { readState, writeState, type AtlasState, type StateKey } from './state.ts';

type Catalogue = AtlasCatalogueQuery;
type Model = Catalogue['models'][number];
type Component = Model['components'][number];
type ProbeRun = Catalogue['probeRuns']['nodes'][number];
type ExtractionRun = Catalogue['extractionRuns']['nodes'][number];
type NormsDataset = Catalogue['normsDatasets'][number];
type ProbeCell = NonNullable<AtlasProbeCellsQuery['probeRun']>['probeCells']['nodes'][number];

const REFRESH_MS = 5000;
/** Metrics with one value per probe cell (over all its attributes): no attribute-group axis or filter. */
const CELL_LEVEL_METRICS = new Set(['ATTRIBUTE_TWO_VS_TWO', 'ATTRIBUTE_RSA', 'CONCEPT_TWO_VS_TWO']);
/** Metrics a probe score carries per attribute (the bars). */
const SCORE_METRICS = new Set(['PEARSON_R', 'R2', 'TWO_VS_TWO']);
const ACTIVE = new Set(['PENDING', 'RUNNING']);

// What the bench (scripts/bench/atlas.ts) reads: every request made, and when the heatmap was drawn.
const timings: Record<string, number> = {};
(window as Window & { __atlas?: unknown }).__atlas = { requests: requestLog, timings };

// ---- the page's frame -------------------------------------------------------------------------

const app = document.getElementById('app')!;
app.replaceChildren();
const header = document.createElement('header');
header.innerHTML = `<h1>probe-atlas</h1><p class="lede">Where human-like semantics live inside the model: how well ridge
probes decode human feature norms from each component, layer and timestep. Every chart comes from the
public GraphQL API at <a href="/graphql">/graphql</a> and shows its query.</p>`;
const banner = document.createElement('p');
banner.id = 'atlas-status';
banner.setAttribute('role', 'status');
const pickers = document.createElement('form');
pickers.id = 'pickers';
pickers.setAttribute('aria-label', 'What to show');
pickers.addEventListener('submit', (event) => event.preventDefault());
const main = document.createElement('main');
app.append(header, banner, pickers, main);

const panels = {
  heatmap: new Panel(main, 'heatmap', 'Heatmap: layer × timestep', 'Mean probe score of the chosen attribute group in each layer of the chosen component at each timestep; hover for value, n and interval.'),
  curves: new Panel(main, 'curves', 'Curves per attribute group', "Each group's mean over the text encoder's layers, beside the chosen component over timesteps (mean over its layers), with 95% bands."),
  bars: new Panel(main, 'bars', 'Attributes of one cell', 'Every attribute of the selected cell (layer, timestep), sorted; × marks an attribute that fails the permutation test.'),
  disentanglement: new Panel(main, 'disentanglement', 'Disentanglement over timesteps', 'Attribute-pair 2-vs-2 (can the probes tell two attributes apart?) per block of the chosen component, over diffusion time.'),
  matrix: new Panel(main, 'matrix', 'Attribute × attribute matrix', 'Similarity of the attributes in one cell, human ratings beside the model, with a timestep slider.'),
};

function setPageState(value: 'loading' | 'ready' | 'empty' | 'error'): void {
  document.body.dataset.atlas = value;
}

// ---- state resolution ---------------------------------------------------------------------------

interface Resolved {
  probeRun: ProbeRun;
  extractionRun: ExtractionRun | undefined;
  model: Model | undefined;
  norms: NormsDataset | undefined;
  metric: Metric;
  component: Component | undefined;
  pooling: Pooling | undefined;
  group: NormsDataset['attributeGroups'][number] | undefined;
}

let state: AtlasState = readState();
let catalogue: Catalogue | undefined;
const cellCache = new Map<string, ProbeCell[]>();
let generation = 0;
let refreshTimer: number | undefined;

function metricsOf(data: Catalogue): Metric[] {
  const names = data.metricType?.enumValues?.map((value) => value.name) ?? ['PEARSON_R', 'R2', 'TWO_VS_TWO'];
  return names as Metric[];
}

function pick<T extends { id: string }>(items: T[], id: string | undefined): T | undefined {
  return items.find((item) => item.id === id);
}

/** The probe run the state names, else the best default among those matching the other pickers. */
function resolveRun(data: Catalogue): ProbeRun | undefined {
  const runs = data.probeRuns.nodes;
  const extraction = (run: ProbeRun) => pick(data.extractionRuns.nodes, run.extractionRun.id);
  const matches = runs.filter(
    (run) =>
      (!state.extractionRun || run.extractionRun.id === state.extractionRun) &&
      (!state.norms || run.normsDataset.id === state.norms) &&
      (!state.model || extraction(run)?.model.id === state.model),
  );
  const named = pick(matches, state.probeRun) ?? pick(runs, state.probeRun);
  if (named) return named;
  const candidates = matches.length ? matches : runs;
  // A completed run first, then one with progress; in id order (the demo's tiny network is run 1).
  const rank = (run: ProbeRun) => (run.status === 'COMPLETED' ? 0 : run.progress.doneCount > 0 ? 1 : 2);
  return [...candidates].sort((a, b) => rank(a) - rank(b) || Number(a.id) - Number(b.id))[0];
}

function poolingsOf(cells: ProbeCell[], component: Component | undefined): Pooling[] {
  if (!component) return [];
  const layerIds = new Set(component.layers.map((layer) => layer.id));
  return [...new Set(cells.filter((cell) => layerIds.has(cell.layer.id)).map((cell) => cell.pooling))].sort();
}

function resolve(data: Catalogue, run: ProbeRun, cells: ProbeCell[]): Resolved {
  const extractionRun = pick(data.extractionRuns.nodes, run.extractionRun.id);
  const model = pick(data.models, extractionRun?.model.id);
  const norms = pick(data.normsDatasets, run.normsDataset.id);
  const metrics = metricsOf(data);
  const metric = (metrics.includes(state.metric as Metric) ? state.metric : metrics[0]) as Metric;
  const probed = new Set(cells.map((cell) => cell.layer.id));
  const components = (model?.components ?? []).filter((component) => component.layers.some((layer) => probed.has(layer.id)));
  const component =
    pick(components, state.component) ?? components.find((c) => c.kind === 'UNET') ?? components.find((c) => c.hasTimesteps) ?? components[0];
  const poolings = poolingsOf(cells, component);
  const pooling = (poolings.includes(state.pooling as Pooling) ? state.pooling : poolings.includes('EOT') ? 'EOT' : poolings[0]) as Pooling | undefined;
  const groups = norms?.attributeGroups ?? [];
  const group = pick(groups, state.group) ?? groups[0];
  return { probeRun: run, extractionRun, model, norms, metric, component, pooling, group };
}

// ---- pickers -----------------------------------------------------------------------------------

function select(key: StateKey, label: string, options: Array<{ value: string; label: string }>, value: string | undefined, clears: StateKey[] = []): HTMLElement {
  const wrapper = document.createElement('label');
  wrapper.className = 'picker';
  const text = document.createElement('span');
  text.textContent = label;
  const node = document.createElement('select');
  node.id = `pick-${key}`;
  node.name = key;
  for (const option of options) {
    const element = document.createElement('option');
    element.value = option.value;
    element.textContent = option.label;
    node.append(element);
  }
  if (value !== undefined) node.value = value;
  node.disabled = options.length === 0;
  node.addEventListener('change', () => {
    const next: AtlasState = { ...state, [key]: node.value };
    for (const cleared of clears) delete next[cleared];
    change(next);
  });
  wrapper.append(text, node);
  return wrapper;
}

function runLabel(run: { id: string; status: string; progress: { doneCount: number; plannedCount: number } }, name: string): string {
  const progress = run.status === 'COMPLETED' ? '' : ` · ${run.status.toLowerCase()} ${run.progress.doneCount}/${run.progress.plannedCount}`;
  return `#${run.id} ${name}${progress}`;
}

function renderPickers(data: Catalogue, resolved: Resolved, cells: ProbeCell[]): void {
  const { model, extractionRun, norms, probeRun, component } = resolved;
  const modelName = (id: string | undefined) => data.models.find((m) => m.id === id)?.name ?? '?';
  const extractionsOfModel = data.extractionRuns.nodes.filter((run) => run.model.id === model?.id);
  const runsHere = data.probeRuns.nodes.filter((run) => run.extractionRun.id === extractionRun?.id && run.normsDataset.id === norms?.id);
  const probedLayers = new Set(cells.map((cell) => cell.layer.id));
  const components = (model?.components ?? []).filter((c) => c.layers.some((layer) => probedLayers.has(layer.id)));
  const cellDependent: StateKey[] = ['component', 'pooling', 'layer', 'timestep', 'matrixTimestep'];
  pickers.replaceChildren(
    select('model', 'Model', data.models.map((m) => ({ value: m.id, label: `${m.name} (${m.kindLabel})` })), model?.id, ['extractionRun', 'probeRun', ...cellDependent]),
    select('extractionRun', 'Extraction run', extractionsOfModel.map((run) => ({ value: run.id, label: runLabel(run, modelName(run.model.id)) })), extractionRun?.id, ['probeRun', ...cellDependent]),
    select('norms', 'Norms', data.normsDatasets.map((n) => ({ value: n.id, label: `${n.name} v${n.version}` })), norms?.id, ['probeRun', 'group']),
    select('probeRun', 'Probe run', (runsHere.length ? runsHere : [probeRun]).map((run) => ({ value: run.id, label: runLabel(run, 'probe run') })), probeRun.id, cellDependent),
    select('metric', 'Metric', metricsOf(data).map((m) => ({ value: m, label: metricLabel(m) })), resolved.metric),
    select('component', 'Component', components.map((c) => ({ value: c.id, label: c.name })), component?.id, ['pooling', 'layer', 'timestep', 'matrixTimestep']),
    select('pooling', 'Pooling', poolingsOf(cells, component).map((p) => ({ value: p, label: p.toLowerCase().replace(/_/g, ' ') })), resolved.pooling),
    select('group', 'Attribute group', (norms?.attributeGroups ?? []).map((g) => ({ value: g.id, label: g.name })), resolved.group?.id),
  );
}

function renderCellPicker(component: Component, cells: ProbeCell[], layerId: string, timestep: string): void {
  pickers.querySelector('.cell-picker')?.remove();
  const layerIds = new Set(component.layers.map((layer) => layer.id));
  const timesteps = [...new Set(cells.filter((cell) => layerIds.has(cell.layer.id)).map((cell) => timestepKey(cell.timestep)))];
  timesteps.sort((a, b) => (a === 'none' ? -1 : b === 'none' ? 1 : Number(b) - Number(a)));
  const group = document.createElement('fieldset');
  group.className = 'cell-picker';
  const legend = document.createElement('legend');
  legend.textContent = 'Cell (for the attribute bars)';
  group.append(
    legend,
    select('layer', 'Layer', component.layers.filter((layer) => layerIds.has(layer.id)).map((layer) => ({ value: layer.id, label: layer.name })), layerId),
    select('timestep', 'Timestep', timesteps.map((t) => ({ value: t, label: t === 'none' ? '— (none)' : t })), timestep),
  );
  pickers.append(group);
}

// ---- loading -----------------------------------------------------------------------------------

function timestepKey(timestep: number | null): string {
  return timestep === null ? 'none' : String(timestep);
}

async function loadCells(data: Catalogue, run: ProbeRun): Promise<ProbeCell[]> {
  const key = `${run.id}:${run.status}:${run.progress.doneCount}`;
  const cached = cellCache.get(key);
  if (cached) return cached;
  const cells: ProbeCell[] = [];
  let after: string | null = null;
  const first = data.apiLimits.maxPageSize;
  // Relay pagination: pages of `first` until hasNextPage is false, each after the last endCursor.
  for (;;) {
    const page: AtlasProbeCellsQuery = await request<AtlasProbeCellsQuery, AtlasProbeCellsQueryVariables>(PROBE_CELLS, { probeRunId: run.id, first, after });
    const connection = page.probeRun?.probeCells;
    if (!connection) break;
    cells.push(...connection.nodes);
    if (!connection.pageInfo.hasNextPage || !connection.pageInfo.endCursor) break;
    after = connection.pageInfo.endCursor;
  }
  cellCache.clear();
  cellCache.set(key, cells);
  return cells;
}

function chartWidth(panel: Panel): number {
  return Math.max(560, Math.min(1100, panel.root.clientWidth - 32 || 900));
}

function showError(panel: Panel, error: unknown): void {
  if (error instanceof ApiError) panel.fail(error.code, error.message);
  else panel.fail('CLIENT_ERROR', (error as Error).message);
}

function statusLine(data: Catalogue, run: ProbeRun | undefined): string {
  const active = [
    ...data.extractionRuns.nodes.filter((r) => ACTIVE.has(r.status)).map((r) => `extraction run #${r.id} ${r.status.toLowerCase()} (${r.progress.doneCount}/${r.progress.plannedCount} concepts)`),
    ...data.probeRuns.nodes.filter((r) => ACTIVE.has(r.status)).map((r) => `probe run #${r.id} ${r.status.toLowerCase()} (${r.progress.doneCount}/${r.progress.plannedCount} cells)`),
  ];
  const parts: string[] = [];
  if (!run) {
    parts.push(
      active.length
        ? 'No probe results yet: the pipeline is filling this database.'
        : 'This database holds no probe runs yet. Run `npm run extract` and `npm run probe` (README), or start on an empty database to get the demo.',
    );
  } else if (run.status === 'FAILED') {
    parts.push(`Probe run #${run.id} FAILED: ${run.error ?? 'no error recorded'}. The charts show what it stored.`);
  }
  if (active.length) parts.push(`A run is in progress: ${active.join('; ')}. Charts show what is stored so far and refresh every ${REFRESH_MS / 1000} s.`);
  return parts.join(' ');
}

function scheduleRefresh(data: Catalogue): void {
  window.clearTimeout(refreshTimer);
  const active = data.extractionRuns.nodes.some((r) => ACTIVE.has(r.status)) || data.probeRuns.nodes.some((r) => ACTIVE.has(r.status));
  if (active) refreshTimer = window.setTimeout(() => void render({ refresh: true }), REFRESH_MS);
}

// ---- the views ---------------------------------------------------------------------------------

function baseFilter(resolved: Resolved): NonNullable<GridInput['filter']> {
  return { probeRunIds: [resolved.probeRun.id] };
}

async function renderHeatmap(resolved: Resolved, stale: () => boolean): Promise<HeatmapCell[] | undefined> {
  const { component, pooling, group, metric } = resolved;
  const panel = panels.heatmap;
  if (!component || !pooling || !group) {
    panel.message('empty', 'No probe cells stored for this run yet.');
    return undefined;
  }
  const cellLevel = CELL_LEVEL_METRICS.has(metric);
  const variables: AtlasHeatmapQueryVariables = {
    input: {
      metric,
      groupBy: ['LAYER', 'TIMESTEP'],
      filter: { ...baseFilter(resolved), componentIds: [component.id], poolings: [pooling], ...(cellLevel ? {} : { attributeGroupIds: [group.id] }) },
    },
  };
  const data = await request<AtlasHeatmapQuery, AtlasHeatmapQueryVariables>(HEATMAP, variables);
  if (stale()) return undefined;
  const cells = heatmapCells(data.grid);
  const selected = state.layer && state.timestep ? { layerId: state.layer, timestep: state.timestep === 'none' ? '—' : state.timestep } : undefined;
  panel.show({
    query: { document: HEATMAP, variables },
    columns: HEATMAP_COLUMNS,
    rows: heatmapRows(cells),
    caption: `${cellLevel ? 'all attributes (a cell-level metric)' : group.name} · ${component.name} (${pooling.toLowerCase()}) · ${heatmapCaption(data.grid, cells)}`,
    draw: (container) =>
      drawHeatmap(container, data.grid, cells, {
        width: chartWidth(panel),
        selected,
        onSelect: (cell) => change({ ...state, layer: cell.layerId ?? undefined, timestep: timestepKey(cell.timestepValue) }),
      }),
  });
  timings.heatmapRenderedMs ??= performance.now();
  return cells;
}

async function renderCurves(data: Catalogue, resolved: Resolved, cells: ProbeCell[], stale: () => boolean): Promise<void> {
  const { component, pooling, metric, model } = resolved;
  const panel = panels.curves;
  if (!component || !pooling) return panel.message('empty', 'No probe cells stored for this run yet.');
  if (CELL_LEVEL_METRICS.has(metric)) {
    return panel.message('unsupported', `${metricLabel(metric)} has one value per probe cell, not per attribute group: choose a per-attribute metric for these curves (the heatmap shows it per layer and timestep).`);
  }
  const textEncoder = model?.components.find((c) => c.kind === 'TEXT_ENCODER' && c.id !== component.id);
  const tePoolings = poolingsOf(cells, textEncoder);
  const tePooling: Pooling = tePoolings.includes('EOT') ? 'EOT' : (tePoolings[0] ?? 'EOT');
  const withTextEncoder = Boolean(textEncoder && tePoolings.length);
  const variables: AtlasCurvesQueryVariables = {
    timeline: { metric, groupBy: ['ATTRIBUTE_GROUP', component.hasTimesteps ? 'TIMESTEP' : 'LAYER'], filter: { ...baseFilter(resolved), componentIds: [component.id], poolings: [pooling] } },
    textEncoder: { metric, groupBy: ['ATTRIBUTE_GROUP', 'LAYER'], filter: { ...baseFilter(resolved), componentIds: [textEncoder?.id ?? component.id], poolings: [tePooling] } },
    withTextEncoder,
  };
  const result = await request<AtlasCurvesQuery, AtlasCurvesQueryVariables>(CURVES, variables);
  if (stale()) return;
  const names = {
    textEncoder: `${textEncoder?.name ?? 'text encoder'} layers (${tePooling.toLowerCase()})`,
    timeline: `${component.name} ${component.hasTimesteps ? 'timesteps' : 'layers'} (${pooling.toLowerCase()})`,
  };
  const rows = curveRows(result, names);
  panel.show({
    query: { document: CURVES, variables },
    columns: CURVE_COLUMNS,
    rows,
    caption: `${chanceText(result.timeline.chance)} (dashed). Left of each panel: ${names.textEncoder}; right: ${names.timeline}, mean over the component's layers.`,
    draw: (container) => drawCurves(container, result, rows, { width: chartWidth(panel), metric, names, selectedGroup: resolved.group?.name }),
  });
}

async function renderBars(data: Catalogue, resolved: Resolved, cells: ProbeCell[], heatmap: HeatmapCell[] | undefined, stale: () => boolean): Promise<void> {
  const { component, pooling, metric, norms } = resolved;
  const panel = panels.bars;
  if (!component || !pooling) return panel.message('empty', 'No probe cells stored for this run yet.');
  const scoreMetric = SCORE_METRICS.has(metric);
  const layerIds = new Set(component.layers.map((layer) => layer.id));
  const candidates = cells.filter((cell) => layerIds.has(cell.layer.id) && cell.pooling === pooling);
  let cell = candidates.find((c) => c.layer.id === state.layer && timestepKey(c.timestep) === state.timestep);
  if (!cell) {
    // Default: the heatmap's best cell.
    const best = [...(heatmap ?? [])].filter((c) => c.mean !== null).sort((a, b) => b.mean! - a.mean!)[0];
    cell = candidates.find((c) => best && c.layer.id === best.layerId && timestepKey(c.timestep) === timestepKey(best.timestepValue)) ?? candidates[0];
  }
  if (!cell) return panel.message('empty', 'No probe cell of this component and pooling is stored yet.');
  const layerName = component.layers.find((layer) => layer.id === cell.layer.id)?.name ?? cell.layer.id;
  state = { ...state, layer: cell.layer.id, timestep: timestepKey(cell.timestep) };
  renderCellPicker(component, candidates, cell.layer.id, timestepKey(cell.timestep));
  if (!scoreMetric) {
    return panel.message('unsupported', `A probe score has no per-attribute ${metricLabel(metric)}: choose Pearson r, R² or 2-vs-2 accuracy for the bars.`);
  }
  const variables: AtlasCellScoresQueryVariables = {
    probeCellId: cell.id,
    first: data.apiLimits.maxPageSize,
    chance: { metric, groupBy: [], filter: { ...baseFilter(resolved), layerIds: [cell.layer.id], timesteps: [cell.timestep], poolings: [pooling] } },
  };
  const result = await request<AtlasCellScoresQuery, AtlasCellScoresQueryVariables>(CELL_SCORES, variables);
  if (stale()) return;
  const rows = barRows(result, metric);
  const failing = rows.filter((row) => row.passes === 'no').length;
  const ceiling = norms?.noiseCeiling.available ? '' : ` No noise ceiling: ${norms?.noiseCeiling.reason ?? 'none stored'}.`;
  panel.show({
    query: { document: CELL_SCORES, variables },
    columns: BAR_COLUMNS,
    rows,
    caption: `${component.name} ${layerName} · timestep ${cell.timestep ?? '—'} · ${cell.pooling.toLowerCase()} · ${cell.conceptCount} concepts: ${rows.length} attributes, ${failing} failing the permutation test; ${chanceText(result.grid.chance)} (dashed); outlined: ${resolved.group?.name ?? ''}.${ceiling}`,
    draw: (container) => drawBars(container, result, rows, { width: chartWidth(panel), metric, selectedGroup: resolved.group?.name }),
  });
}

function renderDisentanglement(resolved: Resolved, cells: ProbeCell[]): void {
  const { component, pooling } = resolved;
  const panel = panels.disentanglement;
  if (!component || !pooling) return panel.message('empty', 'No probe cells stored for this run yet.');
  const layerName = new Map(component.layers.map((layer) => [layer.id, layer.name]));
  const mine = cells.filter((cell) => layerName.has(cell.layer.id) && cell.pooling === pooling);
  const rows: DisentanglementRow[] = mine
    .map((cell) => ({
      layer: layerName.get(cell.layer.id)!,
      timestep: cell.timestep === null ? '—' : String(cell.timestep),
      attributeTwoVsTwo: cell.attributeTwoVsTwo,
      attributeRsa: cell.attributeRsa,
      conceptTwoVsTwo: cell.conceptTwoVsTwo,
      conceptCount: cell.conceptCount,
    }))
    .sort((a, b) => a.layer.localeCompare(b.layer) || Number(b.timestep) - Number(a.timestep));
  if (!rows.some((row) => row.attributeTwoVsTwo !== null)) {
    return panel.message('empty', 'The probe cells of this component store no attribute-pair 2-vs-2 (the probe run did not compute disentanglement).');
  }
  const layers = component.layers.map((layer) => layer.name).filter((name) => rows.some((row) => row.layer === name));
  const timesteps = [...new Set(mine.map((cell) => cell.timestep))].sort((a, b) => (b ?? Infinity) - (a ?? Infinity)).map((t) => (t === null ? '—' : String(t)));
  const variables: AtlasProbeCellsQueryVariables = { probeRunId: resolved.probeRun.id, first: catalogue!.apiLimits.maxPageSize, after: null };
  panel.show({
    query: { document: PROBE_CELLS, variables },
    columns: DISENTANGLEMENT_COLUMNS,
    rows,
    caption: `${component.name} (${pooling.toLowerCase()}): ${layers.length} blocks × ${timesteps.length} timesteps; chance 0.5 (theoretical, dashed). Lower means attributes are harder to tell apart.`,
    draw: (container) => drawDisentanglement(container, rows, { width: chartWidth(panel), layers, timesteps, hasTimesteps: component.hasTimesteps }),
  });
}

async function renderMatrix(data: Catalogue, resolved: Resolved, cells: ProbeCell[], stale: () => boolean): Promise<void> {
  const panel = panels.matrix;
  const { component, pooling } = resolved;
  const fields = new Set(data.probeCellType?.fields?.map((field) => field.name) ?? []);
  if (!fields.has('attributeMatrix')) {
    panel.controls.replaceChildren();
    return panel.message('unsupported', 'This API serves no attribute × attribute matrix (ProbeCell.attributeMatrix is missing); the view appears when the server provides one.');
  }
  if (!component || !pooling || !state.layer) {
    panel.controls.replaceChildren();
    return panel.message('empty', 'No probe cell selected yet.');
  }
  // The selected layer's cells over time, in denoising order; the slider picks one.
  const series = cells
    .filter((cell) => cell.layer.id === state.layer && cell.pooling === pooling)
    .sort((a, b) => (b.timestep ?? Infinity) - (a.timestep ?? Infinity));
  if (!series.length) return panel.message('empty', 'No probe cell of this layer and pooling is stored yet.');
  const at = Math.max(0, series.findIndex((cell) => timestepKey(cell.timestep) === state.matrixTimestep));
  const cell = series[at]!;
  state = { ...state, matrixTimestep: timestepKey(cell.timestep) };
  renderSlider(series, at);
  panel.loading();
  const variables: AtlasMatrixQueryVariables = { probeCellId: cell.id };
  const result = await request<AtlasMatrixQuery, AtlasMatrixQueryVariables>(MATRIX, variables);
  if (stale()) return;
  const human = result.probeCell?.human ?? null;
  const model = result.probeCell?.model ?? null;
  const layerName = component.layers.find((layer) => layer.id === cell.layer.id)?.name ?? cell.layer.id;
  if (!human && !model) {
    return panel.message('empty', `The probe cell of ${layerName} at timestep ${cell.timestep ?? '—'} stored no similarity matrices (cells probed before the compact storage have only the pair accuracies).`, { document: MATRIX, variables });
  }
  const rows = matrixRows({ human, model });
  const attributes = (human ?? model)!.attributes.map((attribute) => attribute.name);
  panel.show({
    query: { document: MATRIX, variables },
    columns: MATRIX_COLUMNS,
    rows,
    caption: `${component.name} ${layerName} · timestep ${cell.timestep ?? '—'} · ${cell.pooling.toLowerCase()}: ${attributes.length} attributes; ${human ? '' : 'no human matrix stored; '}${model ? '' : 'no model matrix stored; '}chance (unrelated attributes) is 0, the scale's pivot.`,
    draw: (container) => drawMatrix(container, rows, attributes, { width: chartWidth(panel) }),
  });
}

function renderSlider(series: ProbeCell[], at: number): void {
  const label = document.createElement('label');
  label.className = 'slider';
  const text = document.createElement('span');
  const show = (index: number) => {
    text.textContent = `Timestep ${series[index]?.timestep ?? '—'} (${index + 1} of ${series.length}, denoising order)`;
  };
  const input = document.createElement('input');
  input.type = 'range';
  input.id = 'matrix-timestep';
  input.min = '0';
  input.max = String(series.length - 1);
  input.step = '1';
  input.value = String(at);
  input.disabled = series.length < 2;
  input.setAttribute('aria-valuetext', `timestep ${series[at]?.timestep ?? 'none'}`);
  input.addEventListener('input', () => show(Number(input.value)));
  input.addEventListener('change', () => change({ ...state, matrixTimestep: timestepKey(series[Number(input.value)]?.timestep ?? null) }));
  show(at);
  label.append(text, input);
  panels.matrix.controls.replaceChildren(label);
}

// ---- the render loop ----------------------------------------------------------------------------

async function render(options: { refresh?: boolean } = {}): Promise<void> {
  const mine = ++generation;
  const stale = () => mine !== generation;
  setPageState('loading');
  try {
    if (!catalogue || options.refresh) catalogue = await request<AtlasCatalogueQuery, AtlasCatalogueQueryVariables>(CATALOGUE, {});
  } catch (error) {
    if (stale()) return;
    banner.textContent = `The API could not be read: ${(error as Error).message}`;
    banner.setAttribute('role', 'alert');
    banner.className = 'error';
    for (const panel of Object.values(panels)) showError(panel, error);
    setPageState('error');
    window.clearTimeout(refreshTimer);
    refreshTimer = window.setTimeout(() => void render({ refresh: true }), REFRESH_MS);
    return;
  }
  if (stale()) return;
  const data = catalogue;
  const run = resolveRun(data);
  banner.setAttribute('role', 'status');
  banner.textContent = statusLine(data, run);
  banner.className = run && !data.probeRuns.nodes.some((r) => ACTIVE.has(r.status)) ? '' : 'notice';
  scheduleRefresh(data);
  if (!run) {
    pickers.replaceChildren();
    for (const panel of Object.values(panels)) panel.message('empty', banner.textContent);
    setPageState('empty');
    return;
  }
  let cells: ProbeCell[];
  try {
    cells = await loadCells(data, run);
  } catch (error) {
    if (stale()) return;
    for (const panel of Object.values(panels)) showError(panel, error);
    setPageState('error');
    return;
  }
  if (stale()) return;
  const resolved = resolve(data, run, cells);
  state = {
    ...state,
    model: resolved.model?.id,
    extractionRun: resolved.extractionRun?.id,
    norms: resolved.norms?.id,
    probeRun: run.id,
    metric: resolved.metric,
    component: resolved.component?.id,
    pooling: resolved.pooling,
    group: resolved.group?.id,
  };
  writeState(state, 'replace');
  renderPickers(data, resolved, cells);
  for (const panel of [panels.heatmap, panels.curves, panels.bars, panels.matrix]) panel.loading();
  let failed = false;
  const guard = (panel: Panel) => (error: unknown) => {
    failed = true;
    if (!stale()) showError(panel, error);
  };
  const heatmap = renderHeatmap(resolved, stale).catch((error) => {
    guard(panels.heatmap)(error);
    return undefined;
  });
  const curves = renderCurves(data, resolved, cells, stale).catch(guard(panels.curves));
  const bars = heatmap.then((grid) => renderBars(data, resolved, cells, grid, stale)).catch(guard(panels.bars));
  try {
    renderDisentanglement(resolved, cells);
  } catch (error) {
    guard(panels.disentanglement)(error);
  }
  // The matrix follows the bars' cell (its layer), so it waits for them.
  const matrix = bars.then(() => renderMatrix(data, resolved, cells, stale)).catch(guard(panels.matrix));
  await Promise.all([heatmap, curves, bars, matrix]);
  if (stale()) return;
  writeState(state, 'replace');
  setPageState(failed ? 'error' : 'ready');
}

/** A person's change: recorded in the history (shareable URL), then drawn. */
function change(next: AtlasState): void {
  for (const key of Object.keys(next) as StateKey[]) if (next[key] === undefined) delete next[key];
  state = next;
  writeState(state, 'push');
  void render();
}

window.addEventListener('popstate', () => {
  state = readState();
  void render();
});

void render();
