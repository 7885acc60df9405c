// Mirroring on/off for one filesystem, and the guard against the mgr `mirroring` module driving
// the same filesystem at the same time (both would write the same omap keys).
import type { Rados } from 'rados-js';
import { MIRROR_OBJECT_NAME } from './dir-map-codec.js';
import { cephOpError, isCephOpError } from './errors.js';
import { requireFilesystem, type CephFilesystem } from './fsmap.js';
import { fetchFsMap, monCommand, monCommandJson } from './mon.js';
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

/**
 * Refuses to go on while the mgr module is enabled, unless `takeOver`: then the module is
 * disabled (the operator adopts its directory map, which has the same format).
 */
export async function ensureMgrModuleOff(
  rados: Rados,
  takeOver: boolean,
): Promise<'off' | 'disabled'> {
  if (!(await mgrMirroringModuleEnabled(rados))) return 'off';
  if (!takeOver) {
    throw cephOpError(
      'EBUSY',
      'the Ceph mgr "mirroring" module is enabled on this cluster and would fight the operator ' +
        'over the directory map; disable it (ceph mgr module disable mirroring) or set ' +
        'takeOverFromMgrModule: true',
      'MgrModuleEnabled',
    );
  }
  await monCommand(rados, mgrModuleDisable(MGR_MIRRORING_MODULE));
  return 'disabled';
}

export function isMgrModuleConflict(e: unknown): boolean {
  return isCephOpError(e, 'EBUSY') && e.reason === 'MgrModuleEnabled';
}
