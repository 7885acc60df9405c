// A new directory is added, mapped and acquired by the engine within a few of its (early) ticks,
// passing through `mapping` on the way. Two things keep that from costing a reconcile per state:
//
// - The reconcile that saw a passing state waits for it to settle (outside its worker slot, see
//   WorkQueue.outsideSlot) for at most SETTLE_MS, and writes one status: usually Ready.
// - An engine change reaches the work queue only when the object's status would say something
//   new: not while a reconcile in flight is going to report the state anyway, and not when the
//   last status written already says it (the "echo" of our own work).
//
// Kept per object key: the engine state last reported (a short string) and, while a reconcile
// runs, whether it still has to read the state or which state it is writing.
import type { DirectoryStatus, DirectoryStatusWord } from '../reconcile/index.js';

/** States a directory passes through within a tick or two on its way to mapped. */
export const PASSING: ReadonlySet<DirectoryStatusWord> = new Set([
  'mapping',
  'resolving',
  'shuffling',
  'unmapping',
]);

/** The part of an engine status the object's status is written from ('' for untracked). */
export function engineFingerprint(s: DirectoryStatus | undefined): string {
  if (!s) return '';
  return `${s.state}|${s.instanceId ?? ''}|${s.lastShuffled ?? ''}|${s.purging ? 1 : 0}|${s.reason ?? ''}`;
}

/** How a wait ended: the state settled, the wait ran out, or the object changed. */
export type SettleOutcome = 'settled' | 'timeout' | 'interrupted';

/** A reconcile in flight that will read the engine state after its wait. */
const WILL_READ = Symbol('will read');

export class DirectorySettling {
  /** Object key → fingerprint of the engine state its last status write reported. */
  private readonly reported = new Map<string, string>();
  /** Object key → its reconcile in flight: WILL_READ, or the fingerprint it is writing. */
  private readonly reporting = new Map<string, string | typeof WILL_READ>();
  /** `<mirror key>\0<path>` → object keys waiting for that directory to settle. */
  private readonly waits = new Map<string, Map<string, (how: SettleOutcome) => void>>();
  /** Object key → how to end its wait early (its object changed). */
  private readonly waitOf = new Map<string, (how: SettleOutcome) => void>();

  /** A reconcile of `key` starts: what it last reported no longer holds until it reports again. */
  begin(key: string): void {
    this.reported.delete(key);
  }

  /** The reconcile is about to look at the engine's state of its path: changes are its own. */
  willRead(key: string): void {
    this.reporting.set(key, WILL_READ);
  }

  /** The reconcile writes the state with this fingerprint (changes to another one still count). */
  writing(key: string, fingerprint: string): void {
    this.reporting.set(key, fingerprint);
  }

  /** The status with this fingerprint is written. */
  written(key: string, fingerprint: string): void {
    this.reported.set(key, fingerprint);
  }

  /** The reconcile of `key` is over (whatever its outcome). */
  end(key: string): void {
    this.reporting.delete(key);
  }

  /** The object is gone. */
  forget(key: string): void {
    this.reported.delete(key);
    this.reporting.delete(key);
    this.waitOf.get(key)?.('interrupted');
  }

  /**
   * Whether an engine change of the object's path, now at `status`, needs a reconcile: not when
   * the reconcile in flight reads or writes that very state, nor when the last status says it.
   */
  wants(key: string, status: DirectoryStatus | undefined): boolean {
    const fingerprint = engineFingerprint(status);
    const inFlight = this.reporting.get(key);
    if (inFlight === WILL_READ) return false;
    if (inFlight !== undefined) return inFlight !== fingerprint;
    return this.reported.get(key) !== fingerprint;
  }

  /**
   * Resolves once the directory `path` of `mirrorKey` is in a state that is not passing (told
   * through `changed`), the object changed (`interrupt`), or after `ms`.
   */
  settle(key: string, mirrorKey: string, path: string, ms: number): Promise<SettleOutcome> {
    const id = `${mirrorKey}\0${path}`;
    return new Promise((resolve) => {
      let waiting = this.waits.get(id);
      if (!waiting) this.waits.set(id, (waiting = new Map()));
      const set = waiting;
      const done = (how: SettleOutcome): void => {
        clearTimeout(timer);
        if (set.get(key) === done) set.delete(key);
        if (set.size === 0 && this.waits.get(id) === set) this.waits.delete(id);
        if (this.waitOf.get(key) === done) this.waitOf.delete(key);
        resolve(how);
      };
      const timer = setTimeout(() => done('timeout'), ms);
      this.waitOf.get(key)?.('interrupted');
      set.set(key, done);
      this.waitOf.set(key, done);
    });
  }

  /** The engine's state of a directory changed: the waits on it end once it is not passing. */
  changed(mirrorKey: string, path: string, status: DirectoryStatus | undefined): void {
    const waiting = this.waits.get(`${mirrorKey}\0${path}`);
    if (!waiting || (status && PASSING.has(status.state))) return;
    for (const done of [...waiting.values()]) done('settled');
  }

  /** The object changed (spec, deletion): its reconcile stops waiting and runs again after. */
  interrupt(key: string): void {
    this.waitOf.get(key)?.('interrupted');
  }
}
