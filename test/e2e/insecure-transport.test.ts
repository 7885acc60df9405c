// The operator's Ceph connections refuse the unencrypted v1 protocol unless the resource allows
// it: a CephFSMirror whose Secret names only a v1 monitor, and a MirrorPeer whose remote does, get
// Ready=False InsecureMonHost before anything is sent and change nothing in Ceph;
// `allowInsecureV1: true` makes the same mirror Ready (librados bootstraps over v1, then its
// sessions are msgr2 secure, see test/integration/ceph-secure-connect.test.ts).
//
// Needs connectSecure (src/ceph/connect.ts) on the controllers' connections
// (mirror-runtimes.ts connectCluster, remote.ts connectRemote).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { CephFSMirror, MirrorPeer } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  conditionOf,
  isRunning,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl } from '../../lab/harness/kube.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';

const NS = 'e2e-transport';
let env: E2eEnv;
let operator: OperatorProcess;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: [] });
  operator = env.operator();
});

after(() => tearDownE2e(env));

function v1Only(site: 'a' | 'b'): string {
  // The lab's monitors listen for msgr1 on monPort + 1 (lab/ceph-cluster.ts).
  const info = env.lab.sites[site];
  return `v1:127.0.0.1:${info.monPort + 1}`;
}

function secret(name: string, data: Record<string, string>): object {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, stringData: data };
}

async function mirroringOn(site: 'a' | 'b'): Promise<boolean> {
  const rados = site === 'a' ? env.a : env.b;
  const fs = findFilesystem(await fetchFsMap(rados), env.lab.sites[site].fsName);
  return fs?.mirrorInfo.enabled === true;
}

const INSECURE = /monitor 1 is reachable only over the unencrypted v1 protocol.*allowInsecureV1/;

test('a CephFSMirror whose Secret names only a v1 monitor is refused; allowInsecureV1 admits it', async () => {
  const a = env.lab.sites.a;
  await applyObjects(env.kube, [
    secret('ceph-a-v1', { mon_host: v1Only('a'), client_id: 'admin', key: a.adminKey }),
    mirrorObject(NS, 'v1-only', 'a', { cluster: { secretRef: { name: 'ceph-a-v1' } } }),
  ]);
  const refused = await waitForReady<CephFSMirror>(env.kube, NS, 'cephfsmirror/v1-only', {
    status: 'False',
    reason: 'InsecureMonHost',
  });
  assert.match(conditionOf(refused)?.message ?? '', INSECURE);
  assert.ok(!(conditionOf(refused)?.message ?? '').includes(String(a.monPort + 1)));
  assert.equal(await mirroringOn('a'), false, 'nothing changed in Ceph');

  await kubectl(env.kube, [
    '-n',
    NS,
    'patch',
    'cephfsmirror/v1-only',
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { cluster: { allowInsecureV1: true } } }),
  ]);
  await waitForReady(env.kube, NS, 'cephfsmirror/v1-only', { status: 'True' }, 90_000);
  assert.equal(await mirroringOn('a'), true);
  await kubectl(env.kube, ['-n', NS, 'delete', 'cephfsmirror/v1-only', '--timeout=120s']);
  assert.equal(await mirroringOn('a'), false);
});

test('a MirrorPeer whose remote names only a v1 monitor is refused before connecting', async () => {
  const b = env.lab.sites.b;
  await applyObjects(env.kube, [
    mirrorObject(NS, 'site-a', 'a'),
    secret('site-b-key', { key: b.adminKey }),
    {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'v1-remote', namespace: NS },
      spec: {
        mirrorRef: { name: 'site-a' },
        remote: {
          clientName: 'client.admin',
          siteName: 'site-b',
          fsName: b.fsName,
          monHost: v1Only('b'),
          keySecretRef: { name: 'site-b-key' },
        },
      },
    },
  ]);
  await waitForReady(env.kube, NS, 'cephfsmirror/site-a', { status: 'True' }, 90_000);
  const refused = await waitForReady<MirrorPeer>(env.kube, NS, 'mirrorpeer/v1-remote', {
    status: 'False',
    reason: 'InsecureMonHost',
  });
  assert.match(conditionOf(refused)?.message ?? '', INSECURE);
  const fs = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  assert.deepEqual(Object.keys(fs?.mirrorInfo.peers ?? {}), [], 'no peer added');
  assert.ok(isRunning(operator));
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
