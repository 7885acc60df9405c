// The Ceph layer end to end, with no mgr module and no Kubernetes: real clusters, real
// cephfs-mirror daemons, real snapshots crossing from site-a to site-b.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { Rados } from 'rados-js';
import { startMirrorDaemon, stopMirrorDaemon, mirrorDaemonPid } from '../../lab/ceph-cluster.js';
import { createBootstrapToken, importBootstrapToken } from '../../src/ceph/bootstrap.js';
import { listMirrorDaemons } from '../../src/ceph/daemon-status.js';
import { MIRROR_OBJECT_NAME, dirMapKey } from '../../src/ceph/dir-map-codec.js';
import { disableMirroring, enableMirroring } from '../../src/ceph/filesystem.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { monCommand } from '../../src/ceph/mon.js';
import { removePeer } from '../../src/ceph/peers.js';
import { useLab, type LabState } from '../support/lab.js';
import { waitFor } from '../support/wait.js';

let lab: LabState;
let a: Rados;
let b: Rados;
let fsA: CephFS;
let fsB: CephFS;
let peerUuid: string;

before(async () => {
  lab = await useLab();
  a = await Rados.connect({ confPath: lab.sites.a.confPath, timeoutMs: 20_000 });
  b = await Rados.connect({ confPath: lab.sites.b.confPath, timeoutMs: 20_000 });
  await enableMirroring(a, lab.sites.a.fsName);
  const token = await createBootstrapToken(b, lab.sites.b.fsName, 'client.mirror_remote', 'site-b');
  peerUuid = await importBootstrapToken(a, lab.sites.a.fsName, token);
  fsA = await CephFS.mount({ rados: a, fsName: lab.sites.a.fsName });
  fsB = await CephFS.mount({ rados: b, fsName: lab.sites.b.fsName });
});

after(async () => {
  await fsA?.close();
  await fsB?.close();
  if (peerUuid) await removePeer(a, lab.sites.a.fsName, peerUuid);
  await disableMirroring(a, lab.sites.a.fsName);
  await a?.shutdown();
  await b?.shutdown();
});

async function omapKeys(prefix: string): Promise<string[]> {
  const fs = lab.sites.a;
  const ioctx = await a.openIoCtx(fs.metadataPool);
  try {
    const keys: string[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await ioctx.omapGetVals(MIRROR_OBJECT_NAME, {
        prefix,
        max: 256,
        ...(startAfter ? { startAfter } : {}),
      });
      keys.push(...page.entries.map(([k]) => k));
      if (!page.more || page.entries.length === 0) return keys;
      startAfter = page.entries.at(-1)?.[0];
    }
  } finally {
    await ioctx.close();
  }
}

/** Directories the daemon running as client.<clientId> says it mirrors for filesystem a. */
async function daemonDirectoryCount(clientId: string): Promise<number | undefined> {
  const d = (await listMirrorDaemons(a)).find((x) => x.clientId === clientId);
  return d?.filesystems?.find((f) => f.name === lab.sites.a.fsName)?.directoryCount;
}

function liveInstances(engine: MirrorEngine): string[] {
  return engine
    .distribution()
    .instances.filter((i) => !i.dead)
    .map((i) => i.id);
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
    await startMirrorDaemon(lab.sites.a, 'e2e2');
    await startMirrorDaemon(lab.sites.a, 'e2e3');
    const ids = await waitFor('both daemons discovered', () => {
      const live = liveInstances(engine);
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
    // victim is the instance that goes silent.
    const [survivor] = await waitFor(
      'the killed daemon declared dead',
      () => {
        const live = liveInstances(engine);
        return live.length === 1 ? live : undefined;
      },
      60_000,
    );
    const victim = ids.find((id) => id !== survivor) as string;
    const victimAddr = addrs.get(victim);
    assert.ok(victimAddr, 'the victim had a known address');
    await waitFor(
      'all four directories on the survivor',
      () =>
        dirs.every(
          (d) => engine.status(d)?.state === 'mapped' && engine.status(d)?.instanceId === survivor,
        ),
      90_000,
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
