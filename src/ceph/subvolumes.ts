// The mgr volumes and snap_schedule modules, as far as a MirroredDirectory needs them: the path of
// a subvolume by name (`fs subvolume getpath`, volumes module `perm: rw`, so the operator's mgr
// caps grant that one command) and whether the snap_schedule module already schedules a path
// (`fs snap-schedule list`, a read command). Both go to the active mgr (`rados_mgr_command`).
import type { Rados } from 'rados-js';
import { CommandError, mgrCommand } from './mon.js';

/** The volumes module's group for subvolumes created without one. */
export const NO_GROUP = '_nogroup';

export type SubvolumePath =
  | { state: 'found'; path: string }
  /** ENOENT: no such subvolume (or group) in this filesystem. */
  | { state: 'missing'; message: string }
  /** Anything else (no caps, no mgr, the module not answering): nothing is known. */
  | { state: 'unknown'; message: string };

/** `fs subvolume getpath <fs> <name> [--group_name <group>]`. Never throws. */
export async function subvolumePath(
  rados: Rados,
  fsName: string,
  name: string,
  group = NO_GROUP,
): Promise<SubvolumePath> {
  const cmd = {
    prefix: 'fs subvolume getpath',
    vol_name: fsName,
    sub_name: name,
    ...(group !== NO_GROUP ? { group_name: group } : {}),
  };
  const what = `subvolume ${name} (group ${group}) of filesystem ${fsName}`;
  try {
    const out = await mgrCommand(rados, cmd);
    const path = out.outbuf.toString('utf8').trim();
    if (!path.startsWith('/')) {
      return { state: 'unknown', message: `${what}: getpath answered "${path}"` };
    }
    return { state: 'found', path };
  } catch (e) {
    if (e instanceof CommandError && e.code === 'ENOENT') {
      return { state: 'missing', message: `${what} does not exist` };
    }
    return { state: 'unknown', message: `could not resolve ${what}: ${messageOf(e)}` };
  }
}

export type ScheduleCheck =
  | { state: 'scheduled'; schedules: string[] }
  | { state: 'none' }
  | { state: 'unknown'; message: string };

/**
 * Whether the snap_schedule module schedules snapshots of `path` on `fsName`. In 16.2
 * (pybind/mgr/snap_schedule/module.py snap_schedule_list) a path without a schedule answers
 * ENOENT; a cluster where the module is off answers EINVAL/EOPNOTSUPP ("No handler"), which also
 * means nobody else schedules it.
 */
export async function snapScheduleOf(
  rados: Rados,
  fsName: string,
  path: string,
): Promise<ScheduleCheck> {
  const cmd = { prefix: 'fs snap-schedule list', path, fs: fsName, format: 'json' };
  try {
    const out = await mgrCommand(rados, cmd);
    const text = out.outbuf.toString('utf8').trim();
    if (text === '' || text === '[]' || text === '{}') return { state: 'none' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { state: 'scheduled', schedules: [text] };
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    const schedules = list.map((s) => {
      const o = s as { schedule?: unknown; path?: unknown };
      return typeof o.schedule === 'string' ? o.schedule : JSON.stringify(s);
    });
    return schedules.length > 0 ? { state: 'scheduled', schedules } : { state: 'none' };
  } catch (e) {
    if (e instanceof CommandError && ['ENOENT', 'EINVAL', 'EOPNOTSUPP'].includes(e.code)) {
      return { state: 'none' };
    }
    return { state: 'unknown', message: messageOf(e) };
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
