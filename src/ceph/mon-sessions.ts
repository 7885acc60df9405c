/**
 * The fast signal of death's evidence (docs/ceph-layer.md, "Liveness"): which RADOS global ids
 * hold a session on the monitors right now. A SIGKILLed cephfs-mirror daemon's monitor session
 * goes at once (Monitor::ms_handle_reset -> remove_session, src/mon/Monitor.cc); a paused one
 * keeps it. `sessions` is a tell command each monitor answers for itself (the admin-socket
 * command registered by Monitor::register_cmds, reached through MCommand and
 * Monitor::handle_tell_command), so it goes to every monitor of the mon map by name through
 * rados_mon_command_target. Caps: handle_tell_command asks for r, w and x on the `mon` service
 * for the command, so `allow r` is not enough; `allow command sessions` is the narrow grant
 * (lab/ceph-cluster.ts operatorCaps).
 *
 * A daemon holds its session on ONE monitor, so a set that misses any monitor would make a live
 * daemon look gone: the lookup resolves undefined ("unknown", no evidence, the instance timeout
 * alone decides) unless every monitor of the map answered in time, and never a partial set.
 */
import type { Rados } from 'rados-js';
import { raceDeadline } from '../deadline.js';
import { errnoCode } from './errors.js';

/** How long one lookup (the mon map, then every monitor) may take before it counts as unknown. */
export const MON_SESSIONS_TIMEOUT_MS = 2_000;

/** Why the last lookup was unknown, or undefined when it succeeded. */
export interface LookupProblem {
  /** CamelCase: MonSessionsPermissionDenied, MonSessionsTimeout, MonSessionsFailed, ... */
  reason: string;
  message: string;
}

export interface MonSessionLookupOptions {
  /** Bound on one whole lookup; default MON_SESSIONS_TIMEOUT_MS. */
  timeoutMs?: number;
  /**
   * Called when lookups start failing (with the problem) and when they work again (undefined):
   * only on a change of state or reason, not on every round, so a missing cap is logged once.
   */
  onAvailabilityChange?: (problem: LookupProblem | undefined) => void;
}

/** One monitor as `rados_mon_command_target` takes it: its name, or its rank when the name is all digits. */
export type MonTarget = string | number;

class LookupFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The monitors of a `mon dump` (JSON): their names, or ranks for all-digit names. */
export function monTargetsOf(dump: unknown): MonTarget[] {
  const mons = (dump as { mons?: unknown } | null)?.mons;
  if (!Array.isArray(mons) || mons.length === 0) {
    throw new LookupFailure('MonSessionsFailed', "'mon dump' lists no monitors");
  }
  return mons.map((m: unknown) => {
    const { name, rank } = (m ?? {}) as { name?: unknown; rank?: unknown };
    if (typeof name !== 'string' || name === '' || typeof rank !== 'number') {
      throw new LookupFailure('MonSessionsFailed', "'mon dump' has a monitor without name or rank");
    }
    // librados reads an all-digits target as a rank.
    return /^[0-9]+$/.test(name) ? rank : name;
  });
}

/**
 * The global ids (decimal strings, exact: global ids are 64-bit and JSON numbers are not) in one
 * monitor's `sessions` output, a JSON array with one object per session.
 */
export function globalIdsOf(output: string): string[] {
  let sessions: unknown;
  try {
    sessions = JSON.parse(output);
  } catch {
    throw new LookupFailure('MonSessionsFailed', "'sessions' returned output that is not JSON");
  }
  if (!Array.isArray(sessions)) {
    throw new LookupFailure('MonSessionsFailed', "'sessions' did not return a list");
  }
  // The digits from the text itself; parsed, they only check that each id was read once.
  const ids = [...output.matchAll(/"global_id":\s*([0-9]+)/g)].map((m) => m[1] as string);
  const withId = sessions.filter(
    (s: unknown) => typeof (s as { global_id?: unknown } | null)?.global_id === 'number',
  ).length;
  if (ids.length !== withId) {
    throw new LookupFailure(
      'MonSessionsFailed',
      "'sessions' output has unexpected global_id fields",
    );
  }
  return ids.map((id) => BigInt(id).toString()).filter((id) => id !== '0');
}

function reasonFor(rc: number): string {
  const code = errnoCode(rc);
  if (code === 'EACCES' || code === 'EPERM') return 'MonSessionsPermissionDenied';
  if (code === 'ETIMEDOUT') return 'MonSessionsTimeout';
  return 'MonSessionsFailed';
}

/**
 * The production `monSessions` port of the instance watcher. Each call: `mon dump` (so a monitor
 * added or removed is seen at once), then `sessions` on every monitor in parallel; the union of
 * their global ids, or undefined when any step failed or the lookup took longer than its bound.
 * A call that cannot be abandoned inside librados (a monitor that does not answer holds a thread
 * of the libuv pool until rados_mon_op_timeout) is never stacked: while one is still out, the
 * next lookups are unknown at once instead of sending more.
 */
export class MonSessionLookup {
  private outstanding: Promise<unknown> | undefined;
  private problem: LookupProblem | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly rados: Rados,
    private readonly options: MonSessionLookupOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? MON_SESSIONS_TIMEOUT_MS;
  }

  /** For InstanceWatcherOptions.monSessions. */
  readonly lookup = async (): Promise<ReadonlySet<string> | undefined> => {
    if (this.outstanding) {
      this.settle({
        reason: 'MonSessionsTimeout',
        message: 'an earlier session lookup is still waiting for a monitor',
      });
      return undefined;
    }
    const calls = this.query();
    const settled = calls.then(
      () => undefined,
      () => undefined,
    );
    this.outstanding = settled;
    void settled.then(() => {
      if (this.outstanding === settled) this.outstanding = undefined;
    });
    try {
      const ids = await raceDeadline(calls, this.timeoutMs, () => {
        throw new LookupFailure(
          'MonSessionsTimeout',
          `the monitors did not all answer 'sessions' within ${this.timeoutMs} ms`,
        );
      });
      this.settle(undefined);
      return ids;
    } catch (e) {
      this.settle(
        e instanceof LookupFailure
          ? { reason: e.reason, message: e.message }
          : { reason: 'MonSessionsFailed', message: e instanceof Error ? e.message : String(e) },
      );
      return undefined;
    }
  };

  private async query(): Promise<Set<string>> {
    const dump = await this.rados.monCommand({ prefix: 'mon dump', format: 'json' });
    if (dump.rc < 0) {
      throw new LookupFailure(
        reasonFor(dump.rc),
        `'mon dump' failed: ${dump.outs.trim() || errnoCode(dump.rc)}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(dump.outbuf.toString('utf8'));
    } catch {
      throw new LookupFailure('MonSessionsFailed', "'mon dump' returned output that is not JSON");
    }
    const perMon = await Promise.all(
      monTargetsOf(parsed).map(async (mon) => {
        const r = await this.rados.monCommandTarget(mon, { prefix: 'sessions', format: 'json' });
        if (r.rc < 0) {
          throw new LookupFailure(
            reasonFor(r.rc),
            `'sessions' on mon ${String(mon)} failed: ${r.outs.trim() || errnoCode(r.rc)}`,
          );
        }
        return globalIdsOf(r.outbuf.toString('utf8'));
      }),
    );
    return new Set(perMon.flat());
  }

  private settle(problem: LookupProblem | undefined): void {
    const before = this.problem;
    this.problem = problem;
    if (before?.reason === problem?.reason) return;
    this.options.onAvailabilityChange?.(problem);
  }
}
