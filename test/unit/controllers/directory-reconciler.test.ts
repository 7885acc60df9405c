// In-process tests of the MirroredDirectory reconciler against the in-memory API server and Ceph
// (test/support/fake-*.ts): the real reconciler, engine and policy driver; daemons answer through
// the in-memory mailboxes, so "acquired" and "released" are what a daemon was told.
import { strict as assert } from 'node:assert';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { FINALIZER, GROUP, KINDS, VERSION } from '../../../src/api/resources.js';
import { DirectoryReconciler } from '../../../src/controllers/directory-reconciler.js';
import { ControllerHarness, NS, condition, ready } from '../../support/fake-controllers.js';

/** The writes to MirroredDirectory objects since request `before`: "PUT object", "PUT status"... */
function directoryWritesSince(h: ControllerHarness, before: number): string[] {
  return h.kube.requests
    .slice(before)
    .filter((r) => r.method !== 'GET' && r.path.includes('/mirroreddirectories/'))
    .map((r) => `${r.method} ${r.path.endsWith('/status') ? 'status' : 'object'}`);
}

describe('DirectoryReconciler (in-process)', () => {
  let h: ControllerHarness;
  let mirrorKey: string;
  beforeEach(async () => {
    h = new ControllerHarness();
    await h.clusterSecret();
    await h.cluster.fs('cephfs').addDaemon('4100');
    mirrorKey = await h.mirror('m');
    await h.mirrors.reconcile(mirrorKey);
  });
  afterEach(async () => {
    mock.timers.reset();
    await h.close();
  });

  const fs = () => h.cluster.fs('cephfs');

  it('tracks the path, the daemon acquires it, Ready=True Mirrored with the instance', async () => {
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d]);
    const dir = h.getDirectory(d);
    assert.ok(dir?.metadata.finalizers?.includes(FINALIZER));
    assert.equal(ready(dir?.status?.conditions)?.status, 'True');
    assert.equal(ready(dir?.status?.conditions)?.reason, 'Mirrored');
    assert.equal(condition(dir?.status?.conditions, 'Invalid')?.reason, 'Valid');
    assert.equal(dir?.status?.state, 'Associated');
    assert.equal(dir?.status?.instanceID, '4100');
    assert.equal(dir?.status?.path, '/a');
    assert.equal(dir?.status?.mirrorRef, 'm');
    assert.equal(fs().store.dirMap.get('/a')?.instanceId, '4100');
    assert.ok(fs().notifier.holdings('4100').has('/a'));
    assert.deepEqual(fs().notifier.duplicateAcquires, []);
    // A new directory's first acquire is said by its status alone (no Event per directory).
    assert.ok(!(await h.eventsOf('d')).some((e) => e.reason === 'Acquired'));
  });

  it('a directory taken over by another daemon gets an Acquired Event naming both', async () => {
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d]);
    await fs().addDaemon('4200');
    await fs().removeDaemon('4100');
    // The engine moves it within a few ticks; each engine change reconciles the object again.
    for (let i = 0; i < 10 && h.getDirectory(d)?.status?.instanceID !== '4200'; i++) {
      await h.ceph.run(1);
      await h.withClock(h.directories.reconcile(d));
    }
    const dir = h.getDirectory(d);
    assert.equal(ready(dir?.status?.conditions)?.status, 'True');
    assert.equal(dir?.status?.instanceID, '4200');
    const acquired = (await h.eventsOf('d')).filter((e) => e.reason === 'Acquired');
    assert.deepEqual(
      acquired.map((e) => e.message),
      ['/a acquired by cephfs-mirror instance 4200 (was 4100)'],
    );
  });

  it('with a queue that parks: one reconcile, the finalizer and one status write (Ready)', async () => {
    h.ctx.waitOutsideSlot = (wait) => wait;
    const d = await h.directory('d', '/a');
    const before = h.kube.requests.length;
    assert.equal(await h.withClock(h.directories.reconcile(d)), undefined);
    const writes = directoryWritesSince(h, before);
    assert.deepEqual(writes, ['PUT object', 'PUT status']);
    const dir = h.getDirectory(d);
    assert.equal(ready(dir?.status?.conditions)?.reason, 'Mirrored');
    assert.equal(dir?.status?.state, 'Associated');
    // The engine's changes on the way there are what the status already says: no reconcile.
    const status = h.runtimes.get(mirrorKey)?.engine.status('/a');
    assert.equal(status?.state, 'mapped');
    assert.equal(h.directories.wantsEngineChange(d, status), false);
    assert.equal(h.directories.wantsEngineChange(d, undefined), true);
  });

  it('an object created with the finalizer on it: one status write, and deleted as usual', async () => {
    h.ctx.waitOutsideSlot = (wait) => wait;
    await h.kube.create(KINDS.directory, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'MirroredDirectory',
      metadata: { name: 'd', namespace: NS, finalizers: [FINALIZER] },
      spec: { mirrorRef: { name: 'm' }, path: '/a' },
    });
    const d = `${NS}/d`;
    const before = h.kube.requests.length;
    assert.equal(await h.withClock(h.directories.reconcile(d)), undefined);
    const writes = directoryWritesSince(h, before);
    assert.deepEqual(writes, ['PUT status'], 'no finalizer write');
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.reason, 'Mirrored');
    await h.kube.delete(KINDS.directory, NS, 'd');
    await h.finalizeDirectory(d);
    assert.equal(h.getDirectory(d), undefined);
    assert.equal(fs().store.dirMap.has('/a'), false);
  });

  it('an object created with the finalizer for a mirror that does not exist is deleted at once', async () => {
    await h.kube.create(KINDS.directory, {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'MirroredDirectory',
      metadata: { name: 'orphan', namespace: NS, finalizers: [FINALIZER] },
      spec: { mirrorRef: { name: 'nowhere' }, path: '/b' },
    });
    const d = `${NS}/orphan`;
    await h.directories.reconcile(d);
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.reason, 'MirrorNotFound');
    await h.kube.delete(KINDS.directory, NS, 'orphan');
    await h.directories.reconcile(d);
    assert.equal(h.getDirectory(d), undefined, 'not held by a finalizer nobody would remove');
  });

  it('with a queue that parks: a state that lasts is written after SETTLE_MS, its end wanted', async () => {
    h.ctx.waitOutsideSlot = (wait) => wait;
    fs().notifier.manual = true;
    const d = await h.directory('d', '/a');
    assert.equal(await h.withClock(h.directories.reconcile(d)), undefined);
    const dir = h.getDirectory(d);
    assert.equal(ready(dir?.status?.conditions)?.reason, 'Associating');
    assert.equal(condition(dir?.status?.conditions, 'Reconciling')?.status, 'True');
    const engine = h.runtimes.get(mirrorKey)?.engine;
    assert.equal(h.directories.wantsEngineChange(d, engine?.status('/a')), false);
    fs().notifier.manual = false;
    while (fs().notifier.heldNotifies.length > 0) fs().notifier.settleNotify(0, 0);
    await h.ceph.run(1);
    assert.equal(engine?.status('/a')?.state, 'mapped');
    assert.equal(h.directories.wantsEngineChange(d, engine?.status('/a')), true);
    await h.withClock(h.directories.reconcile(d));
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.reason, 'Mirrored');
  });

  it('a passing state is written once it lasts (Associating while the daemon has not answered)', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    fs().notifier.manual = true;
    const d = await h.directory('d', '/a');
    await h.withClock(h.directories.reconcile(d));
    await h.ceph.run(2);
    // Within SETTLE_MS no status is written for a state that usually passes in a tick.
    const early = await h.withClock(h.directories.reconcile(d));
    assert.ok(early && early.requeueAfterMs !== undefined && early.requeueAfterMs <= 3000);
    assert.equal(ready(h.getDirectory(d)?.status?.conditions), undefined);
    mock.timers.tick(3001);
    await h.withClock(h.directories.reconcile(d));
    const dir = h.getDirectory(d);
    assert.equal(ready(dir?.status?.conditions)?.status, 'False');
    assert.equal(ready(dir?.status?.conditions)?.reason, 'Associating');
    assert.equal(dir?.status?.state, 'Associating');
    assert.equal(condition(dir?.status?.conditions, 'Reconciling')?.status, 'True');
    fs().notifier.manual = false;
    while (fs().notifier.heldNotifies.length > 0) fs().notifier.settleNotify(0, 0);
    await h.settleDirectories([d]);
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.reason, 'Mirrored');
  });

  it('MirrorNotFound: Ready=False and Stalled, nothing tracked', async () => {
    const d = await h.directory('d', '/a', 'nope');
    await h.directories.reconcile(d);
    const dir = h.getDirectory(d);
    assert.equal(ready(dir?.status?.conditions)?.reason, 'MirrorNotFound');
    assert.equal(condition(dir?.status?.conditions, 'Stalled')?.status, 'True');
    assert.equal(fs().store.dirMap.size, 0);
  });

  it('MirrorNotReady says why the mirror has no engine', async () => {
    h.cluster.mgrModules.add('mirroring');
    await h.runtimes.stop(mirrorKey);
    await h.mirrors.reconcile(mirrorKey);
    const d = await h.directory('d', '/a');
    assert.deepEqual(await h.directories.reconcile(d), { requeueAfterMs: 3000 });
    const r = ready(h.getDirectory(d)?.status?.conditions);
    assert.equal(r?.reason, 'MirrorNotReady');
    assert.match(r?.message ?? '', /MgrModuleEnabled/);
    assert.equal(condition(h.getDirectory(d)?.status?.conditions, 'Reconciling')?.status, 'True');
  });

  it('after a start, a Ready directory keeps its status until its mirror has a verdict', async () => {
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d]);
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.status, 'True');
    // As after an operator restart: the mirror's engine not started, nothing said about it yet.
    await h.runtimes.stop(mirrorKey);
    h.runtimes.setNotRunning(mirrorKey, undefined);
    const writes = (): number =>
      h.kube.requests.filter((r) => r.method !== 'GET' && r.path.includes('mirroreddirectories'))
        .length;
    const before = writes();
    assert.deepEqual(await h.directories.reconcile(d), { requeueAfterMs: 3000 });
    assert.equal(writes(), before, 'no status write');
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.status, 'True');
    // Past the grace (a reconciler started long ago), the same state is said.
    const late = new DirectoryReconciler(h.ctx, { startupGraceMs: 0 });
    await late.reconcile(d);
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.reason, 'MirrorNotReady');
  });

  for (const [path, reason] of [
    ['relative/path', 'RelativePath'],
    ['/a\u0000b', 'InvalidPath'],
  ] as const) {
    it(`an invalid spec.path (${reason}) is Invalid=True and changes nothing in Ceph`, async () => {
      const d = await h.directory('d', path);
      await h.directories.reconcile(d);
      const dir = h.getDirectory(d);
      assert.equal(condition(dir?.status?.conditions, 'Invalid')?.status, 'True');
      assert.equal(condition(dir?.status?.conditions, 'Invalid')?.reason, reason);
      assert.equal(ready(dir?.status?.conditions)?.reason, reason);
      assert.equal(fs().store.dirMap.size, 0);
    });
  }

  it('DuplicatePath: the older object owns the path, the younger is refused', async () => {
    const a = await h.directory('first', '/a');
    const b = await h.directory('second', '/a/');
    await h.settleDirectories([a]);
    await h.directories.reconcile(b);
    const refused = h.getDirectory(b);
    assert.equal(condition(refused?.status?.conditions, 'Invalid')?.reason, 'DuplicatePath');
    assert.match(ready(refused?.status?.conditions)?.message ?? '', /first/);
    assert.equal(ready(h.getDirectory(a)?.status?.conditions)?.status, 'True');
  });

  it('overlapping paths are refused with the engine’s reason (SubtreeOfTracked, AncestorOfTracked)', async () => {
    const a = await h.directory('a', '/a');
    await h.settleDirectories([a]);
    const sub = await h.directory('sub', '/a/b');
    const root = await h.directory('root', '/');
    await h.directories.reconcile(sub);
    await h.directories.reconcile(root);
    assert.equal(
      condition(h.getDirectory(sub)?.status?.conditions, 'Invalid')?.reason,
      'SubtreeOfTracked',
    );
    assert.equal(
      condition(h.getDirectory(root)?.status?.conditions, 'Invalid')?.reason,
      'AncestorOfTracked',
    );
    assert.deepEqual([...fs().store.dirMap.keys()], ['/a']);
  });

  it('SourceDirectoryMissing: not written to the dir map, looked for again, added once it exists', async () => {
    fs().missing.add('/later');
    const d = await h.directory('d', '/later');
    assert.deepEqual(await h.directories.reconcile(d), { requeueAfterMs: 10_000 });
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.reason, 'SourceDirectoryMissing');
    assert.equal(fs().store.dirMap.has('/later'), false);
    const warnings = (await h.eventsOf('d')).filter((e) => e.reason === 'SourceDirectoryMissing');
    assert.equal(warnings.length, 1);
    fs().missing.delete('/later');
    // The absent answer is cached for 5 s; a new harness-free way is a fresh runtime cache:
    h.runtimes.get(mirrorKey)?.syncViews.forget('/later');
    await h.settleDirectories([d]);
    assert.equal(ready(h.getDirectory(d)?.status?.conditions)?.status, 'True');
  });

  it('with no daemon the directory is Stalled, never Ready', async () => {
    await fs().removeDaemon('4100');
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d], 5);
    const dir = h.getDirectory(d);
    assert.equal(ready(dir?.status?.conditions)?.status, 'False');
    assert.equal(dir?.status?.state, 'Stalled');
  });

  it('a Stalled directory acquired once a daemon is back gets an Acquired Event', async () => {
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d]);
    await fs().removeDaemon('4100');
    for (let i = 0; i < 10 && h.getDirectory(d)?.status?.state !== 'Stalled'; i++) {
      await h.ceph.run(1);
      await h.withClock(h.directories.reconcile(d));
    }
    assert.equal(h.getDirectory(d)?.status?.state, 'Stalled');
    assert.equal(h.getDirectory(d)?.status?.instanceID, undefined);
    await fs().addDaemon('4300');
    for (
      let i = 0;
      i < 10 && ready(h.getDirectory(d)?.status?.conditions)?.status !== 'True';
      i++
    ) {
      await h.ceph.run(1);
      await h.withClock(h.directories.reconcile(d));
    }
    assert.equal(h.getDirectory(d)?.status?.instanceID, '4300');
    const acquired = (await h.eventsOf('d')).filter((e) => e.reason === 'Acquired');
    assert.deepEqual(
      acquired.map((e) => e.message),
      ['/a acquired by cephfs-mirror instance 4300'],
    );
  });

  it('MirrorRefImmutable: an admitted object keeps its entry when mirrorRef is edited', async () => {
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d]);
    await h.kube.edit<{ spec: { mirrorRef: { name: string } } }>(KINDS.directory, NS, 'd', (o) => {
      o.spec.mirrorRef.name = 'other';
    });
    await h.directories.reconcile(d);
    const dir = h.getDirectory(d);
    assert.equal(condition(dir?.status?.conditions, 'Invalid')?.reason, 'MirrorRefImmutable');
    assert.equal(dir?.status?.path, '/a');
    assert.ok(fs().store.dirMap.has('/a'));
  });

  it('a path edit releases the old entry first, then tracks the new one', async () => {
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d]);
    await h.kube.edit<{ spec: { path: string } }>(KINDS.directory, NS, 'd', (o) => {
      o.spec.path = '/b';
    });
    await h.settleDirectories([d]);
    await h.ceph.run(3);
    const dir = h.getDirectory(d);
    assert.equal(dir?.status?.path, '/b');
    assert.equal(ready(dir?.status?.conditions)?.status, 'True');
    assert.equal(dir?.status?.observedGeneration, 2);
    assert.deepEqual([...fs().store.dirMap.keys()], ['/b']);
    assert.equal(fs().notifier.holdings('4100').has('/a'), false);
  });

  it('RemovalInProgress: a path still being removed is waited for, then tracked again', async () => {
    const a = await h.directory('a', '/a');
    await h.settleDirectories([a]);
    // Hold the daemon's answers, so the release of /a stays in flight.
    fs().notifier.manual = true;
    await h.kube.delete(KINDS.directory, NS, 'a');
    await h.directories.reconcile(a);
    await h.ceph.run(1);
    assert.ok(h.getDirectory(a), 'the finalizer waits for the release');
    const b = await h.directory('b', '/a');
    assert.deepEqual(await h.directories.reconcile(b), { requeueAfterMs: 1000 });
    assert.equal(ready(h.getDirectory(b)?.status?.conditions)?.reason, 'RemovalInProgress');
    fs().notifier.manual = false;
    while (fs().notifier.heldNotifies.length > 0) fs().notifier.settleNotify(0, 0);
    await h.finalizeDirectory(a);
    assert.equal(h.getDirectory(a), undefined);
    await h.settleDirectories([b]);
    assert.equal(ready(h.getDirectory(b)?.status?.conditions)?.status, 'True');
  });

  describe('deletion', () => {
    it('the daemon releases the directory and its key goes before the finalizer', async () => {
      const d = await h.directory('d', '/a');
      await h.settleDirectories([d]);
      await h.kube.delete(KINDS.directory, NS, 'd');
      assert.ok(h.getDirectory(d)?.metadata.deletionTimestamp);
      await h.finalizeDirectory(d);
      assert.equal(h.getDirectory(d), undefined);
      assert.equal(fs().store.dirMap.has('/a'), false);
      assert.equal(fs().notifier.holdings('4100').has('/a'), false);
      const released = fs().notifier.sent.filter(
        (n) => n.message.dir_path === '/a' && n.message.mode === 'release',
      );
      assert.equal(released.length, 1, 'released exactly once');
      assert.ok((await h.eventsOf('d')).some((e) => e.reason === 'Released'));
    });

    it('waits while its mirror exists without an engine', async () => {
      const d = await h.directory('d', '/a');
      await h.settleDirectories([d]);
      await h.runtimes.stop(mirrorKey);
      await h.kube.delete(KINDS.directory, NS, 'd');
      assert.deepEqual(await h.directories.reconcile(d), { requeueAfterMs: 3000 });
      assert.ok(h.getDirectory(d));
      assert.ok(fs().store.dirMap.has('/a'));
    });

    it('a directory of a refused mirror goes at once, leaving the owner’s map alone', async () => {
      const d = await h.directory('d', '/a');
      await h.settleDirectories([d]);
      const younger = await h.mirror('m2');
      await h.mirrors.reconcile(younger);
      const other = await h.directory('other', '/a', 'm2');
      await h.directories.reconcile(other);
      assert.equal(ready(h.getDirectory(other)?.status?.conditions)?.reason, 'MirrorNotReady');
      await h.kube.delete(KINDS.directory, NS, 'other');
      await h.directories.reconcile(other);
      assert.equal(h.getDirectory(other), undefined);
      assert.ok(fs().store.dirMap.has('/a'), 'the owner’s entry stays');
    });

    it('an invalid object is deleted without touching the entry another object owns', async () => {
      const a = await h.directory('first', '/a');
      const b = await h.directory('second', '/a');
      await h.settleDirectories([a]);
      await h.directories.reconcile(b);
      await h.kube.delete(KINDS.directory, NS, 'second');
      await h.directories.reconcile(b);
      assert.equal(h.getDirectory(b), undefined);
      assert.ok(fs().store.dirMap.has('/a'));
      assert.ok(fs().notifier.holdings('4100').has('/a'));
    });
  });

  it('a 409 while adding the finalizer is retried on a fresh read', async () => {
    const d = await h.directory('d', '/a');
    h.kube.interleaveOnce('PUT', '/mirroreddirectories/d', (obj) => {
      obj.metadata.labels = { team: 'x' };
    });
    await h.settleDirectories([d]);
    const dir = h.getDirectory(d);
    assert.ok(dir?.metadata.finalizers?.includes(FINALIZER));
    assert.equal(dir?.metadata.labels?.team, 'x');
    assert.equal(ready(dir?.status?.conditions)?.status, 'True');
  });
});
