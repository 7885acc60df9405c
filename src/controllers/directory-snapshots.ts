// Scheduled snapshots of a MirroredDirectory (spec.snapshots, src/reconcile/snapshot-schedule.ts):
// the plan parsed from the spec, the mgr snap_schedule module asked whether it already schedules
// the path (ScheduledElsewhere), and the current slot's snapshot taken and ours beyond the
// retention pruned.
import { snapScheduleOf } from '../ceph/subvolumes.js';
import {
  DEFAULT_SNAPSHOT_PREFIX,
  ScheduleError,
  currentSlot,
  nextSlot,
  parseSchedule,
  slotOfName,
  snapshotName,
  snapshotsToPrune,
  validatePrefix,
  validateRetention,
  type Retention,
  type Schedule,
} from '../reconcile/snapshot-schedule.js';
import {
  objectKey,
  type MirroredDirectory,
  type SnapshotScheduleStatus,
} from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import type { Problem } from './status-helpers.js';

/** How long a `fs snap-schedule list` answer holds. */
export const SCHEDULE_CHECK_TTL_MS = 60_000;
/** A failed scheduled snapshot is tried again after at most this long. */
const SNAPSHOT_RETRY_MS = 30_000;

export interface SnapshotPlan {
  schedule: Schedule;
  prefix: string;
  retention?: Retention;
}

export interface SnapshotOutcome {
  status: SnapshotScheduleStatus;
  nextMs: number;
  problem?: Problem;
}

export class ScheduledSnapshots {
  /** mirror key + path → the last snap_schedule answer (ScheduledElsewhere). */
  private readonly scheduleChecks = new Map<string, { at: number; problem?: Problem }>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly minSnapshotIntervalMs: number,
  ) {}

  /** The parsed spec.snapshots, a refusal, or undefined when there is no schedule. */
  plan(dir: MirroredDirectory): SnapshotPlan | Problem | undefined {
    const spec = dir.spec.snapshots;
    if (!spec) return undefined;
    const prefix = spec.namePrefix ?? DEFAULT_SNAPSHOT_PREFIX;
    const badPrefix = validatePrefix(prefix);
    if (badPrefix) return { reason: 'InvalidSchedule', message: badPrefix };
    const badRetention = validateRetention(spec.retention);
    if (badRetention) return { reason: 'InvalidSchedule', message: badRetention };
    try {
      const schedule = parseSchedule(spec.schedule, this.minSnapshotIntervalMs);
      return { schedule, prefix, ...(spec.retention ? { retention: spec.retention } : {}) };
    } catch (e) {
      if (e instanceof ScheduleError) return { reason: e.reason, message: e.message };
      throw e;
    }
  }

  /** ScheduledElsewhere when the mgr snap_schedule module already schedules `path`. */
  async scheduledElsewhere(
    mirrorKey: string,
    runtime: MirrorRuntime,
    path: string,
  ): Promise<Problem | undefined> {
    const key = `${mirrorKey}\0${path}`;
    const cached = this.scheduleChecks.get(key);
    if (cached && Date.now() - cached.at < SCHEDULE_CHECK_TTL_MS) return cached.problem;
    const check = await snapScheduleOf(runtime.rados, runtime.fsName, path);
    let problem: Problem | undefined;
    if (check.state === 'scheduled') {
      problem = {
        reason: 'ScheduledElsewhere',
        message:
          `${path} is already scheduled by the mgr snap_schedule module ` +
          `(${check.schedules.join(', ')}): remove that schedule or spec.snapshots`,
      };
    } else if (check.state === 'unknown') {
      // Not knowing must not stop the schedule the user asked for: say so in the log.
      this.ctx.log.warn('could not check the snap_schedule module; scheduling anyway', {
        path,
        error: check.message,
      });
    }
    this.scheduleChecks.set(key, { at: Date.now(), ...(problem ? { problem } : {}) });
    return problem;
  }

  /**
   * Takes the current slot's snapshot when it is missing (EEXIST: taken already, by us before a
   * restart) and prunes ours beyond the retention. Never throws: a failure is reported.
   */
  async take(
    dir: MirroredDirectory,
    path: string,
    plan: SnapshotPlan,
    runtime: MirrorRuntime,
  ): Promise<SnapshotOutcome> {
    const now = Date.now();
    const next = nextSlot(plan.schedule, now);
    const nextSnapshotTime = isoSeconds(next);
    const nextMs = next - now + 250;
    const source = await runtime.syncViews.source(path);
    if (source.state === 'missing') {
      return { status: { ...dir.status?.snapshots, nextSnapshotTime }, nextMs };
    }
    try {
      const fs = await runtime.syncViews.localFs();
      let names = await fs.listSnaps(path);
      const slot = currentSlot(plan.schedule, now);
      if (slot !== undefined) {
        const name = snapshotName(plan.prefix, slot);
        if (!names.includes(name)) {
          try {
            await fs.mksnap(path, name);
            this.ctx.log.info('scheduled snapshot taken', { object: keyOf(dir), path, name });
          } catch (e) {
            if (codeOf(e) !== 'EEXIST') throw e;
          }
          names = [...names, name];
        }
      }
      const prune = new Set(snapshotsToPrune(plan.prefix, names, plan.retention));
      for (const name of prune) {
        try {
          await fs.rmsnap(path, name);
          this.ctx.log.info('scheduled snapshot pruned', { object: keyOf(dir), path, name });
        } catch (e) {
          if (codeOf(e) !== 'ENOENT') throw e;
        }
      }
      const ours = names
        .filter((n) => !prune.has(n) && slotOfName(plan.prefix, n) !== undefined)
        .sort();
      return {
        status: {
          ...(ours.length > 0 ? { lastSnapshot: ours[ours.length - 1] } : {}),
          nextSnapshotTime,
          count: ours.length,
        },
        nextMs,
      };
    } catch (e) {
      return {
        status: { ...dir.status?.snapshots, nextSnapshotTime },
        nextMs: Math.min(nextMs, SNAPSHOT_RETRY_MS),
        problem: {
          reason: 'SnapshotFailed',
          message: `scheduled snapshot of ${path} failed: ${e instanceof Error ? e.message : String(e)}`,
        },
      };
    }
  }
}

function keyOf(dir: MirroredDirectory): string {
  return objectKey(dir.metadata);
}

function codeOf(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
