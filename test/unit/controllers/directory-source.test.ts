import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import {
  CEPHFS_CSI_DRIVER,
  fromSubvolume,
  fromVolume,
  sourceKindOf,
  subvolumeRoot,
} from '../../../src/controllers/directory-source.js';
import { lagOf } from '../../../src/controllers/directory-reconciler.js';
import type { MirroredDirectory } from '../../../src/api/resources.js';

function dir(spec: Partial<MirroredDirectory['spec']>): MirroredDirectory {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'MirroredDirectory',
    metadata: { name: 'd', namespace: 'ns' },
    spec: { mirrorRef: { name: 'm' }, ...spec },
  };
}

const bound: V1PersistentVolumeClaim = {
  metadata: { name: 'c', namespace: 'ns' },
  spec: { volumeName: 'pv1' },
  status: { phase: 'Bound' },
};

function pv(driver: string, attrs: Record<string, string>): V1PersistentVolume {
  return {
    metadata: { name: 'pv1' },
    spec: { csi: { driver, volumeHandle: 'h', volumeAttributes: attrs } },
  };
}

test('exactly one source', () => {
  assert.equal(sourceKindOf(dir({ path: '/a' })), 'path');
  assert.equal(sourceKindOf(dir({ subvolume: { name: 'sv' } })), 'subvolume');
  assert.equal(
    sourceKindOf(dir({ persistentVolumeClaim: { name: 'c' } })),
    'persistentVolumeClaim',
  );
  const none = sourceKindOf(dir({}));
  assert.ok(typeof none !== 'string' && !none.ok && none.reason === 'InvalidSource');
  const two = sourceKindOf(dir({ path: '/a', subvolume: { name: 'sv' } }));
  assert.ok(typeof two !== 'string' && !two.ok && /path and subvolume/.test(two.message));
});

test('a subvolume: its path, gone, or not known', () => {
  assert.deepEqual(
    fromSubvolume('sv', undefined, { state: 'found', path: '/volumes/_nogroup/sv/uuid' }),
    {
      ok: true,
      path: '/volumes/_nogroup/sv',
      source: 'subvolume _nogroup/sv',
    },
    'the base directory, where the snapshots are',
  );
  assert.equal(subvolumeRoot('/volumes/g/sv'), '/volumes/g/sv', 'a v1 subvolume as it is');
  const gone = fromSubvolume('sv', 'g', { state: 'missing', message: 'no' });
  assert.ok(!gone.ok && gone.gone && gone.reason === 'SourceNotFound');
  const unknown = fromSubvolume('sv', 'g', { state: 'unknown', message: 'EACCES' });
  assert.ok(!unknown.ok && !unknown.gone && !unknown.invalid);
});

test('a claim: bound ceph-csi CephFS volumes only, on the mirror filesystem', () => {
  const gone = fromVolume('c', undefined, undefined, 'a');
  assert.ok('ok' in gone && !gone.ok && gone.reason === 'SourceNotFound' && gone.gone);
  const pending = fromVolume('c', { status: { phase: 'Pending' } }, undefined, 'a');
  assert.ok('ok' in pending && !pending.ok && pending.reason === 'ClaimNotBound');
  const unclaimed = fromVolume('c', { ...bound, status: {} }, pv(CEPHFS_CSI_DRIVER, {}), 'a');
  assert.ok('ok' in unclaimed && !unclaimed.ok && unclaimed.reason === 'ClaimNotBound');
  const claimRef = { name: 'c', namespace: 'ns' };
  const viaRef = pv(CEPHFS_CSI_DRIVER, { staticVolume: 'true', rootPath: '/s' });
  (viaRef.spec as { claimRef?: object }).claimRef = claimRef;
  assert.deepEqual(fromVolume('c', { ...bound, status: {} }, viaRef, 'a'), {
    ok: true,
    path: '/s',
    source: 'pvc c (pv pv1)',
  });
  const deleting = { ...viaRef, metadata: { name: 'pv1', deletionTimestamp: new Date() } };
  const d = fromVolume('c', bound, deleting, 'a');
  assert.ok('ok' in d && !d.ok && d.reason === 'SourceNotFound');
  const noPv = fromVolume('c', bound, undefined, 'a');
  assert.ok('ok' in noPv && !noPv.ok && noPv.reason === 'SourceNotFound');
  const rbd = fromVolume('c', bound, pv('rbd.csi.ceph.com', {}), 'a');
  assert.ok('ok' in rbd && !rbd.ok && rbd.reason === 'UnsupportedVolumeDriver' && rbd.invalid);
  const nfs = fromVolume('c', bound, { spec: { nfs: { server: 's', path: '/' } } }, 'a');
  assert.ok('ok' in nfs && !nfs.ok && nfs.reason === 'UnsupportedVolume');
  const otherFs = fromVolume(
    'c',
    bound,
    pv(CEPHFS_CSI_DRIVER, { fsName: 'b', rootPath: '/x', staticVolume: 'true' }),
    'a',
  );
  assert.ok('ok' in otherFs && !otherFs.ok && otherFs.reason === 'FilesystemMismatch');
  const stat = fromVolume(
    'c',
    bound,
    pv(CEPHFS_CSI_DRIVER, { fsName: 'a', staticVolume: 'true', rootPath: '/static//x/' }),
    'a',
  );
  assert.deepEqual(stat, { ok: true, path: '/static/x', source: 'pvc c (pv pv1)' });
  const dyn = fromVolume(
    'c',
    bound,
    pv(CEPHFS_CSI_DRIVER, {
      subvolumeName: 'csi-vol-1',
      subvolumePath: '/volumes/csi/csi-vol-1/u',
    }),
    'a',
  );
  assert.deepEqual(dyn, { ok: true, path: '/volumes/csi/csi-vol-1', source: 'pvc c (pv pv1)' });
  assert.deepEqual(
    fromVolume('c', bound, pv(CEPHFS_CSI_DRIVER, { subvolumeName: 'csi-vol-1' }), 'a'),
    { subvolume: 'csi-vol-1' },
  );
  const bare = fromVolume('c', bound, pv(CEPHFS_CSI_DRIVER, { clusterID: 'x' }), 'a');
  assert.ok('ok' in bare && !bare.ok && bare.reason === 'UnsupportedVolumeAttributes');
});

test('lag: the most lagging peer, unknown when a peer has none', () => {
  assert.deepEqual(lagOf([]), { unknown: false });
  assert.deepEqual(
    lagOf([
      { peerUUID: 'p1', lagSeconds: 3, lastSyncedSnapshot: 's3' },
      { peerUUID: 'p2', lagSeconds: 40, lastSyncedSnapshot: 's1' },
    ]),
    { maxLag: 40, lastSynced: 's1', unknown: false },
  );
  assert.deepEqual(lagOf([{ peerUUID: 'p1' }]), { unknown: true });
});
