// Driving the real Ceph mgr `mirroring` module (Pacific) from tests and benchmarks, through
// librados mgr commands, to check that the operator and the module read each other's dir map.
//
// Enabling or disabling a mgr module makes the mgr respawn (its MgrMap epoch moves on), so a
// command sent right after may still reach the old process, hang until the new one is up, or be
// refused with ENOTSUP "Module 'mirroring' is not enabled/loaded". The helpers below wait until
// the module demonstrably answers (or demonstrably no longer does).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Rados } from 'rados-js';
import { CommandError, mgrCommand, monCommand, monCommandJson } from '../../src/ceph/mon.js';
import { mgrMirroringModuleEnabled } from '../../src/ceph/filesystem.js';
import { waitFor } from './wait.js';

/** `fs snapshot mirror dirmap` output (the module's `dir_status`). */
export interface MgrDirStatus {
  state: 'mapping' | 'unmapping' | 'shuffling' | 'mapped' | 'resolving' | 'stalled' | null;
  instance_id?: string;
  last_shuffled?: number;
  reason?: string;
}

const MODULE = 'mirroring';

function isModuleNotLoaded(e: unknown): boolean {
  return e instanceof CommandError && e.code === 'EOPNOTSUPP';
}

async function mgrJson<T>(rados: Rados, cmd: object): Promise<T> {
  const { outbuf } = await mgrCommand(rados, cmd);
  return JSON.parse(outbuf.toString('utf8')) as T;
}

/**
 * Enables the module and waits until it serves `show distribution` for `fsName` (which must have
 * mirroring enabled: until the module's policy for it has loaded, it answers EINVAL "not mirrored").
 */
export async function enableMgrMirroringModule(
  rados: Rados,
  fsName: string,
  timeoutMs = 90_000,
): Promise<void> {
  await monCommand(rados, { prefix: 'mgr module enable', module: MODULE });
  await untilModuleServes(rados, fsName, timeoutMs);
}

/** Until the module's policy for `fsName` has loaded (before, it answers EINVAL "not mirrored"). */
async function untilModuleServes(rados: Rados, fsName: string, timeoutMs: number): Promise<void> {
  await waitFor(
    `the mgr ${MODULE} module to serve filesystem ${fsName}`,
    async () => {
      await mgrDistribution(rados, fsName);
      return true;
    },
    timeoutMs,
    500,
  );
}

/** Disables the module (if enabled) and waits until the respawned mgr no longer has it loaded. */
export async function disableMgrMirroringModule(rados: Rados, timeoutMs = 90_000): Promise<void> {
  if (!(await mgrMirroringModuleEnabled(rados))) return;
  await monCommand(rados, { prefix: 'mgr module disable', module: MODULE });
  await waitFor(
    `the mgr ${MODULE} module to unload`,
    async () => !(await mgrMirroringModuleLoaded(rados)),
    timeoutMs,
    500,
  );
}

/**
 * Enables the module and, through it, mirroring of `fsName` (`fs snapshot mirror enable`: the
 * module creates the `cephfs_mirror` object and turns mirroring on in the FSMap), as on a cluster
 * that mirrored with the module before the operator came; waits until it serves the filesystem.
 */
export async function mgrEnableMirroring(
  rados: Rados,
  fsName: string,
  timeoutMs = 90_000,
): Promise<void> {
  await monCommand(rados, { prefix: 'mgr module enable', module: MODULE });
  await waitFor(
    `the mgr ${MODULE} module to enable mirroring of ${fsName}`,
    async () => {
      await mgrCommand(rados, { prefix: 'fs snapshot mirror enable', fs_name: fsName });
      return true;
    },
    timeoutMs,
    500,
  );
  await untilModuleServes(rados, fsName, timeoutMs);
}

/**
 * Whether the active mgr runs the module: it answers one of the module's commands, or refuses it
 * with EOPNOTSUPP ("not enabled/loaded"). Other errors (no active mgr yet) are thrown.
 */
export async function mgrMirroringModuleLoaded(rados: Rados): Promise<boolean> {
  try {
    await mgrCommand(rados, { prefix: 'fs snapshot mirror daemon status' });
    return true;
  } catch (e) {
    if (isModuleNotLoaded(e)) return false;
    throw e;
  }
}

/** The modules the MgrMap (`mgr dump`) lists as enabled. */
export async function mgrMapModules(rados: Rados): Promise<string[]> {
  const map = await monCommandJson<{ modules?: unknown }>(rados, { prefix: 'mgr dump' });
  return Array.isArray(map.modules) ? map.modules.map(String) : [];
}

/**
 * When the active mgr became active (`mgr dump` `active_change`), in ms since the epoch: a mgr
 * that respawned to drop a module is a new active one, so this moves on.
 */
export async function mgrActiveSince(rados: Rados): Promise<number> {
  const map = await monCommandJson<{ active_change?: unknown }>(rados, { prefix: 'mgr dump' });
  // e.g. "2026-11-26T04:05:53.757123+0000": Date.parse wants the offset as +00:00.
  const text = String(map.active_change).replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`mgr dump: unreadable active_change ${text}`);
  return ms;
}

export async function mgrAddDirectory(rados: Rados, fsName: string, path: string): Promise<void> {
  await mgrCommand(rados, { prefix: 'fs snapshot mirror add', fs_name: fsName, path });
}

export async function mgrRemoveDirectory(
  rados: Rados,
  fsName: string,
  path: string,
): Promise<void> {
  await mgrCommand(rados, { prefix: 'fs snapshot mirror remove', fs_name: fsName, path });
}

/** The module's view of one directory; undefined when it does not track it (ENOENT). */
export async function mgrDirMap(
  rados: Rados,
  fsName: string,
  path: string,
): Promise<MgrDirStatus | undefined> {
  try {
    return await mgrJson<MgrDirStatus>(rados, {
      prefix: 'fs snapshot mirror dirmap',
      fs_name: fsName,
      path,
    });
  } catch (e) {
    if (e instanceof CommandError && e.code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Waits until the module has mapped `path` to an instance; its dirmap entry then. */
export function mgrUntilMapped(
  rados: Rados,
  fsName: string,
  path: string,
  timeoutMs = 120_000,
): Promise<MgrDirStatus> {
  return waitFor(
    `the module to map ${path}`,
    async () => {
      const st = await mgrDirMap(rados, fsName, path);
      return st?.state === 'mapped' ? st : undefined;
    },
    timeoutMs,
    500,
  );
}

/** `fs snapshot mirror show distribution`: instance id → "<n> directories". */
export async function mgrDistribution(
  rados: Rados,
  fsName: string,
): Promise<{ mapping: Record<string, string> }> {
  return mgrJson(rados, { prefix: 'fs snapshot mirror show distribution', fs_name: fsName });
}

export interface ModuleRunResult {
  ms: number;
  added: number;
  mapped: number;
  finished: boolean;
}

/**
 * Adds `dirs` through the module one after another, then polls `dirmap` until each is mapped;
 * all within `capMs` from the first add (the module's adds slow down with the count tracked).
 */
export async function mgrAddAndWaitMapped(
  rados: Rados,
  fsName: string,
  dirs: readonly string[],
  capMs: number,
): Promise<ModuleRunResult> {
  const started = performance.now();
  const deadline = started + capMs;
  let added = 0;
  for (const d of dirs) {
    if (performance.now() > deadline) break;
    await mgrAddDirectory(rados, fsName, d);
    added++;
  }
  const pending = dirs.slice(0, added);
  let mapped = 0;
  while (pending.length > 0 && performance.now() < deadline) {
    const st = await mgrDirMap(rados, fsName, pending[0] as string);
    if (st?.state === 'mapped') {
      pending.shift();
      mapped++;
    } else await sleep(200);
  }
  return {
    ms: performance.now() - started,
    added,
    mapped,
    finished: added === dirs.length && pending.length === 0,
  };
}
