// Refused directory commands on a real filesystem: each gives the documented DirectoryError
// (errno, code, reason, the mgr module's message) and leaves Ceph exactly as it was (every key
// and value of the `cephfs_mirror` omap). No daemon runs, so accepted directories stay stalled.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Rados } from 'rados-js';
import { DIR_MAP_PREFIX, dirMapKey } from '../../src/ceph/dir-map-codec.js';
import { RadosDirMapStore } from '../../src/ceph/dir-map-store.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { DirectoryError, type DirectoryErrorReason } from '../../src/reconcile/index.js';
import {
  mirrorOmap,
  setUpMirroring,
  tearDownMirroring,
  withIoCtx,
  type MirroredSites,
} from '../../lab/harness/mirroring.js';
import { waitFor } from '../../lab/harness/wait.js';

const TRACKED = '/dirs/tracked';
/** Written as the mgr module leaves a removal interrupted by a restart: purge mark, an instance. */
const PURGING = '/purge/p';
/** An instance that never existed: the engine's release to it fails until the instance timeout. */
const GONE_INSTANCE = '4242424242';

let sites: MirroredSites | undefined;
let a: Rados;
let fsName: string;
let pool: string;
let engine: MirrorEngine | undefined;

before(async () => {
  sites = await setUpMirroring({ peer: false, mounts: false });
  a = sites.a;
  fsName = sites.lab.sites.a.fsName;
  pool = sites.lab.sites.a.metadataPool;
  const r = await withIoCtx(a, pool, (io) =>
    new RadosDirMapStore(io).writeDirMap({
      set: new Map([
        [PURGING, { version: 1, instanceId: GONE_INSTANCE, lastShuffled: 1.5, purging: true }],
      ]),
      remove: [],
    }),
  );
  assert.equal(r, 0);
  // A long instance timeout keeps the release to the unknown instance failing (so the purging
  // directory stays under removal) for the whole file.
  engine = await MirrorEngine.start({
    rados: a,
    fsName,
    tunables: { instanceTimeoutSeconds: 600 },
  });
  assert.equal(await engine.addDirectory(TRACKED), TRACKED);
  await waitFor(`${TRACKED} stalled`, () => engine?.status(TRACKED)?.state === 'stalled');
});

after(async () => {
  await engine?.stop();
  await tearDownMirroring(sites);
});

function running(): MirrorEngine {
  assert.ok(engine, 'the engine is running');
  return engine;
}

interface Expected {
  reason: DirectoryErrorReason;
  code: 'EINVAL' | 'EEXIST' | 'EAGAIN' | 'ENOENT';
  errno: number;
  /** A function when the text names whichever conflicting path the engine found. */
  message: string | ((conflictingPath: string | undefined) => string);
  /** A list when any of several tracked paths may be named. */
  conflictingPath?: string | readonly string[];
}

/** The call is refused as expected, and neither the omap nor the engine's statuses changed. */
async function refused(call: () => Promise<string>, expected: Expected): Promise<void> {
  const e = running();
  const omapBefore = await mirrorOmap(a, pool);
  const statusBefore = [TRACKED, PURGING].map((p) => e.status(p));
  const countBefore = e.distribution().directories;
  await assert.rejects(call(), (err: unknown) => {
    assert.ok(err instanceof DirectoryError, `a DirectoryError, got ${String(err)}`);
    assert.equal(err.reason, expected.reason);
    assert.equal(err.code, expected.code);
    assert.equal(err.errno, expected.errno);
    const message =
      typeof expected.message === 'string'
        ? expected.message
        : expected.message(err.conflictingPath);
    assert.equal(err.message, message);
    if (Array.isArray(expected.conflictingPath))
      assert.ok(expected.conflictingPath.includes(err.conflictingPath));
    else assert.equal(err.conflictingPath, expected.conflictingPath);
    return true;
  });
  // Give anything wrongly scheduled a tick (1 s) to reach RADOS before comparing.
  await new Promise((r) => setTimeout(r, 1_200));
  assert.deepEqual(await mirrorOmap(a, pool), omapBefore, 'the omap is unchanged');
  assert.deepEqual(
    [TRACKED, PURGING].map((p) => e.status(p)),
    statusBefore,
  );
  assert.equal(e.distribution().directories, countBefore);
}

test('the state the refusals are checked against', async () => {
  const e = running();
  assert.equal(e.status(TRACKED)?.reason, 'no mirror daemons running');
  const purging = e.status(PURGING);
  assert.equal(purging?.purging, true);
  assert.equal(purging?.state, 'unmapping');
  const keys = (await mirrorOmap(a, pool))
    .map(([k]) => k)
    .filter((k) => k.startsWith(DIR_MAP_PREFIX));
  assert.deepEqual(keys, [dirMapKey(TRACKED), dirMapKey(PURGING)]);
});

test('relative paths are refused', async () => {
  const e = running();
  for (const path of ['dirs/relative', '', './dirs/tracked', 'dirs/../..']) {
    await refused(() => e.addDirectory(path), {
      reason: 'RelativePath',
      code: 'EINVAL',
      errno: 22,
      message: `${path} should be an absolute path`,
    });
  }
  await refused(() => e.removeDirectory('dirs/tracked'), {
    reason: 'RelativePath',
    code: 'EINVAL',
    errno: 22,
    message: 'dirs/tracked should be an absolute path',
  });
});

test('a path that normalises to a tracked one is a duplicate', async () => {
  const e = running();
  for (const path of [
    TRACKED,
    `${TRACKED}/`,
    '/dirs/./tracked',
    '/dirs/x/../tracked',
    '//dirs//tracked',
  ]) {
    await refused(() => e.addDirectory(path), {
      reason: 'AlreadyTracked',
      code: 'EEXIST',
      errno: 17,
      message: `directory ${TRACKED} is already tracked`,
    });
  }
});

test('ancestors and subtrees of a tracked path are refused, `..` included', async () => {
  const e = running();
  for (const path of ['/dirs', '/dirs/tracked/..', '/dirs/tracked/../../dirs']) {
    await refused(() => e.addDirectory(path), {
      reason: 'AncestorOfTracked',
      code: 'EINVAL',
      errno: 22,
      message: `/dirs is an ancestor of tracked path ${TRACKED}`,
      conflictingPath: TRACKED,
    });
  }
  // `/..` stays at the root (as os.path.normpath does), which is an ancestor of every tracked
  // path; the engine names one of them.
  for (const path of ['/', '/..', '/dirs/../..']) {
    await refused(() => e.addDirectory(path), {
      reason: 'AncestorOfTracked',
      code: 'EINVAL',
      errno: 22,
      message: (tracked) => `/ is an ancestor of tracked path ${String(tracked)}`,
      conflictingPath: [TRACKED, PURGING],
    });
  }
  for (const [path, normal] of [
    ['/dirs/tracked/sub', '/dirs/tracked/sub'],
    ['/dirs/tracked/a/../b/', '/dirs/tracked/b'],
    ['/../dirs/tracked/sub', '/dirs/tracked/sub'],
  ] as const) {
    await refused(() => e.addDirectory(path), {
      reason: 'SubtreeOfTracked',
      code: 'EINVAL',
      errno: 22,
      message: `${normal} is a subtree of tracked path ${TRACKED}`,
      conflictingPath: TRACKED,
    });
  }
});

test('removing an untracked path is refused', async () => {
  const e = running();
  for (const [path, normal] of [
    ['/dirs/never', '/dirs/never'],
    ['/dirs', '/dirs'],
    ['/dirs/tracked/sub', '/dirs/tracked/sub'],
    ['/dirs/never/../../nothing', '/nothing'],
  ] as const) {
    await refused(() => e.removeDirectory(path), {
      reason: 'NotTracked',
      code: 'ENOENT',
      errno: 2,
      message: `directory ${normal} id not tracked`,
    });
  }
});

test('a directory under removal (adopted from the dir map) refuses removal and re-adding', async () => {
  const e = running();
  await refused(() => e.removeDirectory(PURGING), {
    reason: 'UnderRemoval',
    code: 'EINVAL',
    errno: 22,
    message: `directory ${PURGING} is under removal`,
  });
  await refused(() => e.addDirectory(`${PURGING}/`), {
    reason: 'RemovalInProgress',
    code: 'EAGAIN',
    errno: 11,
    message: `remove in-progress for ${PURGING}`,
  });
  await refused(() => e.addDirectory(`${PURGING}/child`), {
    reason: 'SubtreeOfTracked',
    code: 'EINVAL',
    errno: 22,
    message: `${PURGING}/child is a subtree of tracked path ${PURGING}`,
    conflictingPath: PURGING,
  });
});

test('an accepted path with `..` is stored normalised', async () => {
  const e = running();
  const before = await mirrorOmap(a, pool);
  assert.equal(await e.addDirectory('/other/x/../y/'), '/other/y');
  const after = await mirrorOmap(a, pool);
  const added = after.filter(([k]) => !before.some(([b]) => b === k)).map(([k]) => k);
  assert.deepEqual(added, [dirMapKey('/other/y')]);
  await waitFor('/other/y stalled', () => e.status('/other/y')?.state === 'stalled');
  // status() normalises as well.
  assert.deepEqual(e.status('/other/x/../y'), e.status('/other/y'));
  await e.removeDirectory('/other/y');
  await waitFor('/other/y gone', () => e.status('/other/y') === undefined);
  assert.deepEqual(await mirrorOmap(a, pool), before);
});

test('a second removal while the first is in flight is refused; only the first changes Ceph', async () => {
  const e = running();
  const before = await mirrorOmap(a, pool);
  const first = e.removeDirectory(TRACKED);
  await assert.rejects(e.removeDirectory(`${TRACKED}/`), (err: unknown) => {
    assert.ok(err instanceof DirectoryError);
    assert.equal(err.reason, 'UnderRemoval');
    assert.equal(err.errno, 22);
    assert.equal(err.message, `directory ${TRACKED} is under removal`);
    return true;
  });
  await assert.rejects(e.addDirectory(TRACKED), (err: unknown) => {
    assert.ok(err instanceof DirectoryError);
    assert.equal(err.reason, 'RemovalInProgress');
    assert.equal(err.errno, 11);
    return true;
  });
  assert.equal(await first, TRACKED);
  await waitFor(`${TRACKED} gone`, () => e.status(TRACKED) === undefined);
  // Exactly one key went: the tracked directory's (stalled, so no release was needed).
  assert.deepEqual(
    await mirrorOmap(a, pool),
    before.filter(([k]) => k !== dirMapKey(TRACKED)),
  );
});

test('the interrupted removal completes once the unknown instance times out', async () => {
  await running().stop();
  engine = await MirrorEngine.start({ rados: a, fsName, tunables: { instanceTimeoutSeconds: 2 } });
  const e = engine;
  await waitFor(`${PURGING} removed`, () => e.status(PURGING) === undefined, 30_000);
  const keys = (await mirrorOmap(a, pool)).map(([k]) => k);
  assert.deepEqual(
    keys.filter((k) => k.startsWith(DIR_MAP_PREFIX)),
    [],
  );
});

test('keys the input rules refuse, as the mgr module may have written them, are removed by their exact key', async () => {
  await running().stop();
  const legacy = ['/legacy/a\u0001b', `/legacy/${'n'.repeat(300)}`];
  const r = await withIoCtx(a, pool, (io) =>
    new RadosDirMapStore(io).writeDirMap({
      set: new Map(legacy.map((k) => [k, { version: 1, instanceId: '', lastShuffled: 0 }])),
      remove: [],
    }),
  );
  assert.equal(r, 0);
  engine = await MirrorEngine.start({ rados: a, fsName, tunables: { instanceTimeoutSeconds: 2 } });
  const e = engine;
  assert.deepEqual(e.unreadable, []);
  assert.deepEqual(e.trackedPaths().sort(), [...legacy].sort());
  for (const key of legacy) {
    await waitFor(`${JSON.stringify(key)} stalled`, () => e.status(key)?.state === 'stalled');
    // What Prune does: the key trackedPaths() gave, as it is.
    assert.equal(await e.removeDirectory(key), key);
  }
  await waitFor('legacy keys removed', () => e.trackedPaths().length === 0);
  const keys = (await mirrorOmap(a, pool)).map(([k]) => k);
  assert.deepEqual(
    keys.filter((k) => k.startsWith(DIR_MAP_PREFIX)),
    [],
  );
});
