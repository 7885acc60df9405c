// Invalid specs on a real kube-apiserver against the real lab: each one is refused (by the API
// server's schema, or with Ready=False and a precise reason and message), the operator keeps
// running, and fixing the spec, or creating what was missing, makes the object Ready. No secret
// (admin keys, bootstrap tokens, the key inside a token) shows up in logs, events or status.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import { decodeBootstrapToken } from '../../src/ceph/bootstrap-token.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { CephFSMirror, MirroredDirectory, MirrorPeer } from '../../src/api/resources.js';
import {
  API_VERSION,
  applyObjects,
  conditionOf,
  directoryObject,
  isRunning,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';

const NS = 'e2e-invalid';
const MIRROR = 'site-a';
let env: E2eEnv;
let operator: OperatorProcess;
/** Every secret the operator has seen in this file; none may leak. */
const secrets: string[] = [];

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-invalid'] });
  secrets.push(env.lab.sites.a.adminKey, env.lab.sites.b.adminKey);
  for (const site of [env.lab.sites.a, env.lab.sites.b]) {
    if (site.operatorKey) secrets.push(site.operatorKey);
  }
  // The operator tracks a path once it exists on the source (SourceDirectoryMissing before).
  await createSourceDirs(env.a, env.lab.sites.a.fsName, [
    '/inv/early',
    '/inv/norm/x',
    '/inv/dup',
    '/ovl/tree/leaf',
  ]);
  // The Secrets this file creates part-way, in case an earlier run on the same lab left them.
  await kubectl(env.kube, [
    '-n',
    NS,
    'delete',
    'secret',
    'ceph-a-later',
    'site-b-token',
    '--ignore-not-found',
  ]);
  operator = env.operator();
});

after(() => tearDownE2e(env));

function dir(name: string, path: string, mirror = MIRROR): object {
  return directoryObject(NS, name, mirror, path);
}

async function deleteObject(object: string): Promise<void> {
  await kubectl(env.kube, ['-n', NS, 'delete', object, '--wait=true', '--timeout=120s']);
}

/** Ready=False with exactly this reason, and (for directories) Invalid=True with it too. */
async function expectInvalid(name: string, reason: string, message: RegExp): Promise<void> {
  const d = await waitForReady<MirroredDirectory>(env.kube, NS, `mirroreddirectory/${name}`, {
    status: 'False',
    reason,
  });
  assert.match(conditionOf(d)?.message ?? '', message);
  const invalid = conditionOf(d, 'Invalid');
  assert.equal(invalid?.status, 'True');
  assert.equal(invalid?.reason, reason);
}

function readyDir(name: string, timeoutMs = 60_000): Promise<MirroredDirectory> {
  return waitForReady<MirroredDirectory>(
    env.kube,
    NS,
    `mirroreddirectory/${name}`,
    { status: 'True', reason: 'Mirrored' },
    timeoutMs,
  );
}

test('a relative path is refused by the API server with a clear message', async () => {
  await assert.rejects(
    applyObjects(env.kube, [dir('relative', 'projects/x')]),
    (e: Error) => /spec\.path/.test(e.message) && /should match '\^\(\//.test(e.message),
  );
});

test('a missing mirror (MirrorNotFound), then its missing Secret (SecretNotFound), then Ready', async () => {
  await applyObjects(env.kube, [dir('early', '/inv/early')]);
  const d = await waitForReady<MirroredDirectory>(env.kube, NS, 'mirroreddirectory/early', {
    status: 'False',
    reason: 'MirrorNotFound',
  });
  assert.equal(conditionOf(d)?.message, `CephFSMirror ${MIRROR} does not exist`);

  // The mirror names a Secret that does not exist yet.
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a', { cluster: { secretRef: { name: 'ceph-a-later' } } }),
  ]);
  const m = await waitForReady<CephFSMirror>(env.kube, NS, `cephfsmirror/${MIRROR}`, {
    status: 'False',
    reason: 'SecretNotFound',
  });
  assert.equal(conditionOf(m)?.message, 'Secret ceph-a-later does not exist');
  await waitForReady(env.kube, NS, 'mirroreddirectory/early', {
    status: 'False',
    reason: 'MirrorNotReady',
  });

  await kubectl(
    env.kube,
    ['apply', '-f', '-'],
    connectionSecretYaml('ceph-a-later', NS, env.lab.sites.a),
  );
  await waitForReady(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  const ready = await readyDir('early', 90_000);
  assert.equal(ready.status?.state, 'Associated');
  assert.equal(conditionOf(ready, 'Invalid')?.status, 'False');
});

test('a path with "..", "." and repeated slashes is normalised', async () => {
  await applyObjects(env.kube, [dir('normalised', '/inv//tmp/../norm/./x/')]);
  const d = await readyDir('normalised');
  assert.equal(d.status?.path, '/inv/norm/x');
  const m = await kubectlJson<CephFSMirror>(env.kube, ['-n', NS, 'get', `cephfsmirror/${MIRROR}`]);
  const map = await loadDirMap(env.a, m.status?.metadataPool as number);
  const paths = map.directories.map(([p]) => p);
  assert.ok(paths.includes('/inv/norm/x'), `dir map has the normalised path: ${paths.join(' ')}`);
  assert.ok(!paths.some((p) => p.includes('..') || p.includes('//')));
});

test('the same path twice (DuplicatePath): the older object owns it; deleting it hands over', async () => {
  await applyObjects(env.kube, [dir('dup-1', '/inv/dup')]);
  await readyDir('dup-1');
  await applyObjects(env.kube, [dir('dup-2', '/inv/./dup/')]);
  await expectInvalid(
    'dup-2',
    'DuplicatePath',
    /^\/inv\/dup is already declared by MirroredDirectory dup-1$/,
  );
  await deleteObject('mirroreddirectory/dup-1');
  const d = await readyDir('dup-2');
  assert.equal(d.status?.path, '/inv/dup');
});

test('a subtree of a tracked directory (SubtreeOfTracked), Ready once the other goes', async () => {
  await applyObjects(env.kube, [dir('tree', '/ovl/tree')]);
  await readyDir('tree');
  await applyObjects(env.kube, [dir('leaf', '/ovl/tree/leaf')]);
  await expectInvalid(
    'leaf',
    'SubtreeOfTracked',
    /^\/ovl\/tree\/leaf is a subtree of tracked path \/ovl\/tree$/,
  );
  await deleteObject('mirroreddirectory/tree');
  await readyDir('leaf');
});

test('an ancestor of a tracked directory (AncestorOfTracked), Ready once the other goes', async () => {
  await applyObjects(env.kube, [dir('ovl', '/ovl')]);
  await expectInvalid(
    'ovl',
    'AncestorOfTracked',
    /^\/ovl is an ancestor of tracked path \/ovl\/tree\/leaf$/,
  );
  await deleteObject('mirroreddirectory/leaf');
  await readyDir('ovl');
});

test('a peer: missing token Secret, then a malformed token, then a good one', async () => {
  const token = await createBootstrapToken(
    env.b,
    env.lab.sites.b.fsName,
    'client.mirror_remote',
    'site-b',
  );
  const decoded = decodeBootstrapToken(token);
  // Malformed: every field present, the real key inside, but the fsid is not a UUID.
  const bad = Buffer.from(
    JSON.stringify({
      fsid: 'not-a-uuid',
      filesystem: decoded.filesystem,
      user: decoded.user,
      site_name: decoded.siteName,
      key: decoded.key,
      mon_host: decoded.monHost,
    }),
  ).toString('base64');
  secrets.push(token, decoded.key, bad);

  await applyObjects(env.kube, [
    {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'site-b', namespace: NS },
      spec: { mirrorRef: { name: MIRROR }, bootstrapTokenSecretRef: { name: 'site-b-token' } },
    },
  ]);
  const missing = await waitForReady<MirrorPeer>(env.kube, NS, 'mirrorpeer/site-b', {
    status: 'False',
    reason: 'SecretNotFound',
  });
  assert.equal(conditionOf(missing)?.message, 'Secret site-b-token does not exist');

  const secret = (value: string): object => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'site-b-token', namespace: NS },
    stringData: { token: value },
  });
  await applyObjects(env.kube, [secret(bad)]);
  const malformed = await waitForReady<MirrorPeer>(env.kube, NS, 'mirrorpeer/site-b', {
    status: 'False',
    reason: 'InvalidBootstrapToken',
  });
  assert.equal(conditionOf(malformed)?.message, 'invalid bootstrap token: fsid is not a UUID');
  assert.equal(malformed.status?.peerUUID, undefined);

  await applyObjects(env.kube, [secret(token)]);
  const peer = await waitForReady<MirrorPeer>(
    env.kube,
    NS,
    'mirrorpeer/site-b',
    { status: 'True' },
    90_000,
  );
  const fs = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  assert.deepEqual(Object.keys(fs?.mirrorInfo.peers ?? {}), [peer.status?.peerUUID]);
  assert.equal(peer.status?.remote?.siteName, 'site-b');
});

test('warnings are recorded as Events; the operator never restarted', async () => {
  const events = await kubectlJson<{ items: Array<{ type?: string; reason?: string }> }>(env.kube, [
    '-n',
    NS,
    'get',
    'events',
  ]);
  const warnings = new Set(
    events.items.filter((e) => e.type === 'Warning').map((e) => e.reason ?? ''),
  );
  for (const reason of [
    'SecretNotFound',
    'DuplicatePath',
    'SubtreeOfTracked',
    'AncestorOfTracked',
    'InvalidBootstrapToken',
  ]) {
    assert.ok(warnings.has(reason), `a Warning event ${reason} (got ${[...warnings].join(', ')})`);
  }
  assert.equal(env.operators.length, 1);
  assert.ok(isRunning(operator), 'the operator process is still up');
});

test('no key or token appears in the operator log, Events or any status', async () => {
  const sources: Array<[string, string]> = [
    ['operator log', readFileSync(operator.logPath, 'utf8')],
    ['events', await kubectl(env.kube, ['-n', NS, 'get', 'events', '-o', 'json'])],
    [
      'objects',
      await kubectl(env.kube, [
        '-n',
        NS,
        'get',
        'cephfsmirrors,mirrorpeers,mirroreddirectories',
        '-o',
        'json',
      ]),
    ],
  ];
  for (const [where, text] of sources) {
    for (const s of secrets) {
      assert.ok(s.length >= 20, 'a secret worth looking for');
      assert.ok(!text.includes(s), `a secret (${s.slice(0, 4)}…) appears in the ${where}`);
    }
  }
});
