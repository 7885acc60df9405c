// The operator never harms the cephfs-mirror daemons (protocol note, section 3): on real Pacific
// daemons with a peer (a daemon's per-peer replayer is where a duplicate acquire turns into an
// abort), through everything that used to send duplicate acquires — an engine start over a map
// whose directories the daemons already hold, the operator SIGKILLed three times while
// directories are being created, a fourth daemon joining (rebalance), undeclared entries pruned,
// directories deleted — no daemon aborts, and the daemons hold exactly the declared directories.
// SAFETY_DIRECTORIES / SAFETY_KILLS / SAFETY_DELETED size it (`npm run bench chaos`: 2,500 / 10).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startMirrorDaemon } from '../../lab/ceph-cluster.js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import { enableMirroring } from '../../src/ceph/filesystem.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { CephFSMirror } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  applyObjects,
  directoryObject,
  isReadyNow,
  listDirectories,
  loadDirMap,
  mirrorObject,
  setUpE2e,
  tearDownE2e,
  tokenPeerObjects,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import { daemonDirectoryCount } from '../../lab/harness/mirroring.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { createSourceDirs } from '../../lab/harness/source-dirs.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-safety';
const MIRROR = 'site-a';
const DAEMONS = ['e2e-safe-1', 'e2e-safe-2', 'e2e-safe-3'];
const FOURTH = 'e2e-safe-4';
/** CI-sized by default; `npm run bench chaos` runs the full size through the environment. */
const sized = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v > 0 ? v : fallback;
};
const DECLARED = sized('SAFETY_DIRECTORIES', 500);
const KILLS = sized('SAFETY_KILLS', 3);
const UNDECLARED = 200;
const DELETED = sized('SAFETY_DELETED', 200);
/** A stable identity, as a pod's: a restarted operator takes its own stale lock over at once. */
const OPERATOR_ENV = { POD_NAME: 'e2e-safety-operator' };
const POLICY = { tickSeconds: 1, shuffleThrottleSeconds: 5 };

let env: E2eEnv;
let operator: OperatorProcess;

const declared = Array.from({ length: DECLARED }, (_, i) => {
  const n = String(i).padStart(3, '0');
  return { name: `safe-${n}`, path: `/safety/declared/${n}` };
});
const undeclared = Array.from(
  { length: UNDECLARED },
  (_, i) => `/safety/undeclared/${String(i).padStart(3, '0')}`,
);

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: DAEMONS });
});

after(() => tearDownE2e(env));

async function getMirror(): Promise<CephFSMirror> {
  return kubectlJson<CephFSMirror>(env.kube, ['-n', NS, 'get', `cephfsmirror/${MIRROR}`]);
}

async function metadataPoolId(): Promise<number> {
  const fs = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  assert.ok(fs);
  return fs.metadataPool;
}

async function dirMapPaths(): Promise<string[]> {
  const map = await loadDirMap(env.a, await metadataPoolId());
  assert.deepEqual(map.unreadable, []);
  return map.directories.map(([p]) => p).sort();
}

/** The directory counts the live daemons publish in the mgr service map, by client id. */
async function daemonCounts(ids: string[]): Promise<Map<string, number | undefined>> {
  const out = new Map<string, number | undefined>();
  for (const id of ids) out.set(id, await daemonDirectoryCount(env.a, env.lab.sites.a.fsName, id));
  return out;
}

test('a map whose directories the daemons already hold is taken over without a duplicate acquire', async () => {
  // Another writer (here an engine of this test process) tracks the undeclared directories and
  // gets them acquired by the daemons; the operator then starts on that map.
  await createSourceDirs(env.a, env.lab.sites.a.fsName, [
    ...undeclared,
    ...declared.map((d) => d.path),
  ]);
  await enableMirroring(env.a, env.lab.sites.a.fsName);
  const token = await createBootstrapToken(
    env.b,
    env.lab.sites.b.fsName,
    'client.mirror_remote',
    'site-b',
  );
  operator = env.operator([], OPERATOR_ENV);
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a', { policy: POLICY, unmanagedDirectories: 'Retain' }),
    ...tokenPeerObjects(NS, MIRROR, token),
  ]);
  await waitForReady(env.kube, NS, 'mirrorpeer/site-b', { status: 'True' }, 120_000);
  await waitFor(
    'the mirror to report the three daemons',
    async () => ((await getMirror()).status?.instances?.length === 3 ? true : undefined),
    90_000,
  );
  // Hand the filesystem to a second writer for a moment: the operator stops cleanly (its lock
  // released), the test's engine adds the undeclared directories and lets the daemons acquire
  // them, then the operator comes back to a map it did not write.
  await operator.stop();
  const engine = await MirrorEngine.start({
    rados: env.a,
    fsName: env.lab.sites.a.fsName,
    tunables: { tickSeconds: 1 },
  });
  try {
    for (const p of undeclared) await engine.addDirectory(p);
    await waitFor(
      'the undeclared directories mapped',
      () => undeclared.every((p) => engine.status(p)?.state === 'mapped') || undefined,
      120_000,
    );
  } finally {
    await engine.stop();
  }
  await waitFor(
    'the daemons to report the undeclared directories',
    async () => {
      const counts = [...(await daemonCounts(DAEMONS)).values()];
      return counts.reduce<number>((a, b) => a + (b ?? 0), 0) === UNDECLARED || undefined;
    },
    60_000,
  );
  operator = env.operator([], OPERATOR_ENV);
  await waitForReady(env.kube, NS, `cephfsmirror/${MIRROR}`, { status: 'True' }, 90_000);
  assert.deepEqual(await dirMapPaths(), [...undeclared].sort());
});

test(`${DECLARED} directories created while the operator is SIGKILLed ${KILLS} times: all Ready, each mapped once`, async () => {
  await applyObjects(
    env.kube,
    declared.map((d) => directoryObject(NS, d.name, MIRROR, d.path)),
  );
  // Kill at evenly spread points of the creation, each once that many keys are in the dir map.
  const thresholds = Array.from(
    { length: KILLS },
    (_, i) => UNDECLARED + Math.floor(((i + 1) * DECLARED * 0.8) / KILLS),
  );
  const started = Date.now();
  for (const threshold of thresholds) {
    await waitFor(
      `${threshold} directories in the dir map`,
      async () => (await dirMapPaths()).length >= threshold || undefined,
      120_000,
      100,
    );
    await operator.kill();
    operator = env.operator([], OPERATOR_ENV);
  }
  await waitFor(
    `${DECLARED} MirroredDirectories Ready`,
    async () => {
      const items = await listDirectories(env.kube, NS);
      return items.length === DECLARED && items.every(isReadyNow) ? true : undefined;
    },
    240_000,
    1000,
  );
  console.log(
    `# ${DECLARED} Ready ${((Date.now() - started) / 1000).toFixed(1)} s after the apply, ` +
      `through ${KILLS} SIGKILLs`,
  );
  const paths = await dirMapPaths();
  assert.equal(paths.length, DECLARED + UNDECLARED, 'each path once, none lost');
});

test(`a fourth daemon joins and gets its share; undeclared entries are pruned; ${DELETED} directories deleted`, async () => {
  await startMirrorDaemon(env.lab.sites.a, FOURTH);
  env.mirrorDaemons.push(FOURTH);
  await waitFor(
    'the mirror to report four daemons, the newest with a share',
    async () => {
      const instances = (await getMirror()).status?.instances ?? [];
      const loads = instances.map((i) => i.directories);
      const share = Math.floor((DECLARED + UNDECLARED) / 4) - 25;
      return instances.length === 4 && Math.min(...loads) >= share ? true : undefined;
    },
    180_000,
    1000,
  );
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a', { policy: POLICY, unmanagedDirectories: 'Prune' }),
  ]);
  await waitFor(
    'the undeclared entries pruned',
    async () => ((await dirMapPaths()).length === DECLARED ? true : undefined),
    180_000,
    1000,
  );
  const doomed = declared.slice(0, DELETED).map((d) => `mirroreddirectory/${d.name}`);
  await kubectl(
    env.kube,
    ['-n', NS, 'delete', ...doomed, '--wait=true', '--timeout=240s'],
    undefined,
    260_000,
  );
  const kept = declared.slice(DELETED).map((d) => d.path);
  await waitFor(
    'the dir map to hold exactly the declared directories',
    async () => {
      const paths = await dirMapPaths();
      return paths.length === kept.length && paths.join() === [...kept].sort().join()
        ? true
        : undefined;
    },
    180_000,
    1000,
  );
});

test('the daemons hold exactly the declared directories, as the dir map assigns them', async () => {
  const ids = [...DAEMONS, FOURTH];
  const expected = DECLARED - DELETED;
  const map = await loadDirMap(env.a, await metadataPoolId());
  const perInstance = new Map<string, number>();
  for (const [, r] of map.directories) {
    perInstance.set(r.instanceId, (perInstance.get(r.instanceId) ?? 0) + 1);
  }
  const counts = await waitFor(
    `the daemons' published directory counts to add up to ${expected}`,
    async () => {
      const c = await daemonCounts(ids);
      const sum = [...c.values()].reduce<number>((a, b) => a + (b ?? 0), 0);
      return sum === expected ? c : undefined;
    },
    90_000,
    1000,
  );
  assert.deepEqual(
    [...counts.values()].sort((a, b) => (a ?? 0) - (b ?? 0)),
    [...perInstance.values()].sort((a, b) => a - b),
    `per daemon ${JSON.stringify([...counts])}, per instance in the map ${JSON.stringify([...perInstance])}`,
  );
  // A daemon aborts at its replayer's next pick after the release that follows a duplicate;
  // give every replayer a few scans before reading the logs.
  await new Promise((r) => setTimeout(r, 10_000));
  assertNoDaemonAborted(env.lab);
});
