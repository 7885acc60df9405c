// Common setup of the integration tests that mirror filesystem `a` of site-a: connections to
// both sites, mirroring enabled, optionally a peer (site-b's filesystem, through a bootstrap
// token) and CephFS mounts, and the matching cleanup, which leaves the lab as the next test file
// expects it (mirroring off, no peer, an empty directory map, the mgr module off).
import { CephFS } from 'cephfs-js';
import { Rados, type IoCtx } from 'rados-js';
import { createBootstrapToken, importBootstrapToken } from '../../src/ceph/bootstrap.js';
import { listMirrorDaemons } from '../../src/ceph/daemon-status.js';
import {
  DIR_MAP_PREFIX,
  INSTANCE_PREFIX,
  MIRROR_OBJECT_NAME,
} from '../../src/ceph/dir-map-codec.js';
import { disableMirroring, enableMirroring } from '../../src/ceph/filesystem.js';
import { HOLD_MARK_PREFIX } from '../../src/ceph/hold-mark-codec.js';
import type { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { removePeer } from '../../src/ceph/peers.js';
import { useLab, type LabState } from './lab.js';
import { disableMgrMirroringModule } from './mgr-module.js';

export interface MirroringSetupOptions {
  /** Add site-b's filesystem as a peer (default true). */
  peer?: boolean;
  /** Mount both filesystems (default true). */
  mounts?: boolean;
}

export interface MirroredSites {
  lab: LabState;
  a: Rados;
  b: Rados;
  /** Set when mounted. */
  fsA?: CephFS;
  fsB?: CephFS;
  /** Set when a peer was added. */
  peerUuid?: string;
}

/** Connects to both sites and enables mirroring of `a`; cleans up after itself if a step fails. */
export async function setUpMirroring(options: MirroringSetupOptions = {}): Promise<MirroredSites> {
  const lab = await useLab();
  const a = await Rados.connect({ confPath: lab.sites.a.confPath, timeoutMs: 20_000 });
  const b = await Rados.connect({ confPath: lab.sites.b.confPath, timeoutMs: 20_000 });
  const sites: MirroredSites = { lab, a, b };
  try {
    await enableMirroring(a, lab.sites.a.fsName);
    if (options.peer ?? true) {
      const token = await createBootstrapToken(
        b,
        lab.sites.b.fsName,
        'client.mirror_remote',
        'site-b',
      );
      sites.peerUuid = await importBootstrapToken(a, lab.sites.a.fsName, token);
    }
    if (options.mounts ?? true) {
      sites.fsA = await CephFS.mount({ rados: a, fsName: lab.sites.a.fsName });
      sites.fsB = await CephFS.mount({ rados: b, fsName: lab.sites.b.fsName });
    }
    return sites;
  } catch (e) {
    await tearDownMirroring(sites);
    throw e;
  }
}

/**
 * Undoes setUpMirroring and whatever a failed test left: the mgr module is disabled, leftover
 * `dir_map_`/`instance_` keys are removed (a test that passed removed its directories itself),
 * the peer is removed and mirroring disabled. Daemons and engines are the test's to stop first.
 */
export async function tearDownMirroring(sites: MirroredSites | undefined): Promise<void> {
  if (!sites) return;
  const { lab, a, b } = sites;
  try {
    await sites.fsA?.close();
    await sites.fsB?.close();
    await disableMgrMirroringModule(a);
    await clearDirMap(a, lab.sites.a.metadataPool);
    if (sites.peerUuid) await removePeer(a, lab.sites.a.fsName, sites.peerUuid);
    await disableMirroring(a, lab.sites.a.fsName);
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
}

/** Opens `pool`, runs `fn`, closes the pool. */
export async function withIoCtx<T>(
  rados: Rados,
  pool: string,
  fn: (io: IoCtx) => Promise<T>,
): Promise<T> {
  const io = await rados.openIoCtx(pool);
  try {
    return await fn(io);
  } finally {
    await io.close();
  }
}

/** Every omap entry of `cephfs_mirror` (keys in order, values as hex), or [] without the object. */
export async function mirrorOmap(rados: Rados, pool: string): Promise<Array<[string, string]>> {
  return withIoCtx(rados, pool, async (io) => {
    const out: Array<[string, string]> = [];
    let startAfter: string | undefined;
    for (;;) {
      let page;
      try {
        page = await io.omapGetVals(MIRROR_OBJECT_NAME, {
          max: 256,
          ...(startAfter === undefined ? {} : { startAfter }),
        });
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return out;
        throw e;
      }
      out.push(...page.entries.map(([k, v]): [string, string] => [k, v.toString('hex')]));
      const last = page.entries.at(-1);
      if (!page.more || last === undefined) return out;
      startAfter = last[0];
    }
  });
}

/** Removes every directory and instance record, and the operator's acquire marks (test cleanup only). */
export async function clearDirMap(rados: Rados, pool: string): Promise<number> {
  const keys = (await mirrorOmap(rados, pool))
    .map(([k]) => k)
    .filter((k) =>
      [DIR_MAP_PREFIX, INSTANCE_PREFIX, HOLD_MARK_PREFIX].some((p) => k.startsWith(p)),
    );
  await withIoCtx(rados, pool, async (io) => {
    for (let i = 0; i < keys.length; i += 256)
      await io.omapWrite(MIRROR_OBJECT_NAME, { remove: keys.slice(i, i + 256) });
  });
  return keys.length;
}

/** Instances the engine considers alive. */
export function liveInstances(engine: MirrorEngine): string[] {
  return engine
    .distribution()
    .instances.filter((i) => !i.dead)
    .map((i) => i.id);
}

/** Directories the daemon running as client.<clientId> says it mirrors for `fsName`. */
export async function daemonDirectoryCount(
  rados: Rados,
  fsName: string,
  clientId: string,
): Promise<number | undefined> {
  const d = (await listMirrorDaemons(rados)).find((x) => x.clientId === clientId);
  return d?.filesystems?.find((f) => f.name === fsName)?.directoryCount;
}

/** The mounts of a setup made with `mounts` (the default); throws when there are none. */
export function mounts(sites: MirroredSites): { fsA: CephFS; fsB: CephFS } {
  const { fsA, fsB } = sites;
  if (!fsA || !fsB) throw new Error('setUpMirroring was called without mounts');
  return { fsA, fsB };
}
