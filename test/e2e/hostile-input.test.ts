// Hostile input against the real kube-apiserver, the real lab and the operator: the CRD schemas
// refuse control characters, overlong values and wrong names with the schema's message, and what
// a schema cannot count (UTF-8 bytes) the operator refuses itself, with reason InvalidPath,
// without writing anything to the directory map.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { MirroredDirectory } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
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
import { kubectl } from '../../lab/harness/kube.js';
import { waitFor } from '../../lab/harness/wait.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';

const NS = 'e2e-hostile';
const MIRROR = 'site-a';
let env: E2eEnv;
let operator: OperatorProcess;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-hostile'] });
  operator = env.operator();
});

after(() => tearDownE2e(env));

/**
 * A server-side dry run: the apiserver validates against the schema and stores nothing. Sent as
 * JSON: a YAML 1.1 reader (kubectl's) folds U+0085 into a line break and reads `yes` as true.
 * kubectl's own validation is off, so the refusal shown is the apiserver's.
 */
function dryRun(object: object): Promise<string> {
  return kubectl(
    env.kube,
    ['apply', '--dry-run=server', '--validate=false', '-f', '-'],
    JSON.stringify(object),
  );
}

function dir(name: string, path: string, mirror = MIRROR): object {
  return directoryObject(NS, name, mirror, path);
}

function peer(spec: Record<string, unknown>): object {
  return {
    apiVersion: API_VERSION,
    kind: 'MirrorPeer',
    metadata: { name: 'hostile-peer', namespace: NS },
    spec: { mirrorRef: { name: MIRROR }, ...spec },
  };
}

const remote = {
  clientName: 'client.mirror_remote',
  siteName: 'site-b',
  monHost: '[v2:10.0.1.1:3300,v1:10.0.1.1:6789]',
  keySecretRef: { name: 'remote-key' },
};

const PATH_PATTERN =
  /spec\.path in body should match '\^\(\/\[\^\/\\x00-\\x1f\\x7f-\\x9f\]\{0,255\}\)\+\$'/;

test('the schema refuses hostile values with its own message', async () => {
  const cases: Array<[string, object, RegExp]> = [
    ['a NUL byte in a path', dir('nul', '/a\0x'), PATH_PATTERN],
    ['a newline in a path', dir('newline', '/a\nb'), PATH_PATTERN],
    ['an escape sequence in a path', dir('esc', '/a\u001b[31mred'), PATH_PATTERN],
    ['a C1 control in a path', dir('c1', '/a\u0085b'), PATH_PATTERN],
    ['a relative path', dir('relative', 'projects/x'), PATH_PATTERN],
    ['a 256-character component', dir('component', `/ok/${'c'.repeat(256)}`), PATH_PATTERN],
    [
      'a 5,000-byte path',
      dir('long', '/' + Array.from({ length: 50 }, () => 'x'.repeat(99)).join('/')),
      /spec\.path in body should be at most 4096 chars long/,
    ],
    [
      'a mirrorRef that is no object name',
      dir('badref', '/x', 'Site_A'),
      /spec\.mirrorRef\.name in body should match/,
    ],
    [
      'client.admin as the bootstrap user (its key would land in the Secret)',
      mirrorObject(NS, 'hostile-admin', 'a', {
        bootstrapTokenSecret: { name: 'tok', clientName: 'client.admin' },
      }),
      /spec\.bootstrapTokenSecret\.clientName in body should match '\^client\\\.mirror_/,
    ],
    [
      'a Secret name with upper case and a slash',
      mirrorObject(NS, 'hostile-secret', 'a', { cluster: { secretRef: { name: 'A/b' } } }),
      /spec\.cluster\.secretRef\.name in body should match/,
    ],
    [
      'a 256-character site name',
      mirrorObject(NS, 'hostile-site', 'a', {
        bootstrapTokenSecret: { name: 'tok', siteName: 's'.repeat(256) },
      }),
      /spec\.bootstrapTokenSecret\.siteName in body should be at most 255 chars long/,
    ],
    [
      'allowInsecureV1 that is not a boolean',
      mirrorObject(NS, 'hostile-v1', 'a', {
        cluster: { secretRef: { name: 'ceph-site-a' }, allowInsecureV1: 'yes' },
      }),
      /spec\.cluster\.allowInsecureV1: Invalid value: "string": spec\.cluster\.allowInsecureV1 in body must be of type boolean/,
    ],
    [
      'a mon_host with shell characters',
      peer({ remote: { ...remote, monHost: '10.0.0.1:3300;$(reboot)' } }),
      /spec\.remote\.monHost in body should match/,
    ],
    [
      'a 5,000-character mon_host',
      peer({ remote: { ...remote, monHost: '1'.repeat(5000) } }),
      /spec\.remote\.monHost in body should be at most 4096 chars long/,
    ],
    [
      'a remote client name with a second dot',
      peer({ remote: { ...remote, clientName: 'client.a.b' } }),
      /spec\.remote\.clientName in body should match/,
    ],
    [
      'a token key that is no Secret data key',
      peer({ bootstrapTokenSecretRef: { name: 'tok', key: '../token' } }),
      /spec\.bootstrapTokenSecretRef\.key in body should match/,
    ],
  ];
  const accepted: string[] = [];
  for (const [what, object, message] of cases) {
    const refusal = await dryRun(object).then(
      () => undefined,
      (e: Error) => e.message,
    );
    if (refusal === undefined) accepted.push(what);
    else assert.match(refusal, message, what);
  }
  assert.deepEqual(accepted, [], 'accepted by the apiserver');
});

test('the schema still accepts ordinary values', async () => {
  for (const object of [
    dir('unicode', '/projets/été 2026/日本'),
    dir('root', '/'),
    dir('slashes', '//a//b/'),
    dir('max', '/' + Array.from({ length: 16 }, () => 'y'.repeat(255)).join('/')),
    mirrorObject(NS, 'ok', 'a', {
      cluster: { secretRef: { name: 'ceph-site-a' }, allowInsecureV1: true },
      bootstrapTokenSecret: { name: 'site-a.token', clientName: 'client.mirror_b-2' },
    }),
    peer({ remote: { ...remote, monHost: 'mon-a.example.com:3300, [v2:[fd00::1]:3300]' } }),
    peer({ allowInsecureV1: true, bootstrapTokenSecretRef: { name: 'tok', key: 'token.b64' } }),
  ]) {
    await dryRun(object);
  }
});

test('what the schema cannot count, the operator refuses: InvalidPath, nothing in the dir map', async () => {
  await applyObjects(env.kube, [mirrorObject(NS, MIRROR, 'a')]);
  await waitForReady(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  // 200 characters (the schema allows 255) of two bytes each: a 400-byte component.
  const wide = `/hostile/${'é'.repeat(200)}`;
  // 2,100 characters (the schema allows 4,096) in components of 100, 4,200 bytes.
  const long = '/' + Array.from({ length: 21 }, () => 'ü'.repeat(100)).join('/');
  // The valid neighbour exists on the filesystem, so nothing but its path decides its fate.
  const cephfs = await CephFS.mount({ rados: env.a, fsName: env.lab.sites.a.fsName });
  try {
    await cephfs.mkdirs('/hostile-ok');
  } finally {
    await cephfs.close();
  }
  await applyObjects(env.kube, [
    dir('wide', wide),
    dir('long-bytes', long),
    dir('fine', '/hostile-ok'),
  ]);
  for (const [name, message] of [
    ['wide', /component 2 is 400 bytes long \(at most 255\)/],
    ['long-bytes', /is 4221 bytes long \(at most 4096\)/],
  ] as const) {
    const d = await waitForReady<MirroredDirectory>(env.kube, NS, `mirroreddirectory/${name}`, {
      status: 'False',
      reason: 'InvalidPath',
    });
    assert.match(conditionOf(d)?.message ?? '', message);
    assert.equal(conditionOf(d, 'Invalid')?.status, 'True');
    assert.equal(conditionOf(d, 'Invalid')?.reason, 'InvalidPath');
  }
  // The valid neighbour is written to the dir map (no peer here, so no daemon acquires it).
  const fs = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  const paths = await waitFor(
    '/hostile-ok in the dir map',
    async () => {
      const map = await loadDirMap(env.a, fs?.metadataPool as number);
      const found = map.directories.map(([p]) => p);
      return found.includes('/hostile-ok') ? found : undefined;
    },
    60_000,
  );
  assert.ok(!paths.some((p) => p.startsWith('/hostile/') || p.startsWith('/ü')), paths.join(' '));
  assert.ok(isRunning(operator), 'the operator is still up');
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
