// Scheduled snapshots of a mirrored directory, as pure functions (no I/O, no clock: `now` is an
// argument). Time is cut into slots of one interval from the schedule's start; the snapshot of a
// slot is named after the slot's start (`<prefix>2026-12-02T08-15-00Z`, colon-free), so whoever
// computes it again (after a restart, on another replica) gets the same name, and `mkdir .snap/x`
// answering EEXIST means "already taken". After downtime only the current slot's snapshot is
// missing from the operator's point of view: one catch-up, never a burst.

export const DEFAULT_SNAPSHOT_PREFIX = 'mirror-';
/** Weeks start on Monday (1970-01-05), as ISO weeks do; other units from the epoch. */
const MONDAY_EPOCH_MS = Date.UTC(1970, 0, 5);
const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};
const STAMP = /(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})Z$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface Schedule {
  intervalMs: number;
  /** Slots start at startMs + k * intervalMs; none before startMs. */
  startMs: number;
}

export interface Retention {
  keepLast?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

export class ScheduleError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** `<n><s|m|h|d|w>[@<RFC 3339 time>]`; an interval below `minIntervalMs` is refused. */
export function parseSchedule(text: string, minIntervalMs: number): Schedule {
  const m = /^(\d{1,6})([smhdw])(?:@(.+))?$/.exec(text.trim());
  if (!m) {
    throw new ScheduleError(
      'InvalidSchedule',
      `schedule "${text}" is not an interval such as 15m, 1h, 1d or 1w, optionally @<RFC 3339 start>`,
    );
  }
  const intervalMs = Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  if (intervalMs < minIntervalMs) {
    throw new ScheduleError(
      'InvalidSchedule',
      `schedule "${text}" is shorter than the minimum interval of ${minIntervalMs / 1000} s`,
    );
  }
  let startMs = m[2] === 'w' ? MONDAY_EPOCH_MS : 0;
  if (m[3] !== undefined) {
    // An explicit offset is required: a start time must not depend on the operator's zone.
    const start = /(Z|[+-]\d{2}:\d{2})$/.test(m[3]) ? Date.parse(m[3]) : NaN;
    if (!Number.isFinite(start)) {
      throw new ScheduleError(
        'InvalidSchedule',
        `schedule start "${m[3]}" is not an RFC 3339 time with a zone (e.g. 2026-01-01T02:00:00Z)`,
      );
    }
    startMs = start;
  }
  return { intervalMs, startMs };
}

/** The start of the slot `now` falls in, or undefined before the schedule's start. */
export function currentSlot(s: Schedule, nowMs: number): number | undefined {
  if (nowMs < s.startMs) return undefined;
  return s.startMs + Math.floor((nowMs - s.startMs) / s.intervalMs) * s.intervalMs;
}

/** The start of the next slot after `now`. */
export function nextSlot(s: Schedule, nowMs: number): number {
  const current = currentSlot(s, nowMs);
  return current === undefined ? s.startMs : current + s.intervalMs;
}

export function validatePrefix(prefix: string): string | undefined {
  return PREFIX.test(prefix)
    ? undefined
    : `namePrefix "${prefix}" must start with a letter or digit and hold at most 64 of ` +
        'A-Z a-z 0-9 . _ -';
}

/** The snapshot name of a slot: prefix + its UTC start without colons or milliseconds. */
export function snapshotName(prefix: string, slotMs: number): string {
  return (
    prefix +
    new Date(slotMs)
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/:/g, '-')
  );
}

/** The time in a name ending in our timestamp format (any prefix), or undefined. */
export function timeOfName(name: string): number | undefined {
  const m = STAMP.exec(name);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, ...number[]];
  const t = Date.UTC(y, (mo as number) - 1, d, h, mi, s);
  return snapshotName('', t) === m[0] ? t : undefined;
}

/** The slot time of one of our snapshots (exactly prefix + timestamp), else undefined. */
export function slotOfName(prefix: string, name: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const t = timeOfName(name);
  return t !== undefined && snapshotName(prefix, t) === name ? t : undefined;
}

/** Why a retention is refused, or undefined. Every count is an integer >= 0, one of them > 0. */
export function validateRetention(r: Retention | undefined): string | undefined {
  if (r === undefined) return undefined;
  const counts = Object.entries(r).filter(([, v]) => v !== undefined);
  for (const [k, v] of counts) {
    if (!Number.isInteger(v) || (v as number) < 0) return `retention.${k} must be an integer >= 0`;
  }
  if (counts.length > 0 && counts.every(([, v]) => v === 0)) {
    return 'retention keeps nothing: give at least one count above 0';
  }
  return undefined;
}

function isoWeek(t: number): string {
  const d = new Date(t);
  const day = (d.getUTCDay() + 6) % 7;
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${week}`;
}

const BUCKETS: ReadonlyArray<[keyof Retention, (t: number) => string]> = [
  ['hourly', (t) => new Date(t).toISOString().slice(0, 13)],
  ['daily', (t) => new Date(t).toISOString().slice(0, 10)],
  ['weekly', isoWeek],
  ['monthly', (t) => new Date(t).toISOString().slice(0, 7)],
];

/**
 * The snapshots to remove: only ours (exactly prefix + timestamp); kept are the newest
 * `keepLast`, and the newest of each of the last N hours/days/ISO weeks/months that have one.
 * No retention (or no count given) prunes nothing.
 */
export function snapshotsToPrune(
  prefix: string,
  names: readonly string[],
  retention: Retention | undefined,
): string[] {
  if (!retention || Object.values(retention).every((v) => v === undefined)) return [];
  const ours = names
    .map((name) => ({ name, t: slotOfName(prefix, name) }))
    .filter((s): s is { name: string; t: number } => s.t !== undefined)
    .sort((x, y) => y.t - x.t);
  const keep = new Set<string>(ours.slice(0, retention.keepLast ?? 0).map((s) => s.name));
  for (const [field, bucketOf] of BUCKETS) {
    const n = retention[field] ?? 0;
    let last: string | undefined;
    let kept = 0;
    for (const s of ours) {
      if (kept >= n) break;
      const b = bucketOf(s.t);
      if (b === last) continue;
      last = b;
      kept++;
      keep.add(s.name);
    }
  }
  return ours.filter((s) => !keep.has(s.name)).map((s) => s.name);
}
