// The operator's Kubernetes client (src/kube/kube-api.ts over kube-http.ts) against a real
// kube-apiserver: the verbs the reconcilers use, the error answers they rely on (404, 409, 401),
// MicroTime on Leases, and many concurrent status writes over the one keep-alive agent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/kube/kube-config.js';
import {
  KubeApi,
  OWNED_SECRET_LABELS,
  SecretNotOwnedError,
  describeApiError,
  httpStatusOf,
  isConflict,
  secretValue,
} from '../../src/kube/kube-api.js';
import { listAllPages, type PageFetcher } from '../../src/kube/pagination.js';
import { microTime } from '../../src/kube/leader-election.js';
import { GROUP, KINDS, VERSION, type MirroredDirectory } from '../../src/api/resources.js';
import { kubectl, useKube, type KubeHandle } from '../../lab/harness/kube.js';

const NS = 'e2e-kube-api';
let kube: KubeHandle;
let api: KubeApi;

function directory(name: string, path: string): MirroredDirectory {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KINDS.directory.kind,
    metadata: { name, namespace: NS },
    spec: { mirrorRef: { name: 'nowhere' }, path },
  };
}

before(async () => {
  kube = await useKube();
  await kubectl(
    kube,
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }),
  );
  api = new KubeApi(loadKubeConfig(kube.kubeconfigPath));
});

after(async () => {
  api?.close();
  // Gone before the next file's operator starts (it would take up these objects, which name a
  // mirror that does not exist). The namespace stays, empty: the lab runs no controller-manager,
  // so a deleted namespace would never finish terminating.
  if (!kube) return;
  await kubectl(kube, ['-n', NS, 'delete', 'mirroreddirectories', '--all', '--wait=true']);
  await kubectl(kube, ['-n', NS, 'delete', 'secret,lease', '--all', '--wait=true']);
});

test('custom objects: create, get, list, replace; a missing one reads as undefined', async () => {
  const created = await api.create(KINDS.directory, directory('one', '/one'));
  assert.ok(created.metadata.uid);
  const read = await api.get<MirroredDirectory>(KINDS.directory, NS, 'one');
  assert.equal(read?.spec.path, '/one');
  assert.equal(await api.get(KINDS.directory, NS, 'absent'), undefined);
  const listed = await api.list<MirroredDirectory>(KINDS.directory, NS);
  assert.deepEqual(
    listed.items.map((d) => d.metadata.name),
    ['one'],
  );
  assert.ok(listed.metadata?.resourceVersion);
  const all = await api.list<MirroredDirectory>(KINDS.directory);
  assert.ok(all.items.some((d) => d.metadata.namespace === NS && d.metadata.name === 'one'));

  assert.ok(read);
  read.metadata.labels = { touched: 'yes' };
  const replaced = await api.replace(KINDS.directory, read);
  assert.equal(replaced.metadata.labels?.['touched'], 'yes');
});

test('a write based on an old resourceVersion is refused with 409 and a readable message', async () => {
  const current = await api.get<MirroredDirectory>(KINDS.directory, NS, 'one');
  assert.ok(current);
  await api.replaceStatus(KINDS.directory, { ...current, status: { instanceID: 'first' } });
  const stale = { ...current, status: { instanceID: 'second' } };
  await assert.rejects(api.replaceStatus(KINDS.directory, stale), (e: unknown) => {
    assert.ok(isConflict(e));
    assert.match(describeApiError(e), /^HTTP 409: .*the object has been modified/);
    return true;
  });
  const after = await api.get<MirroredDirectory>(KINDS.directory, NS, 'one');
  assert.equal(after?.status?.instanceID, 'first');
});

test('the API server refusing the schema gives 422 with its message', async () => {
  await assert.rejects(api.create(KINDS.directory, directory('relative', 'no-slash')), (e) => {
    assert.equal(httpStatusOf(e), 422);
    assert.match(describeApiError(e), /spec\.path/);
    return true;
  });
});

test('a wrong token is refused with 401 (after one re-read of the credentials)', async () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'lab', server: kube.url, caFile: kube.caPath }],
    users: [{ name: 'nobody', token: 'not-a-token' }],
    contexts: [{ name: 'lab', cluster: 'lab', user: 'nobody' }],
    currentContext: 'lab',
  });
  const stranger = new KubeApi(kc);
  try {
    await assert.rejects(stranger.list(KINDS.directory, NS), (e) => httpStatusOf(e) === 401);
  } finally {
    stranger.close();
  }
});

test('300 status writes, 50 at a time, over the shared keep-alive connections all succeed', async () => {
  const names = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
  await Promise.all(names.map((n, i) => api.create(KINDS.directory, directory(n, `/burst/${i}`))));
  for (let round = 0; round < 6; round++) {
    await Promise.all(
      names.map(async (n) => {
        const d = await api.get<MirroredDirectory>(KINDS.directory, NS, n);
        assert.ok(d);
        await api.replaceStatus(KINDS.directory, {
          ...d,
          status: { instanceID: `round-${round}` },
        });
      }),
    );
  }
  const listed = await api.list<MirroredDirectory>(KINDS.directory, NS);
  const states = listed.items.filter((d) => d.metadata.name.startsWith('burst-'));
  assert.equal(states.length, 50);
  assert.ok(states.every((d) => d.status?.instanceID === 'round-5'));
});

test('lists are paginated: small pages of the real apiserver add up to the whole list', async () => {
  const paths: string[] = [];
  const fetchPage: PageFetcher = (path) => {
    paths.push(path);
    return api.http.request('GET', path);
  };
  const path = `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${KINDS.directory.plural}`;
  const paged = await listAllPages<MirroredDirectory>(fetchPage, path, 7);
  const whole = await api.list<MirroredDirectory>(KINDS.directory, NS);
  assert.ok(whole.items.length > 14, `${whole.items.length} objects`);
  assert.equal(paths.length, Math.ceil(whole.items.length / 7));
  assert.ok(paths.every((p) => p.includes('limit=7')));
  assert.ok(paths.slice(1).every((p) => p.includes('continue=')));
  assert.deepEqual(
    paged.items.map((d) => d.metadata.name),
    whole.items.map((d) => d.metadata.name),
  );
  assert.ok(paged.metadata?.resourceVersion);
});

test('Secrets: upsert creates with an owner, updates only on change; values decode', async () => {
  const owner = await api.get<MirroredDirectory>(KINDS.directory, NS, 'one');
  assert.ok(owner?.metadata.uid);
  const ref = {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
  };
  await api.upsertSecret(NS, 'token', { token: 'v1' }, ref);
  const first = await api.getSecret(NS, 'token');
  assert.equal(secretValue(first, 'token'), 'v1');
  assert.equal(first?.metadata?.ownerReferences?.[0]?.uid, owner.metadata.uid);
  await api.upsertSecret(NS, 'token', { token: 'v1' }, ref);
  const unchanged = await api.getSecret(NS, 'token');
  assert.equal(unchanged?.metadata?.resourceVersion, first?.metadata?.resourceVersion);
  await api.upsertSecret(NS, 'token', { token: 'v2' }, ref);
  const second = await api.getSecret(NS, 'token');
  assert.equal(secretValue(second, 'token'), 'v2');
  assert.equal(second?.type, 'Opaque');
  assert.deepEqual(second?.metadata?.labels, OWNED_SECRET_LABELS);
  assert.equal(await api.getSecret(NS, 'absent'), undefined);
});

test('Secrets: upsert refuses a Secret it does not own and leaves it byte-identical', async () => {
  const owner = await api.get<MirroredDirectory>(KINDS.directory, NS, 'one');
  assert.ok(owner?.metadata.uid);
  const ref = {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid,
  };
  await kubectl(
    kube,
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'foreign', namespace: NS },
      type: 'kubernetes.io/basic-auth',
      stringData: { username: 'u', password: 'p' },
    }),
  );
  const before = await api.getSecret(NS, 'foreign');
  await assert.rejects(
    api.upsertSecret(NS, 'foreign', { token: 'x' }, ref),
    (e) => e instanceof SecretNotOwnedError && /Secret foreign .*not owned/.test(e.message),
  );
  // Owned by another object (another uid): not ours either.
  await assert.rejects(
    api.upsertSecret(NS, 'token', { token: 'v3' }, { ...ref, uid: 'another-uid' }),
    (e) => e instanceof SecretNotOwnedError,
  );
  assert.deepEqual(await api.getSecret(NS, 'foreign'), before);
  assert.equal(secretValue(await api.getSecret(NS, 'token'), 'token'), 'v2');
});

test('Leases: MicroTime accepted, a stale replace refused with 409', async () => {
  const now = Date.now();
  const created = await api.createLease({
    metadata: { name: 'lock', namespace: NS },
    spec: { holderIdentity: 'me', leaseDurationSeconds: 15, renewTime: microTime(now) },
  });
  assert.equal(created.spec?.renewTime, microTime(now));
  const renewed = await api.replaceLease({
    ...created,
    spec: { ...created.spec, renewTime: microTime(now + 1000) },
  });
  assert.equal(renewed.spec?.renewTime, microTime(now + 1000));
  await assert.rejects(api.replaceLease(created), (e) => isConflict(e));
  assert.equal(await api.getLease(NS, 'absent'), undefined);
});

test('Events are accepted', async () => {
  await api.createEvent(NS, {
    metadata: { generateName: 'one.', namespace: NS },
    involvedObject: { kind: KINDS.directory.kind, name: 'one', namespace: NS },
    type: 'Normal',
    reason: 'Tested',
    message: 'an event from the kube-api test',
    firstTimestamp: new Date(),
    lastTimestamp: new Date(),
    count: 1,
  });
  const out = await kubectl(kube, ['-n', NS, 'get', 'events', '-o', 'name']);
  assert.match(out, /event\/one\./);
});
