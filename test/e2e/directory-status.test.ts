// MirroredDirectory status that tells the truth, and spec edits that converge, on a real
// kube-apiserver, the real lab and a real cephfs-mirror daemon: a source path that does not exist
// is Ready=False SourceDirectoryMissing with nothing in the dir map, and Ready once created; a path
// edited to its own subtree, its own ancestor, or onto another object's path leaves the dir map
// holding exactly the declared paths (no orphan, nothing stuck); a mirrorRef edit is refused and
// the old entry stays managed until the ref is restored or the object deleted.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import type { CephFSMirror, MirroredDirectory } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  conditionOf,
  directoryObject,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-dir-status';
const MIRROR = 'site-a';
const ROOT = '/dir-status';
let env: E2eEnv;
let fsA: CephFS;
let metadataPool: number;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-dir-status'] });
  // Its own client (not env.a's): a mount pins its Rados, and the teardown shuts env.a down.
  fsA = await CephFS.mount({
    confPath: env.lab.sites.a.confPath,
    fsName: env.lab.sites.a.fsName,
    timeoutMs: 20_000,
  });
  // A lab shared with earlier runs may have them: the first test needs its path missing.
  await removeTree(ROOT);
  env.operator();
  await applyObjects(env.kube, [mirrorObject(NS, MIRROR, 'a')]);
  const m = await waitForReady<CephFSMirror>(
    env.kube,
    NS,
    `cephfsmirror/${MIRROR}`,
    { status: 'True' },
    90_000,
  );
  metadataPool = m.status?.metadataPool as number;
});

after(async () => {
  try {
    await tearDownE2e(env);
  } finally {
    await removeTree(ROOT).catch(() => undefined);
    await fsA?.close();
  }
});

/** rm -r of a tree of empty directories (all this file creates). */
async function removeTree(path: string): Promise<void> {
  let names: string[];
  try {
    names = await fsA.readdir(path);
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return;
    throw e;
  }
  for (const n of names) await removeTree(`${path}/${n}`);
  await fsA.rmdir(path);
}

async function mapPaths(): Promise<string[]> {
  return (await loadDirMap(env.a, metadataPool)).directories.map(([p]) => p).sort();
}

/** Waits until site-a's dir map holds exactly `paths` (the operator converges in the background). */
async function expectMap(paths: string[]): Promise<void> {
  const want = [...paths].sort();
  let last: string[] = [];
  await waitFor(
    `dir map = ${want.join(' ')}`,
    async () => {
      last = await mapPaths();
      return JSON.stringify(last) === JSON.stringify(want) ? true : undefined;
    },
    60_000,
  ).catch(() => assert.deepEqual(last, want, 'the dir map holds exactly the declared paths'));
}

function ready(name: string, timeoutMs = 60_000): Promise<MirroredDirectory> {
  return waitForReady<MirroredDirectory>(
    env.kube,
    NS,
    `mirroreddirectory/${name}`,
    { status: 'True', reason: 'Mirrored' },
    timeoutMs,
  );
}

function notReady(name: string, reason: string): Promise<MirroredDirectory> {
  return waitForReady<MirroredDirectory>(env.kube, NS, `mirroreddirectory/${name}`, {
    status: 'False',
    reason,
  });
}

async function patchSpec(name: string, spec: Record<string, unknown>): Promise<void> {
  await kubectl(env.kube, [
    '-n',
    NS,
    'patch',
    `mirroreddirectory/${name}`,
    '--type',
    'merge',
    '-p',
    JSON.stringify({ spec }),
  ]);
}

async function warningReasons(): Promise<Set<string>> {
  const events = await kubectlJson<{ items: Array<{ type?: string; reason?: string }> }>(env.kube, [
    '-n',
    NS,
    'get',
    'events',
  ]);
  return new Set(events.items.filter((e) => e.type === 'Warning').map((e) => e.reason ?? ''));
}

test('a source path that does not exist: SourceDirectoryMissing and no dir-map entry; created: Ready', async () => {
  const path = `${ROOT}/later`;
  await applyObjects(env.kube, [directoryObject(NS, 'later', MIRROR, path)]);
  const missing = await notReady('later', 'SourceDirectoryMissing');
  assert.match(
    conditionOf(missing)?.message ?? '',
    new RegExp(`^${path} does not exist on filesystem ${env.lab.sites.a.fsName}`),
  );
  assert.equal(conditionOf(missing, 'Invalid')?.status, 'False', 'the spec itself is valid');
  assert.equal(missing.status?.path, undefined, 'no entry is managed');
  assert.ok(!(await mapPaths()).includes(path), 'nothing written to the dir map meanwhile');
  assert.ok((await warningReasons()).has('SourceDirectoryMissing'), 'a Warning event');

  await fsA.mkdirs(path);
  // Rechecked every 10 s: no edit of the object is needed.
  const d = await ready('later');
  assert.equal(d.status?.path, path);
  assert.equal(d.status?.state, 'Associated');
  assert.equal(d.status?.mirrorRef, MIRROR, 'admitted with its mirror');
  await expectMap([path]);
});

test('a path that overlaps a tracked one is refused as such even while its source is missing', async () => {
  await applyObjects(env.kube, [directoryObject(NS, 'under', MIRROR, `${ROOT}/later/none`)]);
  const d = await notReady('under', 'SubtreeOfTracked');
  assert.equal(conditionOf(d, 'Invalid')?.status, 'True');
  await kubectl(env.kube, ['-n', NS, 'delete', 'mirroreddirectory/under', '--wait=true']);
});

test('path edits to its own subtree, its own ancestor, another object’s path: no orphan entry', async () => {
  const later = `${ROOT}/later`;
  const edit = `${ROOT}/edit`;
  const sub = `${ROOT}/edit/sub`;
  const other = `${ROOT}/other`;
  for (const p of [sub, other]) await fsA.mkdirs(p);
  await applyObjects(env.kube, [directoryObject(NS, 'edit', MIRROR, edit)]);
  await ready('edit');
  await applyObjects(env.kube, [directoryObject(NS, 'other', MIRROR, other)]);
  await ready('other');
  await expectMap([later, edit, other]);

  // Its own subtree: the old entry must go before the new one can be added.
  await patchSpec('edit', { path: sub });
  assert.equal((await ready('edit')).status?.path, sub);
  await expectMap([later, sub, other]);

  // Its own ancestor.
  await patchSpec('edit', { path: edit });
  assert.equal((await ready('edit')).status?.path, edit);
  await expectMap([later, edit, other]);

  // Onto an older object's path: refused as a duplicate, and its own old entry released.
  await patchSpec('other', { path: edit });
  const dup = await notReady('other', 'DuplicatePath');
  assert.equal(conditionOf(dup)?.message, `${edit} is already declared by MirroredDirectory edit`);
  assert.equal(dup.status?.path, undefined);
  await expectMap([later, edit]);

  // The older one moves away onto the freed path: the younger inherits the shared entry.
  await patchSpec('edit', { path: other });
  assert.equal((await ready('edit')).status?.path, other);
  assert.equal((await ready('other')).status?.path, edit);
  await expectMap([later, edit, other]);

  // And back where each started.
  await patchSpec('other', { path: other });
  await patchSpec('edit', { path: edit });
  assert.equal((await ready('edit')).status?.path, edit);
  assert.equal((await ready('other')).status?.path, other);
  await expectMap([later, edit, other]);
});

test('mirrorRef is immutable: refused with MirrorRefImmutable, the old entry kept until restored or deleted', async () => {
  const edit = `${ROOT}/edit`;
  const other = `${ROOT}/other`;
  const later = `${ROOT}/later`;
  await patchSpec('edit', { mirrorRef: { name: 'site-b' } });
  const refused = await notReady('edit', 'MirrorRefImmutable');
  assert.match(
    conditionOf(refused)?.message ?? '',
    new RegExp(`admitted with CephFSMirror ${MIRROR}, where it still mirrors ${edit}`),
  );
  assert.equal(conditionOf(refused, 'Invalid')?.reason, 'MirrorRefImmutable');
  assert.equal(refused.status?.mirrorRef, MIRROR);
  assert.equal(refused.status?.path, edit);
  await expectMap([later, edit, other]);
  assert.ok((await warningReasons()).has('MirrorRefImmutable'));

  await patchSpec('edit', { mirrorRef: { name: MIRROR } });
  assert.equal((await ready('edit')).status?.path, edit);
  await expectMap([later, edit, other]);

  // Deleted while refused: its entry in the admitted mirror is released all the same.
  await patchSpec('other', { mirrorRef: { name: 'elsewhere' } });
  await notReady('other', 'MirrorRefImmutable');
  await kubectl(env.kube, ['-n', NS, 'delete', 'mirroreddirectory/other', '--wait=true']);
  await expectMap([later, edit]);
});

test('with a peer: in sync only when both lists were read; a source that goes is reported, its entry kept', async () => {
  const path = `${ROOT}/synced`;
  await fsA.mkdirs(path);
  const token = await createBootstrapToken(
    env.b,
    env.lab.sites.b.fsName,
    'client.mirror_remote',
    'site-b',
  );
  await applyObjects(env.kube, [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'site-b-token', namespace: NS },
      stringData: { token },
    },
    {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'site-b', namespace: NS },
      spec: { mirrorRef: { name: MIRROR }, bootstrapTokenSecretRef: { name: 'site-b-token' } },
    },
    directoryObject(NS, 'synced', MIRROR, path),
  ]);
  await waitForReady(env.kube, NS, 'mirrorpeer/site-b', { status: 'True' }, 90_000);
  await ready('synced', 90_000);
  const get = (): Promise<MirroredDirectory> =>
    kubectlJson<MirroredDirectory>(env.kube, ['-n', NS, 'get', 'mirroreddirectory/synced']);
  // In sync once the daemon made the directory on the peer and both (empty) lists were read;
  // before that the view says why it is not (PeerDirectoryMissing), never in sync.
  const seen = new Set<string>();
  await waitFor(
    'a sync view in sync',
    async () => {
      const p = (await get()).status?.peers?.[0];
      if (p) seen.add(`${String(p.inSync)}/${p.reason ?? ''}`);
      if (p?.inSync === true) assert.equal(p.reason, undefined, 'no reason when in sync');
      return p?.inSync === true ? p : undefined;
    },
    120_000,
    1000,
  );
  console.log(`# sync views seen: ${[...seen].join(', ')}`);

  // The source goes: Ready=False, the view unknown with the reason, the entry stays in Ceph.
  await fsA.rmdir(path);
  const gone = await waitForReady<MirroredDirectory>(
    env.kube,
    NS,
    'mirroreddirectory/synced',
    { status: 'False', reason: 'SourceDirectoryMissing' },
    120_000,
  );
  assert.equal(gone.status?.path, path, 'still managed');
  assert.ok((await mapPaths()).includes(path), 'the entry is kept');
  const unknown = await waitFor(
    'the sync view to say the source is missing',
    async () => {
      const p = (await get()).status?.peers?.[0];
      return p?.reason === 'SourceDirectoryMissing' ? p : undefined;
    },
    90_000,
    1000,
  );
  assert.equal(unknown.inSync, false);
  assert.equal(unknown.pendingSnapshots, undefined, 'nothing counted from a list not read');

  await fsA.mkdirs(path);
  await ready('synced', 90_000);
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
