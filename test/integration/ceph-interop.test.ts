// The operator and the real Pacific mgr `mirroring` module hand a filesystem to each other: what
// one side mapped, the other loads from the dir map and keeps mapped on the same daemon, and the
// module's `dirmap` / `show distribution` read what the engine wrote.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';
import { startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import { RadosDirMapStore } from '../../src/ceph/dir-map-store.js';
import { mgrMirroringModuleEnabled } from '../../src/ceph/filesystem.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import {
  disableMgrMirroringModule,
  enableMgrMirroringModule,
  mgrAddDirectory,
  mgrUntilMapped,
  mgrDistribution,
} from '../../lab/harness/mgr-module.js';
import {
  daemonDirectoryCount,
  liveInstances,
  mounts,
  setUpMirroring,
  tearDownMirroring,
  withIoCtx,
  type MirroredSites,
} from '../../lab/harness/mirroring.js';
import type { SiteInfo } from '../../lab/harness/lab.js';
import { waitFor } from '../../lab/harness/wait.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';

const MODULE_DIRS = ['/interop/m1', '/interop/m2', '/interop/m3'];
const ENGINE_DIRS = ['/interop/e1', '/interop/e2', '/interop/e3'];
const DAEMONS = ['interop1', 'interop2'];

let sites: MirroredSites | undefined;
let a: Rados;
let fsName: string;
let pool: string;
let siteA: SiteInfo;
let fsA: CephFS;
let engine: MirrorEngine | undefined;
/** Instance id per directory, as the module's dirmap reported it in the first test. */
const moduleInstance = new Map<string, string>();

before(async () => {
  sites = await setUpMirroring();
  a = sites.a;
  siteA = sites.lab.sites.a;
  fsName = sites.lab.sites.a.fsName;
  pool = sites.lab.sites.a.metadataPool;
  ({ fsA } = mounts(sites));
  for (const d of [...MODULE_DIRS, ...ENGINE_DIRS]) await fsA.mkdirs(d);
  await startMirrorDaemon(siteA, 'interop1');
});

after(async () => {
  await engine?.stop();
  if (sites) for (const id of DAEMONS) await stopMirrorDaemon(sites.lab.sites.a, id);
  await tearDownMirroring(sites);
});

function engineMapped(e: MirrorEngine, dirs: string[]): boolean {
  return dirs.every((d) => e.status(d)?.state === 'mapped');
}

test('directories mapped by the mgr module are adopted by the engine on the same daemons', async () => {
  await enableMgrMirroringModule(a, fsName);
  for (const d of MODULE_DIRS) await mgrAddDirectory(a, fsName, d);
  for (const d of MODULE_DIRS) {
    const s = await mgrUntilMapped(a, fsName, d);
    assert.ok(s.instance_id, `the module names an instance for ${d}`);
    moduleInstance.set(d, s.instance_id);
  }
  await waitFor(
    'the daemon to report the three directories',
    async () => (await daemonDirectoryCount(a, fsName, 'interop1')) === 3,
  );
  await disableMgrMirroringModule(a);
  assert.equal(await mgrMirroringModuleEnabled(a), false);

  // The dir map as the module left it, read by our store.
  const loaded = await withIoCtx(a, pool, (io) => new RadosDirMapStore(io).load());
  assert.deepEqual(loaded.unreadable, []);
  const byPath = new Map(loaded.directories);
  assert.deepEqual([...byPath.keys()].sort(), MODULE_DIRS);
  for (const d of MODULE_DIRS) {
    const record = byPath.get(d);
    assert.equal(record?.instanceId, moduleInstance.get(d), `${d}: same instance as the module`);
    assert.ok(!record?.purging, `${d} is not being removed`);
    assert.ok((record?.lastShuffled ?? 0) > 0, `${d} has a mapping time`);
  }
  const instanceIds = loaded.instances.map(([id]) => id);
  for (const id of new Set(moduleInstance.values()))
    assert.ok(instanceIds.includes(id), `instance_${id} is in the stored instance list`);

  engine = await MirrorEngine.start({ rados: a, fsName });
  const e = engine;
  assert.deepEqual(e.unreadable, []);
  for (const d of MODULE_DIRS) {
    assert.equal(e.status(d)?.instanceId, moduleInstance.get(d), `${d} loaded on its instance`);
  }
  await waitFor('the engine to re-acquire the three directories', () =>
    engineMapped(e, MODULE_DIRS),
  );
  // It keeps them there: the daemon is alive (the watcher confirms it), nothing to move.
  await waitFor('the engine to settle', () => e.isQuiet(), 30_000);
  await waitFor('the daemon confirmed alive', () => liveInstances(e).length === 1);
  for (const d of MODULE_DIRS) {
    const s = e.status(d);
    assert.equal(s?.state, 'mapped', `${d} still mapped`);
    assert.equal(s?.instanceId, moduleInstance.get(d), `${d} still on the module's instance`);
  }
  assert.deepEqual(liveInstances(e), [...new Set(moduleInstance.values())]);
  assert.equal(await daemonDirectoryCount(a, fsName, 'interop1'), 3);
});

test('directories mapped by the engine are read back by the mgr module', async () => {
  const e = engine;
  assert.ok(e, 'the engine of the first test is running');
  // A second daemon, so the distribution has two instances to agree on.
  await startMirrorDaemon(siteA, 'interop2');
  await waitFor('the second daemon discovered', () => liveInstances(e).length === 2, 60_000);
  for (const d of ENGINE_DIRS) assert.equal(await e.addDirectory(d), d);
  await waitFor('the engine to map its three directories', () => engineMapped(e, ENGINE_DIRS));
  await waitFor('the engine to settle', () => e.isQuiet(), 30_000);
  const all = [...MODULE_DIRS, ...ENGINE_DIRS];
  assert.ok(engineMapped(e, all), 'all six mapped');
  const ours = new Map(all.map((d) => [d, e.status(d)?.instanceId]));
  // The module's directories were mapped moments ago (inside the 300 s shuffle throttle), so the
  // new daemon gets the three new ones: 3 and 3.
  assert.deepEqual(Object.values(e.mgrSummary().mapping).sort(), [
    '3 directories',
    '3 directories',
  ]);
  const summary = e.mgrSummary();
  await e.stop();
  engine = undefined;

  await enableMgrMirroringModule(a, fsName);
  for (const d of all) {
    const s = await mgrUntilMapped(a, fsName, d);
    assert.equal(s.instance_id, ours.get(d), `${d}: the module sees the engine's instance`);
  }
  assert.deepEqual(await mgrDistribution(a, fsName), summary);

  // No removal through the module: enabling it re-acquired every mapped directory on the daemons
  // that already held them (its INITIALIZING state starts with an acquire), so each daemon now
  // keeps two entries per directory, and a release would leave one without its sync stats, which
  // aborts a Pacific daemon in PeerReplayer::pick_directory (protocol note, section 3; this test
  // did exactly that until it was caught). The daemons go first; after() then clears the map.
  for (const id of DAEMONS) await stopMirrorDaemon(siteA, id);
  await disableMgrMirroringModule(a);
});

test('no cephfs-mirror daemon aborted', () => {
  assert.ok(sites);
  assertNoDaemonAborted(sites.lab);
});
