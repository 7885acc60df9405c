// Converging from what Ceph shows: changes made behind the operator's back (mirroring disabled,
// a dir-map key removed, a dir-map entry moved to another daemon by hand) are corrected without
// any edit of the objects, said with an Event, and the daemons end up holding exactly what the
// map assigns them; with no daemon left the mirror is not Ready. Real lab, apiserver, daemons and
// a peer; ends with the daemon crash check.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import { MIRROR_OBJECT_NAME, dirMapKey, encodeDirMapRecord } from '../../src/ceph/dir-map-codec.js';
import { findFilesystem, requireFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { CephFSMirror, MirrorPeer } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  applyObjects,
  isReadyNow,
  listDirectories,
  conditionOf,
  directoryObject,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  tokenPeerObjects,
  waitForEvent,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectlJson } from '../../lab/harness/kube.js';
import { daemonDirectoryCount, withIoCtx } from '../../lab/harness/mirroring.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-drift';
const MIRROR = 'site-a';
const DAEMONS = ['e2e-drift-1', 'e2e-drift-2'];
const DIRS = ['/drift/d1', '/drift/d2', '/drift/d3', '/drift/d4'];
let env: E2eEnv;
let peerUUID = '';

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: DAEMONS });
  await createSourceDirs(env.a, env.lab.sites.a.fsName, DIRS);
  const token = await createBootstrapToken(
    env.b,
    env.lab.sites.b.fsName,
    'client.mirror_remote',
    'site-b',
  );
  env.operator();
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a', { policy: { tickSeconds: 1, shuffleThrottleSeconds: 5 } }),
    ...tokenPeerObjects(NS, MIRROR, token),
  ]);
  const peer = await waitForReady<MirrorPeer>(
    env.kube,
    NS,
    'mirrorpeer/site-b',
    { status: 'True' },
    120_000,
  );
  peerUUID = peer.status?.peerUUID ?? '';
  await waitFor(
    'both daemons known',
    async () => ((await getMirror()).status?.instances?.length === 2 ? true : undefined),
    90_000,
  );
  await applyObjects(
    env.kube,
    DIRS.map((p) => directoryObject(NS, p.split('/').at(-1) as string, MIRROR, p)),
  );
  for (const p of DIRS) {
    await waitForReady(
      env.kube,
      NS,
      `mirroreddirectory/${p.split('/').at(-1) as string}`,
      { status: 'True' },
      90_000,
    );
  }
});

after(() => tearDownE2e(env));

async function getMirror(): Promise<CephFSMirror> {
  return kubectlJson<CephFSMirror>(env.kube, ['-n', NS, 'get', `cephfsmirror/${MIRROR}`]);
}

async function filesystem(): Promise<ReturnType<typeof requireFilesystem>> {
  return requireFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
}

async function dirMap(): Promise<Map<string, string>> {
  const map = await loadDirMap(env.a, (await filesystem()).metadataPool);
  return new Map(map.directories.map(([p, r]) => [p, r.instanceId]));
}

/** The daemons' published directory counts, sorted, once they add up to `total`. */
async function daemonLoads(total: number): Promise<number[]> {
  return waitFor(
    `the daemons to publish ${total} directories`,
    async () => {
      const counts: number[] = [];
      for (const id of DAEMONS) {
        counts.push((await daemonDirectoryCount(env.a, env.lab.sites.a.fsName, id)) ?? 0);
      }
      return counts.reduce((a, b) => a + b, 0) === total ? counts.sort() : undefined;
    },
    90_000,
    1000,
  );
}

/** Waits until the daemons' counts equal the map's per-instance counts (it converges). */
async function untilDaemonsHoldTheMap(): Promise<void> {
  await waitFor(
    'the daemons to hold what the map assigns',
    async () =>
      JSON.stringify(await daemonLoads(DIRS.length)) === JSON.stringify(mapLoads(await dirMap()))
        ? true
        : undefined,
    90_000,
    1000,
  );
}

function mapLoads(map: Map<string, string>): number[] {
  const per = new Map<string, number>();
  for (const id of map.values()) per.set(id, (per.get(id) ?? 0) + 1);
  return [...per.values()].sort();
}

test('mirroring disabled by hand is enabled again, and the peer comes back under its uuid', async () => {
  const { rc, outs } = await env.a.monCommand({
    prefix: 'fs mirror disable',
    fs_name: env.lab.sites.a.fsName,
  });
  assert.equal(rc, 0, outs);
  assert.equal((await filesystem()).mirrorInfo.enabled, false);
  await waitForEvent(env.kube, NS, {
    kind: 'CephFSMirror',
    reason: 'DriftCorrected',
    message: /was found disabled; enabled it again/,
  });
  await waitFor(
    'mirroring on and the peer back',
    async () => {
      const fs = await filesystem();
      return fs.mirrorInfo.enabled && peerUUID in fs.mirrorInfo.peers ? true : undefined;
    },
    60_000,
    500,
  );
  const mirror = await waitForReady<CephFSMirror>(
    env.kube,
    NS,
    `cephfsmirror/${MIRROR}`,
    { status: 'True' },
    120_000,
  );
  assert.equal(conditionOf(mirror, 'MirroringEnabled')?.status, 'True');
  // The daemons came back with new instances (a re-enable restarts their per-filesystem
  // mirrors): every directory is mapped to one of them and held.
  await waitFor(
    'every directory Ready again',
    async () => (await listDirectories(env.kube, NS)).every(isReadyNow) || undefined,
    120_000,
    1000,
  );
  await untilDaemonsHoldTheMap();
});

test('a dir-map key removed by hand is written again (the map reloaded after the foreign write)', async () => {
  const victim = DIRS[0] as string;
  await withIoCtx(env.a, env.lab.sites.a.metadataPool, (io) =>
    io.omapWrite(MIRROR_OBJECT_NAME, { remove: [dirMapKey(victim)] }),
  );
  await waitForEvent(env.kube, NS, {
    kind: 'CephFSMirror',
    reason: 'ForeignWrite',
    message: /changed by another writer/,
  });
  await waitFor(
    `${victim} back in the dir map`,
    async () => ((await dirMap()).has(victim) ? true : undefined),
    90_000,
    500,
  );
  assert.deepEqual([...(await dirMap()).keys()].sort(), [...DIRS].sort());
  // The re-added directory may first be mapped to a daemon instance left over from before the
  // re-enable (its mailbox gone: dropped at its first notify) and then moved: wait for that.
  await untilDaemonsHoldTheMap();
});

test('a dir-map entry moved to another daemon by hand: the old holder lets go, one daemon holds it', async () => {
  const before = await dirMap();
  const [path, from] = [...before.entries()][0] as [string, string];
  const to = [...new Set(before.values())].find((id) => id !== from);
  assert.ok(to, 'two daemons hold directories');
  await withIoCtx(env.a, env.lab.sites.a.metadataPool, (io) =>
    io.omapWrite(MIRROR_OBJECT_NAME, {
      set: [
        [
          dirMapKey(path),
          encodeDirMapRecord({ version: 1, instanceId: to, lastShuffled: Date.now() / 1000 }),
        ],
      ],
    }),
  );
  await waitForEvent(env.kube, NS, {
    kind: 'CephFSMirror',
    reason: 'ForeignWrite',
    message: /changed by another writer/,
  });
  await waitFor(
    'the engine to run again on the reloaded map',
    async () => ((await getMirror()).status?.instanceCount === 2 ? true : undefined),
    90_000,
    1000,
  );
  // Whoever the map names now, the daemons' counts match it: no directory held twice.
  await untilDaemonsHoldTheMap();
});

test('with no daemon left, the mirror is not Ready: DaemonsNotAnswering, then NoMirrorDaemons', async () => {
  for (const id of DAEMONS) await stopMirrorDaemon(env.lab.sites.a, id);
  // Both at once: held back for another instance timeout and said so, then failed over.
  await waitForEvent(env.kube, NS, {
    kind: 'CephFSMirror',
    reason: 'DaemonsNotAnswering',
    message: /stopped answering at once/,
  });
  const mirror = await waitForReady<CephFSMirror>(
    env.kube,
    NS,
    `cephfsmirror/${MIRROR}`,
    { status: 'False', reason: 'NoMirrorDaemons' },
    120_000,
  );
  assert.match(conditionOf(mirror)?.message ?? '', /no cephfs-mirror daemon is running/);
  await waitForEvent(env.kube, NS, {
    kind: 'CephFSMirror',
    reason: 'DaemonLost',
    message: /stopped answering/,
  });
  assert.equal(
    findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName)?.mirrorInfo.enabled,
    true,
  );
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
