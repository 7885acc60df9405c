// 100 MirroredDirectory objects applied at once on a real kube-apiserver become Ready, spread
// evenly over two real cephfs-mirror daemons; then 100 more, with the operator SIGKILLed part-way
// and a new one started: all 200 Ready, each declared path in the RADOS dir map exactly once,
// nothing lost and nothing extra.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CephFSMirror, MirroredDirectory } from '../../src/api/resources.js';
import {
  applyObjects,
  isReadyNow,
  listDirectories,
  directoryObject,
  isRunning,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectlJson } from '../../lab/harness/kube.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-scale';
const MIRROR = 'site-a';
let env: E2eEnv;
let operator: OperatorProcess;
let instances: string[] = [];

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: ['e2e-scale-1', 'e2e-scale-2'] });
  operator = env.operator();
  await applyObjects(env.kube, [mirrorObject(NS, MIRROR, 'a')]);
  await waitForReady(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  // Both daemons registered before any directory is mapped, or the first would get them all.
  const m = await waitFor(
    'the mirror to report both daemons',
    async () => {
      const mirror = await getMirror();
      return mirror.status?.instances?.length === 2 ? mirror : undefined;
    },
    60_000,
  );
  instances = (m.status?.instances ?? []).map((i) => i.id).sort();
});

after(() => tearDownE2e(env));

async function getMirror(): Promise<CephFSMirror> {
  return kubectlJson<CephFSMirror>(env.kube, ['-n', NS, 'get', `cephfsmirror/${MIRROR}`]);
}

function batch(prefix: string, count: number): Array<{ name: string; path: string }> {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i).padStart(3, '0');
    return { name: `${prefix}-${n}`, path: `/scale/${prefix}/${n}` };
  });
}

async function waitAllReady(count: number, timeoutMs: number): Promise<MirroredDirectory[]> {
  let last = 0;
  return waitFor(
    `${count} MirroredDirectories Ready`,
    async () => {
      const items = await listDirectories(env.kube, NS);
      last = items.filter(isReadyNow).length;
      return items.length === count && last === count ? items : undefined;
    },
    timeoutMs,
    1000,
  );
}

function perInstance(dirs: MirroredDirectory[]): Map<string, number> {
  const counts = new Map<string, number>(instances.map((i) => [i, 0]));
  for (const d of dirs) {
    const id = d.status?.instanceID ?? '(none)';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

test('100 directories applied at once are all Ready, spread evenly over two daemons', async () => {
  const first = batch('a', 100);
  await createSourceDirs(
    env.a,
    env.lab.sites.a.fsName,
    first.map((d) => d.path),
  );
  const started = Date.now();
  await applyObjects(
    env.kube,
    first.map((d) => directoryObject(NS, d.name, MIRROR, d.path)),
  );
  const dirs = await waitAllReady(100, 120_000);
  const seconds = (Date.now() - started) / 1000;
  const counts = perInstance(dirs);
  assert.deepEqual([...counts.keys()].sort(), instances, 'only the two live daemons hold them');
  const values = [...counts.values()];
  assert.ok(
    Math.max(...values) - Math.min(...values) <= 1,
    `evenly spread: ${JSON.stringify([...counts])}`,
  );
  assert.ok(dirs.every((d) => d.status?.state === 'Associated'));
  console.log(
    `# 100 Ready in ${seconds.toFixed(1)} s, per instance ${JSON.stringify([...counts])}`,
  );
});

test('the operator SIGKILLed part-way through 100 more: after a restart all are Ready, none mapped twice, none lost', async () => {
  const second = batch('b', 100);
  await createSourceDirs(
    env.a,
    env.lab.sites.a.fsName,
    second.map((d) => d.path),
  );
  const pool = (await getMirror()).status?.metadataPool as number;
  const applyStarted = Date.now();
  await applyObjects(
    env.kube,
    second.map((d) => directoryObject(NS, d.name, MIRROR, d.path)),
  );
  // Kill part-way: once a random number of the new directories is in the dir map (reading the
  // omap is quick; the statuses follow later), so some are mapped and some not yet.
  const threshold = 100 + 1 + Math.floor(Math.random() * 60);
  await waitFor(
    `${threshold} directories in the dir map`,
    async () => (await loadDirMap(env.a, pool)).directories.length >= threshold,
    60_000,
    50,
  );
  await operator.kill();
  const killedAfterMs = Date.now() - applyStarted;
  const atKill = await listDirectories(env.kube, NS);
  const notReady = atKill.filter((d) => !isReadyNow(d)).length;
  const mappedAtKill = (await loadDirMap(env.a, pool)).directories.length;
  console.log(
    `# SIGKILL ${killedAfterMs} ms after the apply started: ${atKill.length} objects, ` +
      `${notReady} not Ready, ${mappedAtKill} in the dir map`,
  );
  assert.ok(notReady > 0, 'the kill came before everything was Ready');

  const started = Date.now();
  operator = env.operator();
  const dirs = await waitAllReady(200, 120_000);
  console.log(`# all 200 Ready ${((Date.now() - started) / 1000).toFixed(1)} s after the restart`);

  const mirror = await getMirror();
  const map = await loadDirMap(env.a, mirror.status?.metadataPool as number);
  assert.deepEqual(map.unreadable, []);
  const declared = dirs.map((d) => d.status?.path).sort();
  const mapped = map.directories.map(([p]) => p).sort();
  assert.equal(new Set(declared).size, 200, 'each object reports its own path');
  assert.equal(mapped.length, 200, 'one dir_map key per declared directory');
  assert.deepEqual(mapped, declared, 'the dir map holds exactly the declared paths');
  const byPath = new Map(map.directories);
  for (const d of dirs) {
    const record = byPath.get(d.status?.path as string);
    assert.ok(record?.instanceId && instances.includes(record.instanceId), `${d.status?.path}`);
    assert.equal(record.instanceId, d.status?.instanceID, `${d.status?.path}: status agrees`);
  }
  assert.ok(isRunning(operator));
});
