// Mirroring on/off for one filesystem, and the guard against the mgr `mirroring` module driving
// the same filesystem at the same time (both would write the same omap keys).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Rados } from 'rados-js';
import { MIRROR_OBJECT_NAME } from './dir-map-codec.js';
import { cephOpError, isCephOpError } from './errors.js';
import { requireFilesystem, type CephFilesystem } from './fsmap.js';
import { fetchFsMap, mgrCommand, monCommand, monCommandJson } from './mon.js';
import { fsMirrorDisable, fsMirrorEnable, mgrModuleDisable, mgrModuleLs } from './mon-commands.js';

export const MGR_MIRRORING_MODULE = 'mirroring';

/**
 * Creates the `cephfs_mirror` object (an existing one is kept) and turns mirroring on in the
 * FSMap. Idempotent. Returns the filesystem as the FSMap now describes it.
 */
export async function enableMirroring(rados: Rados, fsName: string): Promise<CephFilesystem> {
  const fs = requireFilesystem(await fetchFsMap(rados), fsName);
  const ioctx = await rados.openIoCtx(fs.metadataPool);
  try {
    await ioctx.createObject(MIRROR_OBJECT_NAME, { exclusive: true });
  } catch (e) {
    if ((e as { code?: string }).code !== 'EEXIST') throw e;
  } finally {
    await ioctx.close();
  }
  if (!fs.mirrorInfo.enabled) await monCommand(rados, fsMirrorEnable(fsName));
  return requireFilesystem(await fetchFsMap(rados), fsName);
}

/** Turns mirroring off (peers go with it, as `fs mirror disable` does). Idempotent. */
export async function disableMirroring(rados: Rados, fsName: string): Promise<void> {
  const fs = requireFilesystem(await fetchFsMap(rados), fsName);
  if (fs.mirrorInfo.enabled) await monCommand(rados, fsMirrorDisable(fsName));
}

interface MgrModuleList {
  enabled_modules?: unknown;
  always_on_modules?: unknown;
}

/** True when the Ceph mgr `mirroring` module is enabled on this cluster. */
export async function mgrMirroringModuleEnabled(rados: Rados): Promise<boolean> {
  const list = await monCommandJson<MgrModuleList>(rados, mgrModuleLs());
  return Array.isArray(list.enabled_modules) && list.enabled_modules.includes(MGR_MIRRORING_MODULE);
}

/** How long a takeover waits for the active mgr to stop running the module it just disabled. */
const MODULE_UNLOAD_TIMEOUT_MS = 60_000;
const MODULE_UNLOAD_POLL_MS = 500;
/** A read-only command of the module, to ask the active mgr whether it still runs it. */
const MODULE_PROBE = { prefix: 'fs snapshot mirror daemon status' };

/**
 * Refuses to go on while the mgr module is enabled, unless `takeOver`: then the module is
 * disabled (the operator adopts its directory map, which has the same format), and this returns
 * only once the active mgr no longer runs it.
 */
export async function ensureMgrModuleOff(
  rados: Rados,
  takeOver: boolean,
  unloadTimeoutMs = MODULE_UNLOAD_TIMEOUT_MS,
): Promise<'off' | 'disabled'> {
  if (!(await mgrMirroringModuleEnabled(rados))) return 'off';
  if (!takeOver) {
    throw cephOpError(
      'EBUSY',
      'the Ceph mgr "mirroring" module is enabled on this cluster and would fight the operator ' +
        'over the directory map; set spec.takeOverFromMgrModule: true to let the operator ' +
        'disable it and carry on with its directory map, or disable it yourself ' +
        '(ceph mgr module disable mirroring)',
      'MgrModuleEnabled',
    );
  }
  await monCommand(rados, mgrModuleDisable(MGR_MIRRORING_MODULE));
  await waitForMgrModuleUnloaded(rados, unloadTimeoutMs);
  return 'disabled';
}

/**
 * The MgrMap says "disabled" at once, but the active mgr runs the module until it has respawned
 * (a few seconds), and until then the module may still write the dir map the engine is about to
 * load. Its commands fail with EOPNOTSUPP ("not enabled/loaded") only from a mgr without it.
 */
async function waitForMgrModuleUnloaded(rados: Rados, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mgrCommand(rados, MODULE_PROBE);
    } catch (e) {
      if (isCephOpError(e, 'EOPNOTSUPP')) return;
      // Anything else (no active mgr while it respawns, a timeout) says nothing yet: ask again.
    }
    if (Date.now() >= deadline) {
      throw cephOpError(
        'ETIMEDOUT',
        `disabled the Ceph mgr "${MGR_MIRRORING_MODULE}" module, but the active mgr still ran it ` +
          `${Math.round(timeoutMs / 1000)} s later`,
        'MgrModuleStillLoaded',
      );
    }
    await sleep(MODULE_UNLOAD_POLL_MS);
  }
}

export function isMgrModuleConflict(e: unknown): boolean {
  return isCephOpError(e, 'EBUSY') && e.reason === 'MgrModuleEnabled';
}
