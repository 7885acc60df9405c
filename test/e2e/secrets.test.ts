// Secrets without an informer on Secrets (src/kube/secret-reader.ts), against the real
// apiserver and lab: a bootstrapTokenSecret name taken by a Secret the operator did not create
// gives Ready=False SecretNotOwned and leaves that Secret byte-identical, and the token is written
// once it is gone; a MirrorPeer whose token Secret is created after it (nothing else reconciles
// it) is picked up by the Secret resync; a connection Secret edited to lose its client_id is
// refused (no default user), and fixed again, within a reconcile.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { monCommand, monCommandJson } from '../../src/ceph/mon.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import { waitFor } from '../../lab/harness/wait.js';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForEvent,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';

const NS = 'e2e-secrets';
/** Short, so the resync's part is seen within the test; the default is 10 s. */
const RESYNC_SECONDS = 3;
const TOKEN_SECRET = 'site-b-bootstrap';
const LATE_SECRET = 'late-token';
/** A user of the bootstrap name pattern that exists with caps wider than a peer's. */
const WIDE_USER = 'client.mirror_secrets_wide';

let env: E2eEnv;

interface SecretObject {
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; uid: string }>;
  };
  type?: string;
  data?: Record<string, string>;
}

function getSecret(name: string): Promise<SecretObject> {
  return kubectlJson<SecretObject>(env.kube, ['-n', NS, 'get', 'secret', name]);
}

before(async () => {
  env = await setUpE2e({ namespace: NS });
  env.operator(['--secret-resync-seconds', String(RESYNC_SECONDS)]);
});

after(async () => {
  if (env) await monCommand(env.b, { prefix: 'auth rm', entity: WIDE_USER });
  await tearDownE2e(env);
});

test('a bootstrapTokenSecret name taken by a foreign Secret: SecretNotOwned, the Secret untouched', async () => {
  // Someone else's Secret of the name the spec asks for (another type, other keys).
  await applyObjects(env.kube, [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: TOKEN_SECRET, namespace: NS, labels: { owner: 'someone-else' } },
      type: 'kubernetes.io/basic-auth',
      stringData: { username: 'u', password: 'p' },
    },
  ]);
  const before = await getSecret(TOKEN_SECRET);
  await applyObjects(env.kube, [
    mirrorObject(NS, 'site-b', 'b', {
      bootstrapTokenSecret: {
        name: TOKEN_SECRET,
        clientName: 'client.mirror_secrets_e2e',
        siteName: 'site-b',
      },
    }),
  ]);
  const refused = await waitForReady(
    env.kube,
    NS,
    'cephfsmirror/site-b',
    { status: 'False', reason: 'SecretNotOwned' },
    90_000,
  );
  const ready = refused.status?.conditions?.find((c) => c.type === 'Ready');
  assert.match(ready?.message ?? '', new RegExp(`Secret ${TOKEN_SECRET} exists and is not owned`));
  const stalled = refused.status?.conditions?.find((c) => c.type === 'Stalled');
  assert.equal(stalled?.status, 'True', 'kstatus: Stalled (a person has to act)');
  await waitForEvent(env.kube, NS, {
    kind: 'CephFSMirror',
    name: 'site-b',
    reason: 'SecretNotOwned',
  });
  // Another refresh later, still untouched: the same object, resourceVersion and all.
  await new Promise((r) => setTimeout(r, (RESYNC_SECONDS + 1) * 1000));
  assert.deepEqual(await getSecret(TOKEN_SECRET), before, 'byte-identical');

  // Gone: the operator creates its own (Opaque, labelled, owned) and the mirror is Ready.
  await kubectl(env.kube, ['-n', NS, 'delete', 'secret', TOKEN_SECRET]);
  await waitForReady(env.kube, NS, 'cephfsmirror/site-b', { status: 'True' }, 90_000);
  const ours = await waitFor(
    'the token Secret written by the operator',
    async () => {
      const s = await getSecret(TOKEN_SECRET).catch(() => undefined);
      return s?.data?.['token'] ? s : undefined;
    },
    30_000,
    500,
  );
  assert.equal(ours.type, 'Opaque');
  assert.equal(ours.metadata.labels?.['app.kubernetes.io/managed-by'], 'cephfs-mirror-operator');
  const mirror = await kubectlJson<{ metadata: { uid: string } }>(env.kube, [
    '-n',
    NS,
    'get',
    'cephfsmirror',
    'site-b',
  ]);
  assert.equal(ours.metadata.ownerReferences?.[0]?.uid, mirror.metadata.uid);
});

test('a MirrorPeer whose token Secret is created after it is picked up by the resync', async () => {
  await applyObjects(env.kube, [
    mirrorObject(NS, 'site-a', 'a'),
    {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'site-b', namespace: NS },
      spec: { mirrorRef: { name: 'site-a' }, bootstrapTokenSecretRef: { name: LATE_SECRET } },
    },
  ]);
  await waitForReady(
    env.kube,
    NS,
    'mirrorpeer/site-b',
    { status: 'False', reason: 'SecretNotFound' },
    90_000,
  );
  // Nothing but the Secret resync makes the peer reconcile again: it failed, with no retry.
  const token = Buffer.from((await getSecret(TOKEN_SECRET)).data?.['token'] ?? '', 'base64');
  assert.ok(token.length > 0);
  await applyObjects(env.kube, [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: LATE_SECRET, namespace: NS },
      stringData: { token: token.toString('utf8') },
    },
  ]);
  await waitForReady(env.kube, NS, 'mirrorpeer/site-b', { status: 'True' }, 90_000);
});

test('a connection Secret without client_id is refused (no default user), then fixed', async () => {
  const site = env.lab.sites.a;
  await waitForReady(env.kube, NS, 'cephfsmirror/site-a', { status: 'True' }, 90_000);
  const secret = await getSecret('ceph-site-a');
  const { client_id: _dropped, ...data } = secret.data ?? {};
  await kubectl(
    env.kube,
    ['replace', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'ceph-site-a', namespace: NS },
      data,
    }),
  );
  const refused = await waitForReady(
    env.kube,
    NS,
    'cephfsmirror/site-a',
    { status: 'False', reason: 'SecretInvalid' },
    60_000,
  );
  assert.match(
    refused.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
    /Secret ceph-site-a lacks client_id/,
  );
  await kubectl(env.kube, ['apply', '-f', '-'], connectionSecretYaml('ceph-site-a', NS, site));
  await waitForReady(env.kube, NS, 'cephfsmirror/site-a', { status: 'True' }, 90_000);
});

test('a bootstrap client that exists with other caps: ClientCapsMismatch, its key not published', async () => {
  await monCommand(env.b, {
    prefix: 'auth get-or-create',
    entity: WIDE_USER,
    caps: ['mon', 'allow r', 'mds', 'allow rwps', 'osd', 'allow rw'],
  });
  const [wide] = await monCommandJson<Array<{ key: string }>>(env.b, {
    prefix: 'auth get',
    entity: WIDE_USER,
    format: 'json',
  });
  const before = await getSecret(TOKEN_SECRET);
  const patch = (clientName: string): Promise<string> =>
    kubectl(env.kube, [
      '-n',
      NS,
      'patch',
      'cephfsmirror',
      'site-b',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { bootstrapTokenSecret: { clientName } } }),
    ]);
  await patch(WIDE_USER);
  const refused = await waitForReady(
    env.kube,
    NS,
    'cephfsmirror/site-b',
    { status: 'False', reason: 'ClientCapsMismatch' },
    60_000,
  );
  const message = refused.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
  assert.match(message, /Ceph user client\.mirror_secrets_wide exists with caps other than/);
  assert.ok(wide && !message.includes(wide.key), 'the key is in no message');
  assert.deepEqual(await getSecret(TOKEN_SECRET), before, 'the token Secret is unchanged');
  await patch('client.mirror_secrets_e2e');
  await waitForReady(env.kube, NS, 'cephfsmirror/site-b', { status: 'True' }, 60_000);
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
