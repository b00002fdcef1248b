// What is left for a run's identity, without running it: the run found by its identity (or none yet),
// which of the caller's units of work (concepts, cells) it has stored, which are left, and whether it
// is complete (COMPLETED with nothing left: a re-run then writes nothing and reports NOTHING_TO_DO).
// The run modules decide with it whether to work, and the demo pipeline whether a step is done.
import { findRun, type Queryable, type RunLocator, type RunTable, type StoredRun } from './store.ts';

export interface RunPlan<Unit> {
  /** The run with this identity; null when none is stored yet. */
  run: StoredRun | null;
  total: number;
  done: Unit[];
  left: Unit[];
  /** The run is COMPLETED and every unit is stored. */
  complete: boolean;
}

export interface PlanUnits<Unit> {
  /** The units this invocation covers; a function when they depend on the stored run (e.g. its out-of-vocabulary words). */
  units: readonly Unit[] | ((run: StoredRun | null) => readonly Unit[]);
  key: (unit: Unit) => string;
  /** Keys of the units run `runId` has stored. */
  stored: (db: Queryable, runId: number) => Promise<ReadonlySet<string>>;
}

/** The plan for a run already found (or created): pure but for reading its stored units. */
export async function planFor<Unit>(db: Queryable, run: StoredRun | null, work: PlanUnits<Unit>): Promise<RunPlan<Unit>> {
  const units = typeof work.units === 'function' ? work.units(run) : work.units;
  const stored = run ? await work.stored(db, run.id) : new Set<string>();
  const done: Unit[] = [];
  const left: Unit[] = [];
  for (const unit of units) (stored.has(work.key(unit)) ? done : left).push(unit);
  return { run, total: units.length, done, left, complete: run?.status === 'COMPLETED' && left.length === 0 };
}

/** What is left for the run `locator` identifies in `table`; reads only. */
export async function plan<Unit>(db: Queryable, table: RunTable, locator: RunLocator, work: PlanUnits<Unit>): Promise<RunPlan<Unit>> {
  return planFor(db, await findRun(db, table, locator), work);
}
