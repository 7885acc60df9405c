import type { DirPath } from './paths.js';
import type { DirectoryPolicy } from './policy.js';
import type { ActionType, DirMapRecord } from './types.js';

export interface PlannedNotify {
  path: DirPath;
  instanceId: string;
  mode: 'acquire' | 'release';
}

/** What one tick asks of the world: dir-map writes and notifies. */
export interface ActionPlan {
  /** Each path planned with its action (NONE excluded), in scheduling order. */
  started: Array<{ path: DirPath; action: ActionType }>;
  dirMapSets: Map<DirPath, DirMapRecord>;
  dirMapRemovals: DirPath[];
  notifies: PlannedNotify[];
}

/**
 * Start the next action of each path and collect what it needs: a MAP_UPDATE becomes the
 * record to write (keeping the purge mark, so a restart still resumes a removal), a MAP_REMOVE
 * a key removal, ACQUIRE/RELEASE a notify to the directory's instance. `purgePending` covers a
 * removal whose purge mark is being written but which the policy does not know of yet.
 */
export function planActions(
  policy: DirectoryPolicy,
  paths: Iterable<DirPath>,
  now: number,
  purgePending: (path: DirPath) => boolean = () => false,
): ActionPlan {
  const plan: ActionPlan = { started: [], dirMapSets: new Map(), dirMapRemovals: [], notifies: [] };
  for (const path of paths) {
    const action = policy.startAction(path, now);
    if (action === 'NONE') continue;
    plan.started.push({ path, action });
    const look = policy.lookup(path);
    if (!look) throw new Error(`planner: ${path} vanished while starting ${action}`);
    switch (action) {
      case 'MAP_UPDATE':
        plan.dirMapSets.set(
          path,
          dirMapRecord(look.instanceId, look.mappedTime, look.purging || purgePending(path)),
        );
        break;
      case 'MAP_REMOVE':
        plan.dirMapRemovals.push(path);
        break;
      case 'ACQUIRE':
      case 'RELEASE':
        if (look.instanceId === null) {
          throw new Error(`planner: ${action} for ${path} without an instance`);
        }
        plan.notifies.push({
          path,
          instanceId: look.instanceId,
          mode: action === 'ACQUIRE' ? 'acquire' : 'release',
        });
        break;
    }
  }
  return plan;
}

/** The record stored for a directory; an unmapped one has instance '' and time 0. */
export function dirMapRecord(
  instanceId: string | null,
  mappedTime: number | null,
  purging: boolean,
): DirMapRecord {
  const record: DirMapRecord = {
    version: 1,
    instanceId: instanceId ?? '',
    lastShuffled: mappedTime ?? 0,
  };
  if (purging) record.purging = true;
  return record;
}
