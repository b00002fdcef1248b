// The page's state is its URL: every picker writes one query parameter, so a view can be shared,
// bookmarked and restored (back/forward included). Unknown or stale values are dropped when the
// catalogue is resolved (main.ts), never trusted.

export const STATE_KEYS = [
  'model', 'extractionRun', 'norms', 'probeRun', 'metric', 'component', 'pooling', 'group', 'layer', 'timestep', 'matrixTimestep',
] as const;

export type StateKey = (typeof STATE_KEYS)[number];
export type AtlasState = Partial<Record<StateKey, string>>;

export function readState(search: string = window.location.search): AtlasState {
  const params = new URLSearchParams(search);
  const state: AtlasState = {};
  for (const key of STATE_KEYS) {
    const value = params.get(key);
    if (value !== null && value !== '') state[key] = value;
  }
  return state;
}

export function stateSearch(state: AtlasState): string {
  const params = new URLSearchParams();
  for (const key of STATE_KEYS) {
    const value = state[key];
    if (value !== undefined) params.set(key, value);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Records a state in the history: `push` for a person's choice, `replace` for defaults filled in. */
export function writeState(state: AtlasState, mode: 'push' | 'replace'): void {
  const search = stateSearch(state);
  if (search === window.location.search) return;
  const url = `${window.location.pathname}${search}${window.location.hash}`;
  if (mode === 'push') history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}
