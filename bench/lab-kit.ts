// The daemon and lab side that the Ceph benchmarks share (ceph-layer, failover, restart, and the
// module half of operator): their lab, their cephfs-mirror daemons, engines waiting on those
// daemons, and the mgr module's timed run. Each benchmark used to carry its own copy of these; one
// copy keeps their set-up and clean-up alike, so their numbers stay comparable.
import type { Rados } from 'rados-js';
import {
  mirrorDaemonPid,
  startMirrorDaemon,
  stopMirrorDaemon,
  type SiteInfo,
} from '../lab/ceph-cluster.js';
import {
  disableMgrMirroringModule,
  enableMgrMirroringModule,
  mgrAddAndWaitMapped,
  mgrAddDirectory,
  mgrDirMap,
  mgrDistribution,
  type ModuleRunResult,
} from '../lab/harness/mgr-module.js';
import {
  clearDirMap,
  liveInstances,
  setUpMirroring,
  tearDownMirroring,
  type MirroredSites,
} from '../lab/harness/mirroring.js';
import { waitFor } from '../lab/harness/wait.js';
import type { MirrorEngine } from '../src/ceph/mirror-engine.js';

/** Site-a of the lab with mirroring enabled (no peer, no mounts), and its Rados handle. */
export interface MirroringLab {
  sites: MirroredSites;
  a: Rados;
  site: SiteInfo;
}

/** The engine benchmarks need no peer (nothing is copied) and no mounts. */
export async function openMirroringLab(): Promise<MirroringLab> {
  const sites = await setUpMirroring({ peer: false, mounts: false });
  return { sites, a: sites.a, site: sites.lab.sites.a };
}

/** The benchmark's daemons stopped, then the lab left as the next user expects it. */
export async function closeMirroringLab(lab: MirroringLab, daemons: string[]): Promise<void> {
  await stopDaemons(lab.site, daemons);
  await tearDownMirroring(lab.sites);
}

export async function stopDaemons(site: SiteInfo, daemons: string[]): Promise<void> {
  for (const d of daemons) await stopMirrorDaemon(site, d);
}

/**
 * Fresh daemons (they drop what they held) and an empty dir map, so a run starts from nothing left
 * by the one before; the first `running` of `daemons` are started again.
 */
export async function resetDaemons(
  rados: Rados,
  site: SiteInfo,
  daemons: string[],
  running = daemons.length,
): Promise<void> {
  await stopDaemons(site, daemons);
  await clearDirMap(rados, site.metadataPool);
  for (const d of daemons.slice(0, running)) await startMirrorDaemon(site, d);
}

/** The pid of a running daemon (to SIGKILL or SIGSTOP it); throws when it is not running. */
export function daemonPid(site: SiteInfo, clientId: string): number {
  const pid = mirrorDaemonPid(site, clientId);
  if (pid === undefined) throw new Error(`${clientId} is not running`);
  return pid;
}

/**
 * n paths under `root`, spread over 100 groups like subvolumes: the name of the i-th is the same
 * in every run, so a smaller n's paths are a prefix of a larger n's.
 */
export function groupedPaths(root: string, n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) => `${root}/group${i % 100}/subvol${String(i).padStart(5, '0')}`,
  );
}

/** Until the engine has discovered `count` daemons: a run's clock starts only after that. */
export async function waitDiscovered(engine: MirrorEngine, count: number): Promise<void> {
  await waitFor(
    `${count} daemon(s) discovered`,
    () => liveInstances(engine).length === count,
    90_000,
    100,
  );
}

export function mappedCount(engine: MirrorEngine): number {
  return engine.distribution().byStatus.mapped;
}

/** Adds every directory at once, then waits until all are mapped (acquired by a daemon). */
export async function addAndWaitMapped(
  engine: MirrorEngine,
  dirs: string[],
  timeoutMs: number,
): Promise<void> {
  await Promise.all(dirs.map((d) => engine.addDirectory(d)));
  await waitFor(
    `${dirs.length} directories mapped`,
    () => mappedCount(engine) === dirs.length,
    timeoutMs,
    50,
  );
}

/**
 * The Pacific mgr module's run on fresh daemons: `fs snapshot mirror add` for each directory, one
 * after another (each returns once its dir-map key is written), then `dirmap` until each says
 * mapped. Directories never move once mapped (the module does not rebalance), so each is polled
 * until first seen mapped. Capped at `capMs`; the module is disabled again at the end.
 */
export async function moduleMapRun(
  rados: Rados,
  site: SiteInfo,
  daemons: string[],
  probe: string,
  dirs: string[],
  capMs: number,
): Promise<ModuleRunResult> {
  await resetDaemons(rados, site, daemons);
  await enableMgrMirroringModule(rados, site.fsName);
  try {
    // The module maps nothing until its instance watcher has heard from the daemons (both ack the
    // same notify): one probe directory, outside the measured set, mapped means it has.
    await waitFor(
      'the module to map a probe directory',
      async () => {
        const st = await mgrDirMap(rados, site.fsName, probe);
        if (st === undefined) await mgrAddDirectory(rados, site.fsName, probe);
        return st?.state === 'mapped';
      },
      90_000,
      500,
    );
    const result = await mgrAddAndWaitMapped(rados, site.fsName, dirs, capMs);
    // Both daemons took part (the probe directory is in these counts too).
    console.error(
      `module distribution: ${JSON.stringify(await mgrDistribution(rados, site.fsName))}`,
    );
    return result;
  } finally {
    await disableMgrMirroringModule(rados);
  }
}
