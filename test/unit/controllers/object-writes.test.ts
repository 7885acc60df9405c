// object-writes.ts (status and finalizer writes with conflict retries), status-helpers.ts and the
// dependents helpers of context.ts, against the in-memory API server (test/support/fake-kube.ts),
// whose apiserver behaviour is checked here first: the other in-process tests rely on it.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { KubeApiError } from '../../../src/kube/kube-http.js';
import { isConflict, isNotFound } from '../../../src/kube/kube-api.js';
import {
  ensureFinalizer,
  isBeingDeleted,
  removeFinalizer,
  writeStatus,
} from '../../../src/kube/object-writes.js';
import {
  notReadyStatus,
  problemOf,
  readyCondition,
} from '../../../src/controllers/status-helpers.js';
import { TypedCache, directoryKeysOf, mirrorKeyOf } from '../../../src/controllers/context.js';
import { cephOpError } from '../../../src/ceph/errors.js';
import { DirectoryError } from '../../../src/reconcile/index.js';
import {
  FINALIZER,
  KINDS,
  type CephFSMirror,
  type CephFSMirrorStatus,
  type MirroredDirectory,
} from '../../../src/api/resources.js';
import { FakeKube } from '../../support/fake-kube.js';

const NS = 'ns';

function mirror(name: string): CephFSMirror {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'CephFSMirror',
    metadata: { name, namespace: NS },
    spec: { cluster: { secretRef: { name: 's' } }, filesystem: 'cephfs' },
  };
}

function directory(name: string, mirrorName: string, namespace = NS): MirroredDirectory {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'MirroredDirectory',
    metadata: { name, namespace },
    spec: { mirrorRef: { name: mirrorName }, path: `/${name}` },
  };
}

describe('the fake API server behaves as the apiserver where the controllers rely on it', () => {
  it('create sets uid, generation 1, resourceVersion, creation order; drops status', async () => {
    const kube = new FakeKube();
    const a = await kube.create(KINDS.mirror, { ...mirror('a'), status: { state: 'x' } });
    const b = await kube.create(KINDS.mirror, mirror('b'));
    assert.equal(a.metadata.generation, 1);
    assert.ok(a.metadata.uid && a.metadata.uid !== b.metadata.uid);
    assert.equal(a.status, undefined);
    assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
    assert.ok(String(a.metadata.creationTimestamp) < String(b.metadata.creationTimestamp));
    await assert.rejects(kube.create(KINDS.mirror, mirror('a')), (e) => {
      assert.ok(e instanceof KubeApiError);
      assert.equal(e.code, 409);
      assert.equal((e.body as { reason: string }).reason, 'AlreadyExists');
      return true;
    });
  });

  it('PUT with a stale resourceVersion is 409 Conflict with a metav1.Status body', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const a = await kube.create(KINDS.mirror, mirror('a'));
    await api.replace(KINDS.mirror, { ...a, metadata: { ...a.metadata, labels: { x: '1' } } });
    await assert.rejects(api.replace(KINDS.mirror, a), (e) => {
      assert.ok(isConflict(e));
      assert.equal(
        (e as KubeApiError).body && (e as { body: { kind: string } }).body.kind,
        'Status',
      );
      return true;
    });
    await assert.rejects(api.replaceStatus(KINDS.mirror, a), (e) => isConflict(e));
  });

  it('status goes only through /status; generation moves only with the spec', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const a = await kube.create(KINDS.mirror, mirror('a'));
    const withStatus = await api.replaceStatus(KINDS.mirror, { ...a, status: { state: 'S' } });
    assert.equal(withStatus.status?.state, 'S');
    assert.equal(withStatus.metadata.generation, 1);
    // A main-resource PUT cannot change status, and a label is not the spec.
    const relabelled = await api.replace(KINDS.mirror, {
      ...withStatus,
      metadata: { ...withStatus.metadata, labels: { a: 'b' } },
      status: { state: 'other' },
    });
    assert.equal(relabelled.status?.state, 'S');
    assert.equal(relabelled.metadata.generation, 1);
    const edited = await api.replace(KINDS.mirror, {
      ...relabelled,
      spec: { ...relabelled.spec, filesystem: 'other' },
    });
    assert.equal(edited.metadata.generation, 2);
    // A /status PUT cannot change the spec.
    const s = await api.replaceStatus(KINDS.mirror, {
      ...edited,
      spec: { ...edited.spec, filesystem: 'x' },
      status: { state: 'T' },
    });
    assert.equal(s.spec.filesystem, 'other');
    assert.equal(s.metadata.generation, 2);
  });

  it('DELETE waits for finalizers; none may be added after; the last removal deletes', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const created = await kube.create(KINDS.mirror, mirror('a'));
    const a = await ensureFinalizer(api, KINDS.mirror, created);
    assert.ok(a);
    await kube.delete(KINDS.mirror, NS, 'a');
    const deleting = await api.get<CephFSMirror>(KINDS.mirror, NS, 'a');
    assert.ok(deleting && isBeingDeleted(deleting));
    await assert.rejects(
      api.replace(KINDS.mirror, {
        ...deleting,
        metadata: { ...deleting.metadata, finalizers: [FINALIZER, 'other/x'] },
      }),
      (e) => (e as KubeApiError).code === 422,
    );
    await removeFinalizer(api, KINDS.mirror, deleting);
    assert.equal(await api.get(KINDS.mirror, NS, 'a'), undefined);
    await assert.rejects(api.replaceStatus(KINDS.mirror, deleting), (e) => isNotFound(e));
  });

  it('LIST pages with limit and continue, across namespaces', async () => {
    const kube = new FakeKube();
    for (let i = 0; i < 5; i++) await kube.create(KINDS.directory, directory(`d${i}`, 'm'));
    await kube.create(KINDS.directory, directory('x', 'm', 'other'));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const q = `?limit=2${token ? `&continue=${encodeURIComponent(token)}` : ''}`;
      const page = await kube.request<{
        items: MirroredDirectory[];
        metadata: { continue?: string; resourceVersion: string };
      }>('GET', `${kube.collectionPath(KINDS.directory)}${q}`);
      assert.ok(page.items.length <= 2);
      assert.ok(page.metadata.resourceVersion);
      seen.push(...page.items.map((d) => `${d.metadata.namespace}/${d.metadata.name}`));
      token = page.metadata.continue;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['ns/d0', 'ns/d1', 'ns/d2', 'ns/d3', 'ns/d4', 'other/x']);
    const inNs = await kube.api().list(KINDS.directory, NS);
    assert.equal(inNs.items.length, 5);
  });
});

describe('object-writes', () => {
  it('writeStatus writes once, not again when the status is the same', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const a = await kube.create(KINDS.mirror, mirror('a'));
    const status = { state: 'S', conditions: readyCondition(undefined, 1, true, 'Ok', 'fine') };
    assert.equal(await writeStatus(api, KINDS.mirror, a, status), true);
    const written = await api.get<CephFSMirror>(KINDS.mirror, NS, 'a');
    assert.ok(written);
    const puts = kube.requests.length;
    await writeStatus(api, KINDS.mirror, written, status);
    assert.equal(kube.requests.length, puts, 'no request for an unchanged status');
  });

  it('writeStatus derives kstatus: Stalled for a reason that needs a person', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const a = await kube.create(KINDS.mirror, mirror('a'));
    await writeStatus(
      api,
      KINDS.mirror,
      a,
      notReadyStatus(a, { reason: 'SecretNotFound', message: 'no Secret' }),
    );
    const s = (await api.get<CephFSMirror>(KINDS.mirror, NS, 'a'))?.status;
    assert.equal(s?.conditions?.find((c) => c.type === 'Stalled')?.status, 'True');
    assert.equal(
      s?.conditions?.find((c) => c.type === 'Reconciling'),
      undefined,
    );
    assert.equal(s?.observedGeneration, 1);
  });

  it('writeStatus after a 409 re-reads and writes on the fresh object', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const a = await kube.create(KINDS.mirror, mirror('a'));
    kube.interleaveOnce('PUT', '/cephfsmirrors/a/status', (o) => {
      o.metadata.labels = { other: 'writer' };
    });
    assert.equal(await writeStatus(api, KINDS.mirror, a, { state: 'S' }), true);
    const now = kube.get<CephFSMirror>(KINDS.mirror, NS, 'a');
    assert.equal(now?.status?.state, 'S');
    assert.equal(now?.metadata.labels?.other, 'writer');
    const methods = kube.requests.map(
      (r) => `${r.method} ${r.path.split('/').slice(-2).join('/')}`,
    );
    assert.deepEqual(methods.slice(-3), ['PUT a/status', 'GET cephfsmirrors/a', 'PUT a/status']);
  });

  it('writeStatus gives up after 5 conflicts in a row, having written nothing', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const a = await kube.create(KINDS.mirror, mirror('a'));
    let n = 0;
    kube.interleaveOnce(
      'PUT',
      '/cephfsmirrors/a/status',
      (o) => {
        o.metadata.labels = { n: String(n++) };
      },
      5,
    );
    await assert.rejects(writeStatus(api, KINDS.mirror, a, { state: 'S' }), /kept changing/);
    assert.equal(kube.get<CephFSMirror>(KINDS.mirror, NS, 'a')?.status, undefined);
  });

  it('ensureFinalizer adds ours once, keeps others, and retries a conflict', async () => {
    const kube = new FakeKube();
    const api = kube.api();
    const a = await kube.create(KINDS.mirror, {
      ...mirror('a'),
      metadata: { name: 'a', namespace: NS, finalizers: ['other/keep'] },
    });
    kube.interleaveOnce('PUT', '/cephfsmirrors/a', (o) => {
      o.metadata.annotations = { touched: 'yes' };
    });
    const b = await ensureFinalizer(api, KINDS.mirror, a);
    assert.deepEqual(b?.metadata.finalizers, ['other/keep', FINALIZER]);
    const puts = kube.requests.filter((r) => r.method === 'PUT').length;
    await ensureFinalizer(api, KINDS.mirror, b as CephFSMirror);
    assert.equal(kube.requests.filter((r) => r.method === 'PUT').length, puts);
    await removeFinalizer(api, KINDS.mirror, b as CephFSMirror);
    assert.deepEqual(kube.get<CephFSMirror>(KINDS.mirror, NS, 'a')?.metadata.finalizers, [
      'other/keep',
    ]);
  });
});

describe('status-helpers', () => {
  it('problemOf gives precise reasons and never the whole error chain', () => {
    assert.deepEqual(problemOf(cephOpError('EPERM', 'no caps', 'PermissionDenied')), {
      reason: 'PermissionDenied',
      message: 'no caps',
    });
    assert.equal(
      problemOf(new DirectoryError('RelativePath', 'a', 'a should be absolute')).reason,
      'RelativePath',
    );
    const api = new KubeApiError(403, { message: 'forbidden' }, 'GET', '/x');
    assert.deepEqual(problemOf(api), {
      reason: 'KubernetesApiError',
      message: 'HTTP 403: forbidden',
    });
    const timedOut = Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
    assert.equal(problemOf(timedOut).reason, 'CephUnreachable');
    assert.equal(problemOf(Object.assign(new Error('x'), { code: 'EIO' })).reason, 'CephError');
    assert.equal(problemOf(new Error('x'), 'Fallback').reason, 'Fallback');
  });

  it('readyCondition keeps lastTransitionTime while the status stays', () => {
    const first = readyCondition(undefined, 1, false, 'A', 'a');
    const again = readyCondition(
      first.map((c) => ({ ...c, lastTransitionTime: '2020-01-01T00:00:00Z' })),
      2,
      false,
      'B',
      'b',
    );
    assert.equal(again[0]?.lastTransitionTime, '2020-01-01T00:00:00Z');
    assert.equal(again[0]?.reason, 'B');
    assert.equal(again[0]?.observedGeneration, 2);
    const flipped = readyCondition(again, 2, true, 'C', 'c');
    assert.notEqual(flipped[0]?.lastTransitionTime, '2020-01-01T00:00:00Z');
  });

  it('notReadyStatus keeps the rest of the status and sets observedGeneration', () => {
    const s = notReadyStatus<CephFSMirrorStatus>(
      { metadata: { generation: 4 }, status: { state: 'Mirroring', fscid: 3 } },
      { reason: 'R', message: 'm' },
    );
    assert.equal(s.state, 'Mirroring');
    assert.equal(s.fscid, 3);
    assert.equal(s.observedGeneration, 4);
    assert.equal(s.conditions?.[0]?.status, 'False');
  });
});

describe('context: dependents of a mirror', () => {
  it('directoryKeysOf lists exactly the directories naming the mirror, in its namespace', async () => {
    const kube = new FakeKube();
    const cache = new TypedCache<MirroredDirectory>(
      kube.watch(KINDS.directory.plural).asCachedWatch(),
    );
    await kube.create(KINDS.directory, directory('a', 'm'));
    await kube.create(KINDS.directory, directory('b', 'm'));
    await kube.create(KINDS.directory, directory('c', 'other'));
    await kube.create(KINDS.directory, directory('d', 'm', 'elsewhere'));
    assert.deepEqual(directoryKeysOf(cache, `${NS}/m`).sort(), ['ns/a', 'ns/b']);
    assert.deepEqual(directoryKeysOf(cache, 'elsewhere/m'), ['elsewhere/d']);
    assert.deepEqual(directoryKeysOf(cache, `${NS}/none`), []);
    await kube.delete(KINDS.directory, NS, 'a');
    assert.deepEqual(directoryKeysOf(cache, `${NS}/m`), ['ns/b']);
  });

  it('mirrorKeyOf is the mirror in the object’s own namespace', () => {
    assert.equal(mirrorKeyOf(directory('a', 'm', 'x')), 'x/m');
  });
});
