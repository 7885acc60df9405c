/** Knobs of the engine, with the mgr module's defaults. */
export interface Tunables {
  /** A directory mapped less than this many seconds ago is not moved to rebalance. */
  shuffleThrottleSeconds: number;
  /** The instance watcher drops a daemon not seen for this long (used by InstanceLiveness). */
  instanceTimeoutSeconds: number;
  /** The driver turns accumulated work into a plan this often. */
  tickSeconds: number;
  /** Largest omap write op: sets plus removals. */
  maxKeysPerWrite: number;
}

export const DEFAULT_TUNABLES: Readonly<Tunables> = Object.freeze({
  shuffleThrottleSeconds: 300,
  instanceTimeoutSeconds: 30,
  tickSeconds: 1,
  maxKeysPerWrite: 256,
});

/** Fill in defaults and refuse values that would make the engine spin or stall. */
export function resolveTunables(overrides: Partial<Tunables> = {}): Tunables {
  const t: Tunables = { ...DEFAULT_TUNABLES, ...overrides };
  if (!(t.shuffleThrottleSeconds >= 0)) throw new RangeError('shuffleThrottleSeconds must be >= 0');
  if (!(t.instanceTimeoutSeconds > 0)) throw new RangeError('instanceTimeoutSeconds must be > 0');
  if (!(t.tickSeconds > 0)) throw new RangeError('tickSeconds must be > 0');
  if (!Number.isInteger(t.maxKeysPerWrite) || t.maxKeysPerWrite < 1) {
    throw new RangeError('maxKeysPerWrite must be a positive integer');
  }
  return t;
}
