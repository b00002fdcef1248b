// One operation's scope: its AbortSignal (the client left, or the operation was refused), its budget
// of grid cells and estimated response bytes summed over every grid field, alias and fragment, and
// its heavy-operation slot (admission.ts). The slot is taken once per operation, by the admission
// plugin before execution or by the first heavy resolver, and given back only when the response is
// done AND no heavy work is still in flight, so a disconnected client's statements are cancelled
// (src/grid/connections.ts) before another operation gets its slot.
import { setMaxListeners } from 'node:events';
import { OperationTooLargeError, RequestCancelledError } from '../errors.ts';
import type { AdmissionGate } from './admission.ts';
import type { RequestLimits } from './resolve.ts';

export class OperationScope {
  private readonly controller = new AbortController();
  /** Aborted with the reason to report: RequestCancelledError, or the budget's OperationTooLargeError. */
  readonly signal: AbortSignal = this.controller.signal;
  private cells = 0;
  private bytes = 0;
  private gate: AdmissionGate | undefined;
  private admission: Promise<void> | undefined;
  private releaseSlot: (() => void) | undefined;
  private inflight = 0;
  private finished = false;
  private heavyFields = 0;

  constructor(readonly limits: RequestLimits, clientSignal?: AbortSignal) {
    // Every grid statement of the operation listens while it waits or runs (one per alias, up to
    // GRAPHQL_MAX_ALIASES at once), and removes its listener after: many at once is expected, not a leak.
    setMaxListeners(limits.maxAliases + 10, this.signal);
    if (clientSignal?.aborted) this.stop(new RequestCancelledError());
    else clientSignal?.addEventListener('abort', () => this.stop(new RequestCancelledError()), { once: true });
  }

  stop(reason: Error): void {
    if (!this.signal.aborted) this.controller.abort(reason);
  }

  /** The server's gate; without one (a context built outside Apollo) heavy work is not admitted. */
  useGate(gate: AdmissionGate): void {
    this.gate = gate;
  }

  /** Takes this operation's heavy slot, once; rejects with SERVER_BUSY or the signal's reason. */
  admit(): Promise<void> {
    if (!this.gate) return Promise.resolve();
    this.admission ??= this.gate.acquire(this.signal).then((release) => {
      this.releaseSlot = release;
      this.settle();
    });
    return this.admission;
  }

  /** Runs one heavy resolver's work inside the slot; the slot is held until every such work has settled. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.inflight++;
    try {
      await this.admit();
      this.signal.throwIfAborted();
      return await work();
    } finally {
      this.inflight--;
      this.settle();
    }
  }

  /**
   * Counts `cells` grid cells and `bytes` estimated response bytes against the operation's budget;
   * over it, stops every other part of the operation and throws OPERATION_TOO_LARGE naming `field`.
   */
  reserve(field: string, cells: number, bytes: number): void {
    this.signal.throwIfAborted();
    this.cells += cells;
    this.bytes += bytes;
    let refusal: OperationTooLargeError | undefined;
    if (this.cells > this.limits.maxOperationCells) {
      refusal = new OperationTooLargeError('GRAPHQL_MAX_OPERATION_CELLS', this.cells, this.limits.maxOperationCells, field);
    } else if (this.bytes > this.limits.maxResponseBytes) {
      refusal = new OperationTooLargeError('GRAPHQL_MAX_RESPONSE_BYTES', this.bytes, this.limits.maxResponseBytes, field);
    }
    if (refusal) {
      this.stop(refusal);
      throw refusal;
    }
  }

  /** True for the operation's first heavy field only: later ones read their size before starting big statements. */
  firstHeavyField(): boolean {
    return this.heavyFields++ === 0;
  }

  get reserved(): { cells: number; bytes: number } {
    return { cells: this.cells, bytes: this.bytes };
  }

  /** The response is built (or the request failed): give the slot back once no work is in flight. */
  finish(): void {
    this.finished = true;
    this.settle();
  }

  private settle(): void {
    if (this.finished && this.inflight === 0 && this.releaseSlot) {
      const release = this.releaseSlot;
      this.releaseSlot = undefined;
      release();
    }
  }
}
