// In-process tests of the CephFSMirror reconciler: the real reconciler, runtimes, engine, object
// writes and status helpers against the in-memory API server and Ceph (test/support/fake-*.ts).
import { strict as assert } from 'node:assert';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { FINALIZER, KINDS, type MirroredDirectory } from '../../../src/api/resources.js';
import { adoptedName } from '../../../src/controllers/mirror-reconciler.js';
import { decodeBootstrapToken } from '../../../src/ceph/bootstrap-token.js';
import { KubeApiError } from '../../../src/kube/kube-http.js';
import { ControllerHarness, NS, condition, ready } from '../../support/fake-controllers.js';

describe('MirrorReconciler (in-process)', () => {
  let h: ControllerHarness;
  beforeEach(() => {
    h = new ControllerHarness();
  });
  afterEach(async () => {
    mock.timers.reset();
    await h.close();
  });

  /** A running mirror `m` with one daemon; returns its key. */
  async function running(spec = {}): Promise<string> {
    await h.clusterSecret();
    await h.cluster.fs('cephfs').addDaemon('4100');
    const key = await h.mirror('m', spec);
    await h.mirrors.reconcile(key);
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.status, 'True');
    return key;
  }

  it('enables mirroring and reports Ready=True MirroringEnabled with the filesystem and daemons', async () => {
    await h.clusterSecret();
    await h.cluster.fs('cephfs').addDaemon('4100');
    const key = await h.mirror('m');
    const result = await h.mirrors.reconcile(key);
    assert.deepEqual(result, { requeueAfterMs: 10_000 });
    const m = h.getMirror(key);
    assert.ok(m?.metadata.finalizers?.includes(FINALIZER));
    assert.equal(ready(m?.status?.conditions)?.status, 'True');
    assert.equal(ready(m?.status?.conditions)?.reason, 'MirroringEnabled');
    assert.equal(condition(m?.status?.conditions, 'MirroringEnabled')?.reason, 'Enabled');
    assert.equal(condition(m?.status?.conditions, 'Degraded')?.status, 'False');
    assert.equal(m?.status?.observedGeneration, 1);
    assert.equal(m?.status?.state, 'Mirroring');
    assert.equal(m?.status?.fscid, 1);
    assert.equal(m?.status?.metadataPool, 2);
    assert.deepEqual(
      m?.status?.instances?.map((i) => i.id),
      ['4100'],
    );
    // kstatus: neither Reconciling nor Stalled while Ready=True.
    assert.equal(condition(m?.status?.conditions, 'Stalled'), undefined);
    assert.equal(condition(m?.status?.conditions, 'Reconciling'), undefined);
    assert.equal(h.cluster.fs('cephfs').mirrorEnabled, true);
    assert.ok(h.runtimes.get(key));
    const events = await h.eventsOf('m');
    assert.deepEqual(
      events.map((e) => e.reason),
      ['MirroringEnabled'],
    );
  });

  it('a second reconcile with nothing new writes nothing', async () => {
    const key = await running();
    const writes = (): number => h.kube.requests.filter((r) => r.method !== 'GET').length;
    const before = writes();
    await h.mirrors.reconcile(key);
    assert.equal(writes(), before);
  });

  it('SecretNotFound: Ready=False, Stalled, a Warning Event, and nothing sent to Ceph', async () => {
    const key = await h.mirror('m');
    await h.mirrors.reconcile(key);
    const m = h.getMirror(key);
    assert.equal(ready(m?.status?.conditions)?.reason, 'SecretNotFound');
    assert.equal(ready(m?.status?.conditions)?.status, 'False');
    assert.equal(condition(m?.status?.conditions, 'Stalled')?.status, 'True');
    assert.equal(m?.status?.state, 'Error');
    assert.ok(m?.metadata.finalizers?.includes(FINALIZER));
    assert.deepEqual(h.cluster.commands, []);
    assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'SecretNotFound'));
  });

  it('SecretInvalid names the missing keys', async () => {
    await h.secret('ceph-a', { mon_host: h.cluster.monHost });
    const key = await h.mirror('m');
    await h.mirrors.reconcile(key);
    const r = ready(h.getMirror(key)?.status?.conditions);
    assert.equal(r?.reason, 'SecretInvalid');
    assert.match(r?.message ?? '', /lacks key/);
  });

  it('FilesystemNotFound and FsidMismatch are settled failures: rechecked later, not retried hot', async () => {
    await h.clusterSecret();
    const a = await h.mirror('a', { filesystem: 'nope' });
    assert.deepEqual(await h.mirrors.reconcile(a), { requeueAfterMs: 30_000 });
    assert.equal(ready(h.getMirror(a)?.status?.conditions)?.reason, 'FilesystemNotFound');
    const b = await h.mirror('b', {
      cluster: { secretRef: { name: 'ceph-a' }, fsid: 'b1c0ffee-0000-4000-8000-000000000000' },
    });
    assert.deepEqual(await h.mirrors.reconcile(b), { requeueAfterMs: 30_000 });
    const r = ready(h.getMirror(b)?.status?.conditions);
    assert.equal(r?.reason, 'FsidMismatch');
    assert.match(r?.message ?? '', new RegExp(h.cluster.fsid));
    assert.equal(h.cluster.fs('cephfs').mirrorEnabled, false);
  });

  it('unreachable monitors: Ready=False CephUnreachable and the reconcile fails (retried)', async () => {
    await h.clusterSecret();
    h.cluster.reachable = false;
    const key = await h.mirror('m');
    await assert.rejects(h.mirrors.reconcile(key), /CephUnreachable/);
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.reason, 'CephUnreachable');
    assert.equal(condition(h.getMirror(key)?.status?.conditions, 'Reconciling')?.status, 'True');
  });

  it('MgrModuleEnabled without takeover: nothing is enabled in Ceph', async () => {
    await h.clusterSecret();
    h.cluster.mgrModules.add('mirroring');
    const key = await h.mirror('m');
    assert.deepEqual(await h.mirrors.reconcile(key), { requeueAfterMs: 10_000 });
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.reason, 'MgrModuleEnabled');
    assert.equal(h.cluster.fs('cephfs').mirrorEnabled, false);
    assert.equal(h.runtimes.get(key), undefined);
    assert.equal(h.runtimes.whyNotRunning(key)?.reason, 'MgrModuleEnabled');
  });

  it('takeOverFromMgrModule disables the module and says so', async () => {
    await h.clusterSecret();
    h.cluster.mgrModules.add('mirroring');
    const key = await h.mirror('m', { takeOverFromMgrModule: true });
    await h.mirrors.reconcile(key);
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.status, 'True');
    assert.equal(h.cluster.mgrModules.has('mirroring'), false);
    assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'MgrModuleDisabled'));
  });

  it('the mgr module enabled behind a running engine stops it (checked at most every 5 s)', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const key = await running();
    h.cluster.mgrModules.add('mirroring');
    await h.mirrors.reconcile(key);
    assert.ok(h.runtimes.get(key), 'not looked at again within 5 s');
    mock.timers.tick(6000);
    await h.mirrors.reconcile(key);
    assert.equal(h.runtimes.get(key), undefined);
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.reason, 'MgrModuleEnabled');
  });

  it('with takeover, the mgr module enabled again is disabled again by a fresh engine (MgrModuleReenabled)', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const key = await running({ takeOverFromMgrModule: true });
    const first = h.runtimes.get(key)?.engine;
    h.cluster.mgrModules.add('mirroring');
    mock.timers.tick(6000);
    await h.mirrors.reconcile(key);
    assert.equal(h.cluster.mgrModules.has('mirroring'), false);
    assert.ok(h.runtimes.get(key));
    assert.notEqual(h.runtimes.get(key)?.engine, first);
    const reasons = (await h.eventsOf('m')).map((e) => e.reason);
    assert.ok(reasons.includes('MgrModuleReenabled'));
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.status, 'True');
  });

  it('DisabledOutOfBand: reported as seen, enabled again, dependents enqueued', async () => {
    const key = await running();
    const dir = await h.directory('d', '/a');
    const peer = await h.peer('p', { bootstrapTokenSecretRef: { name: 'tok' } });
    h.takeEnqueued();
    h.cluster.fs('cephfs').mirrorEnabled = false;
    assert.deepEqual(await h.mirrors.reconcile(key), { requeueAfterMs: 2000 });
    const m = h.getMirror(key);
    assert.equal(ready(m?.status?.conditions)?.reason, 'DisabledOutOfBand');
    assert.equal(condition(m?.status?.conditions, 'MirroringEnabled')?.status, 'False');
    assert.equal(h.cluster.fs('cephfs').mirrorEnabled, true);
    assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'DriftCorrected'));
    const enqueued = h.takeEnqueued();
    assert.deepEqual(enqueued.peer, [peer]);
    assert.deepEqual(enqueued.directory, [dir]);
    await h.mirrors.reconcile(key);
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.status, 'True');
  });

  it('NoMirrorDaemons: directories and no live daemon is never Ready', async () => {
    await h.clusterSecret();
    const key = await h.mirror('m');
    await h.mirrors.reconcile(key);
    const d = await h.directory('d', '/a');
    await h.directories.reconcile(d);
    await h.ceph.run(2);
    await h.mirrors.reconcile(key);
    const m = h.getMirror(key);
    assert.equal(ready(m?.status?.conditions)?.reason, 'NoMirrorDaemons');
    assert.equal(condition(m?.status?.conditions, 'Degraded')?.status, 'True');
    assert.equal(condition(m?.status?.conditions, 'Stalled')?.status, 'True');
    assert.equal(m?.status?.directories?.total, 1);
  });

  it('DaemonJoined and DaemonLost Events follow the daemons between refreshes', async () => {
    const key = await running();
    await h.cluster.fs('cephfs').addDaemon('4200');
    await h.mirrors.reconcile(key);
    assert.deepEqual(
      h.getMirror(key)?.status?.instances?.map((i) => i.id),
      ['4100', '4200'],
    );
    await h.cluster.fs('cephfs').removeDaemon('4200');
    await h.ceph.run(2);
    await h.mirrors.reconcile(key);
    const reasons = (await h.eventsOf('m')).map((e) => e.reason);
    assert.ok(reasons.includes('DaemonJoined'));
    assert.ok(reasons.includes('DaemonLost'));
    assert.deepEqual(
      h.getMirror(key)?.status?.instances?.map((i) => i.id),
      ['4100'],
    );
  });

  it('DaemonsNotAnswering: the last daemons going at once are held back, said in Ready and an Event', async () => {
    const key = await running();
    const fs = h.cluster.fs('cephfs');
    await fs.addDaemon('4200');
    const d = await h.directory('d', '/a');
    await h.settleDirectories([d]);
    await Promise.all([fs.removeDaemon('4100'), fs.removeDaemon('4200')]);
    await h.ceph.run(2);
    await h.mirrors.reconcile(key);
    const r = ready(h.getMirror(key)?.status?.conditions);
    assert.equal(r?.reason, 'DaemonsNotAnswering');
    assert.equal(condition(h.getMirror(key)?.status?.conditions, 'Reconciling')?.status, 'True');
    assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'DaemonsNotAnswering'));
    // Held back: the directory keeps its daemon rather than failing over to none.
    assert.notEqual(fs.store.dirMap.get('/a')?.instanceId ?? '', '');
  });

  it('SecretUnreadable: a Secret the API refuses (403) is said in Ready and retried', async () => {
    await h.clusterSecret();
    h.kube.hooks.push((req) => {
      if (req.method === 'GET' && req.path.endsWith('/secrets/ceph-a')) {
        throw new KubeApiError(
          403,
          {
            kind: 'Status',
            message: 'secrets "ceph-a" is forbidden',
            reason: 'Forbidden',
            code: 403,
          },
          'GET',
          req.path,
        );
      }
    });
    const key = await h.mirror('m');
    await assert.rejects(h.mirrors.reconcile(key), (e) => (e as KubeApiError).code === 403);
    const r = ready(h.getMirror(key)?.status?.conditions);
    assert.equal(r?.reason, 'SecretUnreadable');
    assert.match(r?.message ?? '', /HTTP 403: secrets "ceph-a" is forbidden/);
    assert.equal(h.cluster.open, 0);
  });

  it('KubernetesApiError: an Adopt refused by the API is said in Ready and retried', async () => {
    h.cluster
      .fs('cephfs')
      .store.dirMap.set('/stray', { version: 1, instanceId: '', lastShuffled: 0 });
    h.kube.hooks.push((req) => {
      if (req.method === 'POST' && req.path.endsWith('/mirroreddirectories')) {
        throw new KubeApiError(
          403,
          { kind: 'Status', message: 'create is forbidden', code: 403 },
          'POST',
          req.path,
        );
      }
    });
    await h.clusterSecret();
    const key = await h.mirror('m', { unmanagedDirectories: 'Adopt' });
    await assert.rejects(h.mirrors.reconcile(key));
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.reason, 'KubernetesApiError');
  });

  it('an engine that stops by itself is reported, its dependents enqueued, restarted after a backoff', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const key = await running();
    const dir = await h.directory('d', '/a');
    h.takeEnqueued();
    const first = h.cluster.fs('cephfs').running();
    first?.fail('LockLost', 'the RADOS lock was broken');
    await h.eventsOf('m');
    assert.equal(h.runtimes.get(key), undefined);
    const enqueued = h.takeEnqueued();
    assert.deepEqual(enqueued.mirror, [key]);
    assert.deepEqual(enqueued.directory, [dir]);
    assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'LockLost'));
    const result = await h.mirrors.reconcile(key);
    assert.ok(result && result.requeueAfterMs !== undefined && result.requeueAfterMs <= 5000);
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.reason, 'LockLost');
    assert.equal(h.runtimes.get(key), undefined, 'no restart within the backoff');
    mock.timers.tick(5001);
    await h.mirrors.reconcile(key);
    assert.ok(h.runtimes.get(key));
    assert.notEqual(h.cluster.fs('cephfs').running(), first);
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.status, 'True');
  });

  it('FilesystemLockedByOther (another operator process) is retried every 15 s', async () => {
    await h.clusterSecret();
    h.cluster.fs('cephfs').lockedByOther = 'other-pod';
    const key = await h.mirror('m');
    assert.deepEqual(await h.mirrors.reconcile(key), { requeueAfterMs: 15_000 });
    assert.equal(ready(h.getMirror(key)?.status?.conditions)?.reason, 'FilesystemLockedByOther');
  });

  it('FilesystemOwnedByOther: the younger mirror changes nothing and says who drives it', async () => {
    const key = await running();
    const other = await h.mirror('m2');
    const commands = h.cluster.commands.length;
    assert.deepEqual(await h.mirrors.reconcile(other), { requeueAfterMs: 30_000 });
    const m2 = h.getMirror(other);
    assert.equal(m2?.status?.state, 'Refused');
    assert.equal(ready(m2?.status?.conditions)?.reason, 'FilesystemOwnedByOther');
    assert.match(ready(m2?.status?.conditions)?.message ?? '', new RegExp(key));
    assert.equal(condition(m2?.status?.conditions, 'MirroringEnabled')?.status, 'Unknown');
    assert.equal(h.runtimes.get(other), undefined);
    // Resolving its identity reads the FSMap; nothing else is sent.
    assert.deepEqual(
      h.cluster.commands.slice(commands).filter((c) => c !== 'mon:fs dump'),
      [],
    );
    assert.ok(h.runtimes.get(key), "the owner's engine keeps running");
  });

  it('policy tunables change in place; a connection change restarts the engine', async () => {
    const key = await running();
    const engine = h.runtimes.get(key)?.engine;
    await h.kube.edit<{ spec: { policy?: object } }>(KINDS.mirror, NS, 'm', (m) => {
      m.spec.policy = { shuffleThrottleSeconds: 60 };
    });
    await h.mirrors.reconcile(key);
    assert.equal(h.runtimes.get(key)?.engine, engine);
    await h.kube.edit<{ spec: { cluster: { fsid?: string } } }>(KINDS.mirror, NS, 'm', (m) => {
      m.spec.cluster.fsid = h.cluster.fsid;
    });
    await h.mirrors.reconcile(key);
    assert.ok(h.runtimes.get(key));
    assert.notEqual(h.runtimes.get(key)?.engine, engine);
    assert.equal(h.getMirror(key)?.status?.observedGeneration, 3);
  });

  it('publishes the bootstrap token Secret, owned by the mirror', async () => {
    const key = await running({ bootstrapTokenSecret: { name: 'token-a', siteName: 'site-a' } });
    const secret = h.kube.get<V1Secret>('secrets', NS, 'token-a');
    assert.ok(secret?.data?.token);
    const token = decodeBootstrapToken(
      Buffer.from(secret.data.token, 'base64').toString('utf8').trim(),
    );
    assert.equal(token.fsid, h.cluster.fsid);
    assert.equal(token.siteName, 'site-a');
    assert.equal(token.monHost, h.cluster.monHost);
    assert.equal(secret.metadata?.ownerReferences?.[0]?.name, 'm');
    assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'BootstrapTokenPublished'));
    assert.ok(h.getMirror(key));
  });

  describe('a token Secret that exists already', () => {
    const EARLIER: V1OwnerReference = {
      apiVersion: 'mirror.cephfs.io/v1alpha1',
      kind: 'CephFSMirror',
      name: 'm',
      uid: 'uid-of-a-deleted-m',
    };
    const OLD = Buffer.from('old').toString('base64');

    async function seedAndReconcile(ownerReferences: V1OwnerReference[]): Promise<string> {
      await h.kube.create('secrets', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'token-a', namespace: NS, ownerReferences },
        data: { token: OLD },
      });
      await h.clusterSecret();
      await h.cluster.fs('cephfs').addDaemon('4100');
      const key = await h.mirror('m', { bootstrapTokenSecret: { name: 'token-a' } });
      await h.mirrors.reconcile(key);
      return key;
    }

    it('written by an earlier mirror of the same name: waited for until collected, then ours', async () => {
      const key = await seedAndReconcile([EARLIER]);
      const conditions = h.getMirror(key)?.status?.conditions;
      assert.equal(ready(conditions)?.reason, 'WaitingForGarbageCollection');
      assert.notEqual(condition(conditions, 'Stalled')?.status, 'True', 'not a refusal');
      assert.equal(condition(conditions, 'Reconciling')?.status, 'True');
      assert.equal(h.kube.get<V1Secret>('secrets', NS, 'token-a')?.data?.token, OLD);
      // The garbage collector deletes it: the next reconcile writes this mirror's own token.
      await h.kube.delete('secrets', NS, 'token-a');
      await h.mirrors.reconcile(key);
      assert.equal(ready(h.getMirror(key)?.status?.conditions)?.status, 'True');
      const mine = h.kube.get<V1Secret>('secrets', NS, 'token-a');
      assert.equal(mine?.metadata?.ownerReferences?.[0]?.uid, h.getMirror(key)?.metadata.uid);
      assert.notEqual(mine?.data?.token, OLD);
    });

    for (const [what, refs] of [
      ['owned by a mirror of another name', [{ ...EARLIER, name: 'other' }]],
      ['owned by another kind', [{ ...EARLIER, kind: 'Deployment', apiVersion: 'apps/v1' }]],
      ['with a second owner', [EARLIER, { ...EARLIER, name: 'other', uid: 'u2' }]],
      ['owned by nobody', []],
    ] as const) {
      it(`${what}: SecretNotOwned, unchanged`, async () => {
        const key = await seedAndReconcile([...refs]);
        const conditions = h.getMirror(key)?.status?.conditions;
        assert.equal(ready(conditions)?.reason, 'SecretNotOwned');
        assert.equal(condition(conditions, 'Stalled')?.status, 'True');
        assert.equal(h.kube.get<V1Secret>('secrets', NS, 'token-a')?.data?.token, OLD);
      });
    }
  });

  it('unmanagedDirectories Prune removes undeclared entries; Adopt creates objects for them', async () => {
    const fs = h.cluster.fs('cephfs');
    fs.store.dirMap.set('/stray', { version: 1, instanceId: '', lastShuffled: 0 });
    fs.store.dirMap.set('/kept', { version: 1, instanceId: '', lastShuffled: 0 });
    await h.directory('kept', '/kept');
    const key = await running({ unmanagedDirectories: 'Prune' });
    assert.equal(h.runtimes.get(key)?.engine.status('/stray')?.purging, true);
    assert.equal(h.runtimes.get(key)?.engine.status('/kept')?.purging ?? false, false);
    assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'Pruned'));

    const h2 = new ControllerHarness();
    try {
      h2.cluster.fs('cephfs').store.dirMap.set('/stray', {
        version: 1,
        instanceId: '',
        lastShuffled: 0,
      });
      await h2.clusterSecret();
      const k2 = await h2.mirror('m', { unmanagedDirectories: 'Adopt' });
      await h2.mirrors.reconcile(k2);
      const adopted = h2.kube.get<MirroredDirectory>(
        KINDS.directory,
        NS,
        adoptedName('m', '/stray'),
      );
      assert.equal(adopted?.spec.path, '/stray');
      assert.equal(adopted?.metadata.labels?.['mirror.cephfs.io/adopted'], 'true');
      assert.ok((await h2.eventsOf('m')).some((e) => e.reason === 'Adopted'));
    } finally {
      await h2.close();
    }
  });

  it('a 409 on the status write is retried on a fresh read, keeping the other writer’s change', async () => {
    await h.clusterSecret();
    const key = await h.mirror('m');
    h.kube.interleaveOnce('PUT', '/cephfsmirrors/m/status', (obj) => {
      obj.metadata.labels = { touched: 'by-someone-else' };
    });
    await h.mirrors.reconcile(key);
    const statusPuts = h.kube.requests.filter(
      (r) => r.method === 'PUT' && r.path.endsWith('/m/status'),
    );
    assert.equal(statusPuts.length, 2, 'one refused with 409, one after a fresh GET');
    const m = h.getMirror(key);
    assert.equal(m?.metadata.labels?.touched, 'by-someone-else');
    assert.equal(ready(m?.status?.conditions)?.status, 'True');
  });

  describe('deletion', () => {
    it('waits for its dependents, then disables mirroring before the finalizer goes', async () => {
      const key = await running();
      const d = await h.directory('d', '/a');
      await h.settleDirectories([d]);
      await h.kube.delete(KINDS.mirror, NS, 'm');
      assert.deepEqual(await h.mirrors.reconcile(key), { requeueAfterMs: 2000 });
      assert.equal(ready(h.getMirror(key)?.status?.conditions)?.reason, 'WaitingForDependents');
      assert.equal(h.cluster.fs('cephfs').mirrorEnabled, true);

      await h.kube.delete(KINDS.directory, NS, 'd');
      await h.finalizeDirectory(d);
      assert.equal(h.getDirectory(d), undefined, 'the directory is released and gone');
      await h.mirrors.reconcile(key);
      assert.equal(h.getMirror(key), undefined);
      assert.equal(h.cluster.fs('cephfs').mirrorEnabled, false);
      assert.equal(h.runtimes.get(key), undefined);
      assert.equal(h.cluster.open, 0, 'every connection is shut down');
      assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'MirroringDisabled'));
    });

    it('a refused mirror goes without changing anything in Ceph', async () => {
      const key = await running();
      const other = await h.mirror('m2');
      await h.mirrors.reconcile(other);
      await h.kube.delete(KINDS.mirror, NS, 'm2');
      await h.mirrors.reconcile(other);
      assert.equal(h.getMirror(other), undefined);
      assert.equal(h.cluster.fs('cephfs').mirrorEnabled, true);
      assert.ok(h.runtimes.get(key));
      assert.ok((await h.eventsOf('m2')).some((e) => e.reason === 'DeletedWithoutChanges'));
    });

    it('the owner deleted while another mirror names the filesystem hands it over', async () => {
      const key = await running();
      const other = await h.mirror('m2');
      await h.mirrors.reconcile(other);
      h.takeEnqueued();
      await h.kube.delete(KINDS.mirror, NS, 'm');
      await h.mirrors.reconcile(key);
      assert.equal(h.getMirror(key), undefined);
      assert.equal(h.cluster.fs('cephfs').mirrorEnabled, true, 'left enabled for the next owner');
      assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'OwnershipHandedOver'));
      assert.deepEqual(h.takeEnqueued().mirror, [other]);
      await h.mirrors.reconcile(other);
      assert.equal(ready(h.getMirror(other)?.status?.conditions)?.status, 'True');
    });

    it('without its Secret, mirroring is left enabled and said so', async () => {
      const key = await h.mirror('m');
      await h.mirrors.reconcile(key);
      await h.kube.delete(KINDS.mirror, NS, 'm');
      await h.mirrors.reconcile(key);
      assert.equal(h.getMirror(key), undefined);
      assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'MirroringLeftEnabled'));
    });

    it('after an operator restart with the mgr module back, mirroring is left to it', async () => {
      const key = await running();
      // A fresh process: no engine, and the module is enabled meanwhile.
      await h.runtimes.forget(key);
      h.cluster.mgrModules.add('mirroring');
      await h.kube.delete(KINDS.mirror, NS, 'm');
      await h.mirrors.reconcile(key);
      assert.equal(h.getMirror(key), undefined);
      assert.equal(h.cluster.fs('cephfs').mirrorEnabled, true);
      assert.ok((await h.eventsOf('m')).some((e) => e.reason === 'MirroringLeftToMgrModule'));
    });
  });
});
