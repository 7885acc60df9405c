// The desired objects for spec.daemons: names, identities, mounts, command line, and that no key
// ever lands in an argument, an environment value or a label.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  ANNOTATION_KEYRING_HASH,
  ANNOTATION_SPEC_HASH,
  CONFIG_DIR,
  DEFAULT_DAEMON_IMAGE,
  LABEL_MIRROR_UID,
  MAX_DAEMONS,
  daemonCephConf,
  daemonDeployment,
  daemonIdentity,
  daemonIndexOf,
  daemonSecret,
  desiredIdentities,
  keyringText,
  namePrefix,
  ownedBy,
  secretName,
  type MirrorRef,
} from '../../../src/controllers/mirror-daemons.js';
import {
  authGetOrCreate,
  authRm,
  daemonUserAdminMonCaps,
} from '../../../src/ceph/mirror-daemon-users.js';
import { withDaemons } from '../../../src/controllers/mirror-daemon-sync.js';

const MIRROR: MirrorRef = {
  apiVersion: 'mirror.cephfs.io/v1alpha1',
  kind: 'CephFSMirror',
  name: 'site-a',
  namespace: 'ns1',
  uid: '3f2a9c1d-77aa-4b0e-9d1c-0123456789ab',
};
const KEY = 'AQDIyw9rA7G7NRAAsIjxXuwadne+UfaG/Zxu6A==';
const MON_HOST = '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]';

test('identities are deterministic per mirror uid and index, distinct between them', () => {
  const d0 = daemonIdentity(MIRROR, 0);
  assert.deepEqual(d0, {
    index: 0,
    clientId: 'cephfs-mirror.3f2a9c1d77aa.0',
    entity: 'client.cephfs-mirror.3f2a9c1d77aa.0',
    deployment: 'site-a-cephfs-mirror-0',
    keyringKey: 'client.cephfs-mirror.3f2a9c1d77aa.0.keyring',
  });
  const other = daemonIdentity({ ...MIRROR, uid: '99999999-0000-4000-8000-000000000000' }, 0);
  assert.notEqual(other.entity, d0.entity);
  assert.equal(desiredIdentities(MIRROR, 3).length, 3);
  assert.equal(desiredIdentities(MIRROR, 99).length, MAX_DAEMONS);
  assert.deepEqual(
    desiredIdentities(MIRROR, 2).map((d) => d.index),
    [0, 1],
  );
  // The entities are valid arguments for the users' mon commands.
  assert.equal(authGetOrCreate(d0.entity).entity, d0.entity);
  assert.equal(authRm(d0.entity).prefix, 'auth rm');
  assert.throws(() => authRm('client.admin'), /invalid mirror daemon user/);
});

test('long mirror names give DNS-label names of at most 63 characters, still distinct', () => {
  const long = 'x'.repeat(60);
  const a = daemonIdentity({ ...MIRROR, name: `${long}-a` }, 15);
  const b = daemonIdentity({ ...MIRROR, name: `${long}-b` }, 15);
  assert.ok(a.deployment.length <= 63, a.deployment);
  assert.notEqual(a.deployment, b.deployment);
  assert.ok(secretName({ ...MIRROR, name: `${long}-a` }).length <= 253);
  assert.match(a.deployment, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  assert.equal(namePrefix('short'), 'short');
  assert.equal(daemonIdentity({ ...MIRROR, name: 'a.b' }, 1).deployment, 'a-b-cephfs-mirror-1');
});

test('the Secret holds ceph.conf and one keyring per desired daemon, owned by the mirror', () => {
  const ids = desiredIdentities(MIRROR, 2);
  const keys = new Map([[ids[0]?.entity ?? '', KEY]]);
  const s = daemonSecret(MIRROR, MON_HOST, keys, ids);
  assert.equal(s.type, 'Opaque');
  assert.equal(s.metadata?.name, 'site-a-cephfs-mirror-keys-3f2a9c1d77aa');
  assert.equal(s.metadata?.labels?.[LABEL_MIRROR_UID], MIRROR.uid);
  assert.equal(s.metadata?.ownerReferences?.[0]?.uid, MIRROR.uid);
  assert.deepEqual(Object.keys(s.data ?? {}).sort(), ['ceph.conf', ids[0]?.keyringKey].sort());
  const keyring = Buffer.from(s.data?.[ids[0]?.keyringKey ?? ''] ?? '', 'base64').toString();
  assert.equal(keyring, keyringText(ids[0]?.entity ?? '', KEY));
  const conf = Buffer.from(s.data?.['ceph.conf'] ?? '', 'base64').toString();
  assert.equal(conf, daemonCephConf(MON_HOST));
  assert.match(conf, /^mon_host = \[v2:127\.0\.0\.1:3300,v1:127\.0\.0\.1:6789\]$/m);
  assert.match(conf, /^ms_mon_client_mode = secure$/m);
  assert.match(conf, /^auth_client_required = cephx$/m);
  assert.doesNotMatch(conf, /fsid|keyring|\//, 'no fsid and no path in the conf');
});

test('one Deployment per daemon: 1 replica, Recreate, its own keyring only, no key in args or env', () => {
  const d = daemonIdentity(MIRROR, 1);
  const dep = daemonDeployment(
    MIRROR,
    {
      count: 2,
      image: 'example.org/ceph:v16',
      resources: { limits: { memory: '512Mi' } },
      nodeSelector: { zone: 'a' },
      tolerations: [{ key: 'mirror', operator: 'Exists' }],
    },
    d,
    keyringText(d.entity, KEY),
  );
  assert.equal(dep.metadata?.name, 'site-a-cephfs-mirror-1');
  assert.equal(dep.spec?.replicas, 1);
  assert.equal(dep.spec?.strategy?.type, 'Recreate');
  assert.equal(daemonIndexOf(dep), 1);
  assert.ok(ownedBy(dep, MIRROR.uid));
  assert.ok(!ownedBy(dep, 'someone-else'));
  const pod = dep.spec?.template.spec;
  const c = pod?.containers[0];
  assert.equal(c?.image, 'example.org/ceph:v16');
  assert.deepEqual(c?.command, ['cephfs-mirror']);
  assert.deepEqual(c?.args?.slice(0, 5), ['--id', d.clientId, '--cluster', 'ceph', '-f']);
  assert.ok(c?.args?.includes(`${CONFIG_DIR}/keyring`));
  assert.deepEqual(pod?.nodeSelector, { zone: 'a' });
  assert.deepEqual(pod?.tolerations, [{ key: 'mirror', operator: 'Exists' }]);
  assert.deepEqual(c?.resources, { limits: { memory: '512Mi' } });
  assert.equal(pod?.automountServiceAccountToken, false);
  assert.equal(c?.securityContext?.readOnlyRootFilesystem, true);
  const text = JSON.stringify(dep);
  assert.ok(!text.includes(KEY), 'the key is nowhere in the Deployment');
  const config = pod?.volumes?.find((v) => v.name === 'config');
  assert.deepEqual(config?.secret?.items, [
    { key: 'ceph.conf', path: 'ceph.conf' },
    { key: d.keyringKey, path: 'keyring' },
  ]);
  assert.equal(config?.secret?.secretName, secretName(MIRROR));
  // Every path the daemon is given lies in a mounted volume.
  const mounts = (c?.volumeMounts ?? []).map((m) => m.mountPath);
  for (const value of [...(c?.args ?? []), ...(c?.env ?? []).map((e) => e.value ?? '')]) {
    if (value.startsWith('/'))
      assert.ok(
        mounts.some((m) => value.startsWith(`${m}/`) || value === m),
        value,
      );
  }
  // The default image; a new key changes the pod template (restart) and the spec hash.
  const plain = daemonDeployment(MIRROR, { count: 1 }, d, keyringText(d.entity, KEY));
  assert.equal(plain.spec?.template.spec?.containers[0]?.image, DEFAULT_DAEMON_IMAGE);
  const rekeyed = daemonDeployment(MIRROR, { count: 1 }, d, keyringText(d.entity, 'other'));
  assert.notEqual(
    rekeyed.spec?.template.metadata?.annotations?.[ANNOTATION_KEYRING_HASH],
    plain.spec?.template.metadata?.annotations?.[ANNOTATION_KEYRING_HASH],
  );
  assert.notEqual(
    rekeyed.metadata?.annotations?.[ANNOTATION_SPEC_HASH],
    plain.metadata?.annotations?.[ANNOTATION_SPEC_HASH],
  );
});

test('the operator may create daemon users only with the documented caps, under their prefix', () => {
  const [create, get, rm] = daemonUserAdminMonCaps();
  assert.equal(
    create,
    'allow command "auth get-or-create" with entity prefix client.cephfs-mirror. ' +
      'caps_mon="profile cephfs-mirror" caps_mds="allow r" ' +
      'caps_osd="allow rw tag cephfs metadata=*, allow r tag cephfs data=*" caps_mgr="allow r"',
  );
  assert.equal(get, 'allow command "auth get" with entity prefix client.cephfs-mirror.');
  assert.equal(rm, 'allow command "auth rm" with entity prefix client.cephfs-mirror.');
  assert.deepEqual(authGetOrCreate('client.cephfs-mirror.abc.0').caps, [
    'mon',
    'profile cephfs-mirror',
    'mds',
    'allow r',
    'osd',
    'allow rw tag cephfs metadata=*, allow r tag cephfs data=*',
    'mgr',
    'allow r',
  ]);
});

test('status: daemons published, a daemon problem makes Ready False, none removes the field', () => {
  const base = {
    instanceCount: 2,
    daemons: { desired: 1, deployed: 1 },
    conditions: [
      {
        type: 'Ready',
        status: 'True' as const,
        reason: 'MirroringEnabled',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
  };
  assert.equal(withDaemons(base, {}, 3).daemons, undefined);
  const ok = withDaemons(base, { status: { desired: 2, deployed: 2 } }, 3);
  assert.deepEqual(ok.daemons, { desired: 2, deployed: 2 });
  assert.equal(ok.conditions?.[0]?.status, 'True');
  const bad = withDaemons(
    base,
    {
      status: { desired: 2, deployed: 1 },
      problem: { reason: 'DaemonUserConflict', message: 'x' },
    },
    3,
  );
  assert.equal(bad.conditions?.find((c) => c.type === 'Ready')?.reason, 'DaemonUserConflict');
  assert.equal(bad.conditions?.find((c) => c.type === 'Ready')?.observedGeneration, 3);
});
