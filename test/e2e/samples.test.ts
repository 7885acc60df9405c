// The samples on a real kube-apiserver against the real two-site lab, with the operator as it
// ships (the one-file bundle) in a child process and a real cephfs-mirror daemon: Ready
// everywhere, a snapshot crosses sites, and deleting each object undoes its effect in Ceph.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { Rados } from 'rados-js';
import { startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import { listPeerCredentialKeys } from '../../src/ceph/config-key.js';
import { RadosDirMapStore } from '../../src/ceph/dir-map-store.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { readMirrorInfo } from '../../src/ceph/mirror-info.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { CephFSMirror, MirroredDirectory, MirrorPeer } from '../../src/api/resources.js';
import {
  kubectl,
  kubectlJson,
  useKube,
  collectOrphanedSecrets,
  type KubeHandle,
} from '../../lab/harness/kube.js';
import { useLab, type LabState } from '../../lab/harness/lab.js';
import { startOperator, type OperatorProcess } from '../../lab/harness/operator.js';
import { waitFor } from '../../lab/harness/wait.js';
import { waitForReady } from '../support/e2e.js';

const NS = 'cephfs-mirror-demo';
let lab: LabState;
let kube: KubeHandle;
let operator: OperatorProcess;
let a: Rados;
let b: Rados;
let fsA: CephFS;
let fsB: CephFS;

before(async () => {
  [lab, kube] = await Promise.all([useLab(), useKube()]);
  a = await Rados.connect({ confPath: lab.sites.a.confPath, timeoutMs: 20_000 });
  b = await Rados.connect({ confPath: lab.sites.b.confPath, timeoutMs: 20_000 });
  fsA = await CephFS.mount({ rados: a, fsName: 'a' });
  fsB = await CephFS.mount({ rados: b, fsName: 'b' });
  await fsA.mkdirs('/projects');
  await fsA.writeFile('/projects/plan.txt', 'mirrored by the operator\n');
  await startMirrorDaemon(lab.sites.a, 'samples');
  await kubectl(kube, ['apply', '-f', 'deploy/samples/00-namespace.yaml']);
  const secrets = [lab.sites.a, lab.sites.b]
    .map((s) => connectionSecretYaml(`ceph-${s.name}`, NS, s))
    .join('---\n');
  await kubectl(kube, ['apply', '-f', '-'], secrets);
  // An earlier file's samples (same namespace, same lane) may have left their token Secret.
  await collectOrphanedSecrets(kube, NS);
  operator = startOperator(kube, [], {}, 'built');
});

after(async () => {
  await operator?.stop();
  await fsA?.rmsnap('/projects', 'first').catch(() => undefined);
  await stopMirrorDaemon(lab.sites.a, 'samples');
  await fsA?.close();
  await fsB?.close();
  await a?.shutdown();
  await b?.shutdown();
});

test('the samples become Ready and a snapshot reaches site-b', async () => {
  await kubectl(kube, [
    'apply',
    '-f',
    'deploy/samples/10-site-b.yaml',
    '-f',
    'deploy/samples/20-site-a.yaml',
  ]);
  for (const obj of [
    'cephfsmirror/site-b',
    'cephfsmirror/site-a',
    'mirrorpeer/site-b',
    'mirroreddirectory/projects',
  ]) {
    await waitForReady(kube, NS, obj, { status: 'True' }, 180_000);
  }
  const dir = await kubectlJson<MirroredDirectory>(kube, [
    '-n',
    NS,
    'get',
    'mirroreddirectory/projects',
  ]);
  const peer = await kubectlJson<MirrorPeer>(kube, ['-n', NS, 'get', 'mirrorpeer/site-b']);
  assert.equal(dir.status?.state, 'Associated');
  assert.ok(dir.status?.instanceID, 'the directory names its daemon instance');
  // The mirror's status follows engine changes within a couple of seconds.
  const mirror = await waitFor(
    'the mirror to list the daemon holding the directory',
    async () => {
      const m = await kubectlJson<CephFSMirror>(kube, ['-n', NS, 'get', 'cephfsmirror/site-a']);
      const ids = m.status?.instances?.map((i) => `${i.id}:${i.directories}`);
      return ids?.length === 1 && ids[0] === `${dir.status?.instanceID}:1` ? m : undefined;
    },
    15_000,
  );
  const metadataPool = mirror.status?.metadataPool;
  assert.equal(typeof metadataPool, 'number');
  const ioctx = await a.openIoCtx(metadataPool as number);
  const map = await new RadosDirMapStore(ioctx).load();
  await ioctx.close();
  const record = map.directories.find(([p]) => p === '/projects')?.[1];
  assert.equal(record?.instanceId, dir.status.instanceID, 'the dir map in RADOS agrees');

  const fsmap = await fetchFsMap(a);
  const peers = findFilesystem(fsmap, 'a')?.mirrorInfo.peers ?? {};
  assert.deepEqual(Object.keys(peers), [peer.status?.peerUUID]);
  assert.equal(peer.status?.remote?.siteName, 'site-b');

  // Removed again in after(), so the file can run twice on one lab.
  await fsA.mksnap('/projects', 'first');
  await waitFor(
    'snapshot "first" on site-b',
    async () => (await fsB.listSnaps('/projects')).includes('first'),
    120_000,
  );
  assert.equal(
    (await fsB.readFile('/projects/.snap/first/plan.txt')).toString(),
    'mirrored by the operator\n',
  );
});

test('deleting each object undoes it in Ceph before the object goes', async () => {
  const mirror = await kubectlJson<CephFSMirror>(kube, ['-n', NS, 'get', 'cephfsmirror/site-a']);
  const peer = await kubectlJson<MirrorPeer>(kube, ['-n', NS, 'get', 'mirrorpeer/site-b']);
  const uuid = peer.status?.peerUUID as string;
  const ioctx = await a.openIoCtx(mirror.status?.metadataPool as number);
  try {
    await kubectl(kube, [
      '-n',
      NS,
      'delete',
      'mirroreddirectory/projects',
      '--wait=true',
      '--timeout=120s',
    ]);
    const map = await new RadosDirMapStore(ioctx).load();
    assert.ok(
      !map.directories.some(([p]) => p === '/projects'),
      'dir-map key removed before the object went',
    );
  } finally {
    await ioctx.close();
  }

  await kubectl(kube, ['-n', NS, 'delete', 'mirrorpeer/site-b', '--wait=true', '--timeout=120s']);
  const fs = findFilesystem(await fetchFsMap(a), 'a');
  assert.deepEqual(Object.keys(fs?.mirrorInfo.peers ?? {}), [], 'peer gone from the FSMap');
  assert.ok(
    !(await listPeerCredentialKeys(a, 'a')).some((k) => k.endsWith(uuid)),
    'config-key removed',
  );
  assert.equal(await readMirrorInfo(fsB), undefined, 'claim on the remote root removed');

  await kubectl(kube, ['-n', NS, 'delete', 'cephfsmirror/site-a', '--wait=true', '--timeout=120s']);
  assert.equal(
    findFilesystem(await fetchFsMap(a), 'a')?.mirrorInfo.enabled,
    false,
    'mirroring disabled',
  );
  await kubectl(kube, ['-n', NS, 'delete', 'cephfsmirror/site-b', '--wait=true', '--timeout=120s']);
  assert.equal(findFilesystem(await fetchFsMap(b), 'b')?.mirrorInfo.enabled, false);
  // The token Secret goes with its owner through the garbage collector, which the lab lacks.
  await collectOrphanedSecrets(kube, NS);
});
