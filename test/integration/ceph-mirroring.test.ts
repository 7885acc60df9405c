// The Ceph layer end to end, with no mgr module and no Kubernetes: real clusters, real
// cephfs-mirror daemons, real snapshots crossing from site-a to site-b.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';
import { startMirrorDaemon, stopMirrorDaemon, mirrorDaemonPid } from '../../lab/ceph-cluster.js';
import { dirMapKey } from '../../src/ceph/dir-map-codec.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { monCommand } from '../../src/ceph/mon.js';
import type { LabState } from '../../lab/harness/lab.js';
import {
  daemonDirectoryCount as daemonDirectoryCountOf,
  liveInstances,
  mirrorOmap,
  mounts,
  setUpMirroring,
  tearDownMirroring,
  type MirroredSites,
} from '../../lab/harness/mirroring.js';
import { waitFor } from '../../lab/harness/wait.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';

let sites: MirroredSites | undefined;
let lab: LabState;
let a: Rados;
let fsA: CephFS;
let fsB: CephFS;

before(async () => {
  sites = await setUpMirroring();
  ({ lab, a } = sites);
  ({ fsA, fsB } = mounts(sites));
});

after(async () => {
  await tearDownMirroring(sites);
});

async function omapKeys(prefix: string): Promise<string[]> {
  const entries = await mirrorOmap(a, lab.sites.a.metadataPool);
  return entries.map(([k]) => k).filter((k) => k.startsWith(prefix));
}

/** Directories the daemon running as client.<clientId> says it mirrors for filesystem a. */
function daemonDirectoryCount(clientId: string): Promise<number | undefined> {
  return daemonDirectoryCountOf(a, lab.sites.a.fsName, clientId);
}

async function makeDir(path: string, files: Record<string, string> = {}): Promise<void> {
  await fsA.mkdirs(path);
  for (const [name, content] of Object.entries(files))
    await fsA.writeFile(`${path}/${name}`, content);
}

async function removeAndWait(engine: MirrorEngine, path: string): Promise<void> {
  await engine.removeDirectory(path);
  await waitFor(`${path} untracked`, () => engine.status(path) === undefined, 60_000);
}

test('one daemon acquires a directory and its snapshot reaches site-b with the same content', async () => {
  const engine = await MirrorEngine.start({ rados: a, fsName: lab.sites.a.fsName });
  try {
    await makeDir('/d1', { 'hello.txt': 'hello from site-a\n' });
    await startMirrorDaemon(lab.sites.a, 'e2e1');
    const [instanceId] = await waitFor('the daemon discovered', () => {
      const live = liveInstances(engine);
      return live.length === 1 ? live : undefined;
    });
    assert.equal(await engine.addDirectory('/d1/'), '/d1');
    assert.ok((await omapKeys('dir_map_')).includes(dirMapKey('/d1')));
    const mapped = await waitFor('/d1 mapped', () => {
      const s = engine.status('/d1');
      return s?.state === 'mapped' ? s : undefined;
    });
    assert.equal(mapped.instanceId, instanceId, 'mapped to the running daemon');
    await waitFor(
      'the daemon to report /d1',
      async () => (await daemonDirectoryCount('e2e1')) === 1,
    );

    await fsA.mksnap('/d1', 'snap1');
    await waitFor(
      'snap1 on site-b',
      async () => (await fsB.listSnaps('/d1')).includes('snap1'),
      90_000,
    );
    const copied = await fsB.readFile('/d1/.snap/snap1/hello.txt');
    assert.equal(copied.toString(), 'hello from site-a\n');

    await removeAndWait(engine, '/d1');
    assert.ok(!(await omapKeys('dir_map_')).includes(dirMapKey('/d1')), 'key removed');
    await waitFor(
      'the daemon to release /d1',
      async () => (await daemonDirectoryCount('e2e1')) === 0,
    );
  } finally {
    await engine.stop();
    await stopMirrorDaemon(lab.sites.a, 'e2e1');
  }
});

test('two daemons share four directories; a killed one is fenced and its directories move', async () => {
  const engine = await MirrorEngine.start({
    rados: a,
    fsName: lab.sites.a.fsName,
    tunables: { instanceTimeoutSeconds: 10 },
  });
  const dirs = ['/two/d1', '/two/d2', '/two/d3', '/two/d4'];
  try {
    for (const d of dirs) await makeDir(d);
    // Records of daemons an earlier test stopped may still be loaded (and briefly live, until a
    // notify or the instance timeout drops them): the two daemons of this test are the new ids.
    const earlier = new Set(engine.distribution().instances.map((i) => i.id));
    await startMirrorDaemon(lab.sites.a, 'e2e2');
    await startMirrorDaemon(lab.sites.a, 'e2e3');
    const ids = await waitFor('both daemons discovered', () => {
      const live = liveInstances(engine).filter((id) => !earlier.has(id));
      return live.length === 2 ? live : undefined;
    });
    for (const d of dirs) await engine.addDirectory(d);
    await waitFor('all four mapped', () => dirs.every((d) => engine.status(d)?.state === 'mapped'));
    const perInstance = (id: string): number =>
      dirs.filter((d) => engine.status(d)?.instanceId === id).length;
    assert.deepEqual(ids.map(perInstance), [2, 2]);

    await waitFor('each daemon to report two directories', async () => {
      const counts = [await daemonDirectoryCount('e2e2'), await daemonDirectoryCount('e2e3')];
      return counts[0] === 2 && counts[1] === 2;
    });
    const addrs = new Map(engine.distribution().instances.map((i) => [i.id, i.addr]));
    const pid = mirrorDaemonPid(lab.sites.a, 'e2e2');
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    // The dir map knows instances by their per-filesystem RADOS id, not by client name: the
    // victim is the one of the two that is declared dead.
    const victim = await waitFor(
      'the killed daemon declared dead',
      () => {
        const live = liveInstances(engine);
        const gone = ids.filter((id) => !live.includes(id));
        return gone.length === 1 ? gone[0] : undefined;
      },
      60_000,
    );
    const victimAddr = addrs.get(victim);
    assert.ok(victimAddr, 'the victim had a known address');
    // On a live daemon other than the victim: the survivor's instance, or the new one of a daemon
    // that re-created its filesystem mirror meanwhile (Mirror::update_fs_mirrors gives a failed
    // FSMirror a new RADOS client, so a new instance id). A survivor waiting on the dead daemon's
    // remote CephFS session acks late (docs/ceph-layer.md, "Liveness"): hence the long bound.
    await waitFor(
      'all four directories on a live daemon other than the victim',
      () => {
        const live = liveInstances(engine);
        return dirs.every((d) => {
          const st = engine.status(d);
          return (
            st?.state === 'mapped' &&
            st.instanceId !== victim &&
            st.instanceId !== null &&
            st.instanceId !== undefined &&
            live.includes(st.instanceId)
          );
        });
      },
      240_000,
    );
    // Pacific prints two JSON arrays back to back (addresses, then ranges): read the first.
    const { outbuf } = await monCommand(a, { prefix: 'osd blocklist ls', format: 'json' });
    const text = outbuf.toString();
    const blocklist = JSON.parse(text.slice(0, text.indexOf(']') + 1)) as Array<{ addr: string }>;
    assert.ok(
      blocklist.some((e) => e.addr === victimAddr),
      `${victimAddr} is on the blocklist`,
    );
    for (const d of dirs) await removeAndWait(engine, d);
  } finally {
    await engine.stop();
    await stopMirrorDaemon(lab.sites.a, 'e2e2');
    await stopMirrorDaemon(lab.sites.a, 'e2e3');
  }
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(lab);
});
