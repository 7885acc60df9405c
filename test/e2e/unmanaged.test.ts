// Dir-map entries that no MirroredDirectory declares (left by the mgr module or an earlier tool):
// `Adopt` gives each an object of its own, `Prune` stops mirroring them.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { enableMirroring } from '../../src/ceph/filesystem.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { MirroredDirectory } from '../../src/api/resources.js';
import {
  applyObjects,
  conditionOf,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectlJson } from '../../lab/harness/kube.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-unmanaged';
const MIRROR = 'site-a';
let env: E2eEnv;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-unmanaged'] });
});

after(async () => {
  await tearDownE2e(env);
});

/** Tracks `path` in site-a's dir map directly, as a tool other than the operator would. */
async function trackOutsideTheOperator(path: string): Promise<void> {
  // An existing directory: the operator reports a tracked path whose source is missing as not Ready.
  await createSourceDirs(env.a, env.lab.sites.a.fsName, [path]);
  await enableMirroring(env.a, env.lab.sites.a.fsName);
  const engine = await MirrorEngine.start({ rados: env.a, fsName: env.lab.sites.a.fsName });
  try {
    await engine.addDirectory(path);
  } finally {
    await engine.stop();
  }
}

async function dirMapPaths(): Promise<string[]> {
  const fs = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  const map = await loadDirMap(env.a, fs?.metadataPool as number);
  return map.directories.map(([p]) => p).sort();
}

test('Adopt creates a Ready MirroredDirectory for an undeclared dir-map entry', async () => {
  await trackOutsideTheOperator('/um/adopt');
  env.operator();
  await applyObjects(env.kube, [mirrorObject(NS, MIRROR, 'a', { unmanagedDirectories: 'Adopt' })]);
  await waitForReady(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  const adopted = await waitFor(
    'an adopted MirroredDirectory for /um/adopt, Ready',
    async () => {
      const list = await kubectlJson<{ items: MirroredDirectory[] }>(env.kube, [
        '-n',
        NS,
        'get',
        'mirroreddirectories',
        '-l',
        'mirror.cephfs.io/adopted=true',
      ]);
      const d = list.items.find((i) => i.spec.path === '/um/adopt');
      return d && conditionOf(d)?.status === 'True' ? d : undefined;
    },
    90_000,
    1000,
  );
  assert.equal(adopted.spec.mirrorRef.name, MIRROR);
  assert.equal(adopted.status?.state, 'Associated');
  assert.deepEqual(await dirMapPaths(), ['/um/adopt']);
});

test('Prune stops mirroring undeclared entries and keeps declared ones', async () => {
  for (const op of env.operators) await op.stop();
  await trackOutsideTheOperator('/um/prune');
  assert.deepEqual(await dirMapPaths(), ['/um/adopt', '/um/prune']);
  env.operator();
  await applyObjects(env.kube, [mirrorObject(NS, MIRROR, 'a', { unmanagedDirectories: 'Prune' })]);
  await waitFor(
    '/um/prune gone from the dir map, /um/adopt (declared) kept',
    async () => {
      const paths = await dirMapPaths();
      return paths.length === 1 && paths[0] === '/um/adopt';
    },
    90_000,
    1000,
  );
});
