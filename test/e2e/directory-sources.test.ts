// MirroredDirectory sources other than a path, on a real kube-apiserver, the real lab and a real
// cephfs-mirror daemon: a subvolume created with `ceph fs subvolume create` mirrored by name (a
// file written into it reaches site-b in a snapshot); the subvolume removed → SourceNotFound and
// its dir-map entry released. A PersistentVolumeClaim bound to a static ceph-csi CephFS PV (made
// in the apiserver: no CSI driver or PV controller runs here) mirrored by claim name; the PV
// deleted → SourceNotFound; the claim re-bound to another PV → the new path; a PV of another
// driver refused (UnsupportedVolumeDriver).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { ceph } from '../../lab/ceph-cluster.js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import type { CephFSMirror, MirroredDirectory } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  tokenPeerObjects,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-dir-sources';
const MIRROR = 'site-a';
const SUBVOLUME = 'e2e-sources-sv';
const STATIC = ['/e2e-sources/static-1', '/e2e-sources/static-2'];
let env: E2eEnv;
let fsA: CephFS;
let fsB: CephFS;
let metadataPool: number;
let subvolumePath = '';

function cephA(args: string[]): Promise<string> {
  return ceph(env.lab.sites.a.confPath, args);
}

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-sources'] });
  fsA = await CephFS.mount({ confPath: env.lab.sites.a.confPath, fsName: 'a', timeoutMs: 20_000 });
  fsB = await CephFS.mount({ confPath: env.lab.sites.b.confPath, fsName: 'b', timeoutMs: 20_000 });
  for (const p of STATIC) await fsA.mkdirs(p);
  env.operator();
  const token = await createBootstrapToken(env.b, 'b', 'client.mirror_remote', 'site-b');
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a'),
    ...tokenPeerObjects(NS, MIRROR, token),
  ]);
  const m = await waitForReady<CephFSMirror>(
    env.kube,
    NS,
    `cephfsmirror/${MIRROR}`,
    { status: 'True' },
    90_000,
  );
  metadataPool = m.status?.metadataPool as number;
  await waitForReady(env.kube, NS, 'mirrorpeer/site-b', { status: 'True' }, 90_000);
});

after(async () => {
  try {
    await tearDownE2e(env);
  } finally {
    for (const pvc of ['data', 'block']) {
      await kubectl(env.kube, [
        '-n',
        NS,
        'patch',
        `pvc/${pvc}`,
        '--type',
        'merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]).catch(() => undefined);
      await kubectl(env.kube, ['-n', NS, 'delete', `pvc/${pvc}`, '--ignore-not-found']);
    }
    for (const pv of ['e2e-sources-pv1', 'e2e-sources-pv2', 'e2e-sources-rbd']) {
      await kubectl(env.kube, [
        'patch',
        `pv/${pv}`,
        '--type',
        'merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]).catch(() => undefined);
      await kubectl(env.kube, ['delete', `pv/${pv}`, '--ignore-not-found', '--wait=false']);
    }
    await cephA(['fs', 'subvolume', 'snapshot', 'rm', 'a', SUBVOLUME, 'first']).catch(() => 0);
    await cephA(['fs', 'subvolume', 'rm', 'a', SUBVOLUME]).catch(() => undefined);
    for (const p of [...STATIC].reverse()) await fsA.rmdir(p).catch(() => undefined);
    await fsA.rmdir('/e2e-sources').catch(() => undefined);
    await fsA?.close();
    await fsB?.close();
  }
});

function directory(name: string, source: Record<string, unknown>): object {
  return {
    apiVersion: API_VERSION,
    kind: 'MirroredDirectory',
    metadata: { name, namespace: NS },
    spec: { mirrorRef: { name: MIRROR }, ...source },
  };
}

function staticPv(name: string, rootPath: string, claim: string, driver = 'cephfs.csi.ceph.com') {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteMany'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      claimRef: { namespace: NS, name: claim },
      csi: {
        driver,
        volumeHandle: name,
        volumeAttributes: { clusterID: 'site-a', fsName: 'a', staticVolume: 'true', rootPath },
      },
    },
  };
}

function claim(name: string, volumeName: string): object {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: NS },
    spec: {
      accessModes: ['ReadWriteMany'],
      storageClassName: '',
      volumeName,
      resources: { requests: { storage: '1Gi' } },
    },
  };
}

async function mapPaths(): Promise<string[]> {
  return (await loadDirMap(env.a, metadataPool)).directories.map(([p]) => p).sort();
}

function dirState(name: string, expect: { status: 'True' | 'False'; reason: string }) {
  return waitForReady<MirroredDirectory>(env.kube, NS, `mirroreddirectory/${name}`, expect, 90_000);
}

test('a subvolume by name: its base directory mirrored, a file reaches site-b in a snapshot; removed → SourceNotFound and released', async () => {
  await cephA(['fs', 'subvolume', 'create', 'a', SUBVOLUME]);
  const dataPath = (await cephA(['fs', 'subvolume', 'getpath', 'a', SUBVOLUME])).trim();
  const uuid = dataPath.slice(dataPath.lastIndexOf('/') + 1);
  subvolumePath = `/volumes/_nogroup/${SUBVOLUME}`;
  assert.equal(dataPath, `${subvolumePath}/${uuid}`);
  await fsA.writeFile(`${dataPath}/data.txt`, 'subvolume data\n');
  await applyObjects(env.kube, [directory('sv', { subvolume: { name: SUBVOLUME } })]);
  const d = await dirState('sv', { status: 'True', reason: 'Mirrored' });
  assert.equal(d.status?.path, subvolumePath);
  assert.equal(d.status?.source, `subvolume _nogroup/${SUBVOLUME}`);
  assert.ok((await mapPaths()).includes(subvolumePath));

  // A snapshot the way an administrator takes one of a subvolume.
  await cephA(['fs', 'subvolume', 'snapshot', 'create', 'a', SUBVOLUME, 'first']);
  await waitFor(
    'snapshot "first" of the subvolume on site-b',
    async () =>
      (await fsB.listSnaps(subvolumePath).catch((): string[] => [])).includes('first') || undefined,
    120_000,
  );
  assert.equal(
    (await fsB.readFile(`${subvolumePath}/.snap/first/${uuid}/data.txt`)).toString(),
    'subvolume data\n',
  );

  // The volumes module refuses to remove a subvolume with snapshots.
  await cephA(['fs', 'subvolume', 'snapshot', 'rm', 'a', SUBVOLUME, 'first']);
  await cephA(['fs', 'subvolume', 'rm', 'a', SUBVOLUME]);
  const gone = await dirState('sv', { status: 'False', reason: 'SourceNotFound' });
  assert.equal(gone.status?.path, undefined, 'no entry managed any more');
  await waitFor(
    'the subvolume path out of the dir map',
    async () => !(await mapPaths()).includes(subvolumePath) || undefined,
    60_000,
  );
});

test('a claim bound to a static ceph-csi CephFS PV: mirrored; PV deleted → SourceNotFound; re-bound → the new path; another driver refused', async () => {
  await applyObjects(env.kube, [
    staticPv('e2e-sources-pv1', STATIC[0] as string, 'data'),
    claim('data', 'e2e-sources-pv1'),
    directory('pvc', { persistentVolumeClaim: { name: 'data' } }),
  ]);
  const d = await dirState('pvc', { status: 'True', reason: 'Mirrored' });
  assert.equal(d.status?.path, STATIC[0]);
  assert.equal(d.status?.source, 'pvc data (pv e2e-sources-pv1)');

  await kubectl(env.kube, ['delete', 'pv/e2e-sources-pv1', '--wait=false']);
  await dirState('pvc', { status: 'False', reason: 'SourceNotFound' });
  await waitFor(
    'the PV path out of the dir map',
    async () => !(await mapPaths()).includes(STATIC[0] as string) || undefined,
    60_000,
  );

  // Re-bound: the claim deleted and made again for another volume.
  await kubectl(env.kube, ['-n', NS, 'delete', 'pvc/data', '--wait=false']);
  await kubectl(env.kube, [
    '-n',
    NS,
    'patch',
    'pvc/data',
    '--type',
    'merge',
    '-p',
    '{"metadata":{"finalizers":null}}',
  ]).catch(() => undefined);
  await waitFor(
    'the old claim gone',
    async () =>
      (await kubectl(env.kube, ['-n', NS, 'get', 'pvc', '-o', 'name'])).includes('pvc/data')
        ? undefined
        : true,
    30_000,
  );
  await applyObjects(env.kube, [
    staticPv('e2e-sources-pv2', STATIC[1] as string, 'data'),
    claim('data', 'e2e-sources-pv2'),
  ]);
  await waitFor(
    'the directory to follow the claim to the new volume',
    async () => {
      const obj = await kubectlJson<MirroredDirectory>(env.kube, [
        '-n',
        NS,
        'get',
        'mirroreddirectory/pvc',
      ]);
      const ready = obj.status?.conditions?.find((c) => c.type === 'Ready');
      return obj.status?.path === STATIC[1] && ready?.status === 'True' ? true : undefined;
    },
    90_000,
  );
  assert.ok((await mapPaths()).includes(STATIC[1] as string));

  await applyObjects(env.kube, [
    staticPv('e2e-sources-rbd', '/x', 'block', 'rbd.csi.ceph.com'),
    claim('block', 'e2e-sources-rbd'),
    directory('rbd', { persistentVolumeClaim: { name: 'block' } }),
  ]);
  const refused = await dirState('rbd', { status: 'False', reason: 'UnsupportedVolumeDriver' });
  assert.match(
    refused.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '',
    /rbd\.csi\.ceph\.com/,
  );
  await kubectl(env.kube, [
    '-n',
    NS,
    'delete',
    'mirroreddirectory/rbd',
    'pvc/block',
    '--wait=false',
  ]);
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
