// Scheduled snapshots and the recovery point on a real kube-apiserver, the real lab and a real
// cephfs-mirror daemon, with a test-sized interval (--min-snapshot-interval-seconds): the
// operator's snapshots appear on both sites, retention prunes on both (the daemon carries the
// deletes), an operator SIGKILLed mid-schedule and restarted neither doubles a slot nor bursts
// (one catch-up for the current slot); the mirror daemon stopped → RPOExceeded with the lag
// growing, started again → RPOMet, with an Event each time and the lag metric on /metrics; a path
// the mgr snap_schedule module schedules is refused (ScheduledElsewhere).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { ceph, startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import { createBootstrapToken } from '../../src/ceph/bootstrap.js';
import type { MirroredDirectory } from '../../src/api/resources.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';
import {
  API_VERSION,
  applyObjects,
  conditionOf,
  mirrorObject,
  operatorHttpPort,
  setUpE2e,
  tearDownE2e,
  tokenPeerObjects,
  waitForEvent,
  waitForReady,
  type E2eEnv,
} from '../support/e2e.js';
import { kubectl, kubectlJson } from '../../lab/harness/kube.js';
import type { OperatorProcess } from '../../lab/harness/operator.js';
import { waitFor } from '../../lab/harness/wait.js';

const NS = 'e2e-snapshots';
const MIRROR = 'site-a';
const DAEMON = 'e2e-snapshots';
const PATH = '/e2e-snapshots/data';
const PREFIX = 'sched-';
const INTERVAL_S = 8;
const KEEP = 3;
const RPO_S = 25;
const OPERATOR_ARGS = ['--min-snapshot-interval-seconds', '5'];
let env: E2eEnv;
let operator: OperatorProcess;
let fsA: CephFS;
let fsB: CephFS;

before(async () => {
  env = await setUpE2e({ namespace: NS, mirrorDaemons: [DAEMON] });
  fsA = await CephFS.mount({ confPath: env.lab.sites.a.confPath, fsName: 'a', timeoutMs: 20_000 });
  fsB = await CephFS.mount({ confPath: env.lab.sites.b.confPath, fsName: 'b', timeoutMs: 20_000 });
  await fsA.mkdirs(PATH);
  await fsA.writeFile(`${PATH}/file.txt`, 'scheduled\n');
  operator = env.operator(OPERATOR_ARGS);
  const token = await createBootstrapToken(env.b, 'b', 'client.mirror_remote', 'site-b');
  await applyObjects(env.kube, [
    mirrorObject(NS, MIRROR, 'a'),
    ...tokenPeerObjects(NS, MIRROR, token),
  ]);
  await waitForReady(env.kube, NS, 'mirrorpeer/site-b', { status: 'True' }, 120_000);
});

after(async () => {
  try {
    await tearDownE2e(env);
  } finally {
    for (const s of await fsA.listSnaps(PATH).catch(() => [])) {
      await fsA.rmsnap(PATH, s).catch(() => undefined);
    }
    await fsA?.close();
    await fsB?.close();
  }
});

/** Our snapshots on a site, oldest first (the names sort by time). */
async function ours(fs: CephFS): Promise<string[]> {
  const names = await fs.listSnaps(PATH).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(PREFIX)).sort();
}

function slotMs(name: string): number {
  const stamp = name.slice(PREFIX.length).replace(/T(\d\d)-(\d\d)-(\d\d)Z$/, 'T$1:$2:$3Z');
  return Date.parse(stamp);
}

async function getDir(): Promise<MirroredDirectory> {
  return kubectlJson<MirroredDirectory>(env.kube, ['-n', NS, 'get', 'mirroreddirectory/data']);
}

test('snapshots on schedule reach site-b; retention prunes on both sites', async () => {
  await applyObjects(env.kube, [
    {
      apiVersion: API_VERSION,
      kind: 'MirroredDirectory',
      metadata: { name: 'data', namespace: NS },
      spec: {
        mirrorRef: { name: MIRROR },
        path: PATH,
        snapshots: {
          schedule: `${INTERVAL_S}s`,
          namePrefix: PREFIX,
          retention: { keepLast: KEEP },
        },
        rpoSeconds: RPO_S,
      },
    },
  ]);
  await waitForReady(env.kube, NS, 'mirroreddirectory/data', { status: 'True' }, 90_000);
  // KEEP + 2 slots: at least two of ours have been pruned by then.
  const first = await waitFor(
    'a first scheduled snapshot',
    async () => (await ours(fsA))[0],
    30_000,
  );
  await waitFor(
    `${KEEP + 2} slots after the first snapshot`,
    () => Date.now() >= slotMs(first) + (KEEP + 2) * INTERVAL_S * 1000 + 2000 || undefined,
    (KEEP + 4) * INTERVAL_S * 1000,
    500,
  );
  const a = await ours(fsA);
  assert.ok(a.length <= KEEP, `at most ${KEEP} of ours kept on site-a: ${a.join(' ')}`);
  assert.ok(!a.includes(first), 'the first one was pruned');
  // Consecutive slots: none skipped among those kept.
  for (let i = 1; i < a.length; i++) {
    assert.equal(
      slotMs(a[i] as string) - slotMs(a[i - 1] as string),
      INTERVAL_S * 1000,
      a.join(' '),
    );
  }
  // The daemon carries both the new snapshots and the deletes to site-b.
  await waitFor(
    'site-b to hold exactly the kept snapshots of an older point of site-a',
    async () => {
      const b = await ours(fsB);
      const nowA = await ours(fsA);
      return (b.length > 0 && b.every((n) => nowA.includes(n)) && !b.includes(first)) || undefined;
    },
    60_000,
  );
  const someB = (await ours(fsB)).at(-1) as string;
  assert.equal((await fsB.readFile(`${PATH}/.snap/${someB}/file.txt`)).toString(), 'scheduled\n');
  const dir = await getDir();
  assert.equal(dir.status?.snapshots?.count !== undefined, true);
  const wide = await kubectl(env.kube, ['-n', NS, 'get', 'mdir', 'data', '-o', 'wide']);
  for (const column of ['SOURCE', 'LAG', 'LAST SYNCED']) assert.match(wide, new RegExp(column));
  assert.match(wide, new RegExp(`path ${PATH}`));
  assert.ok(dir.status?.peers?.[0]?.lastSyncedSnapshot?.startsWith(PREFIX));
});

test('an operator SIGKILLed mid-schedule and restarted: no slot twice, one catch-up, no burst', async () => {
  const before = await ours(fsA);
  await operator.kill();
  const killedAt = Date.now();
  // Down for more than two slots.
  await waitFor(
    'two and a half intervals to pass',
    () => Date.now() - killedAt >= 2.5 * INTERVAL_S * 1000 || undefined,
    4 * INTERVAL_S * 1000,
    500,
  );
  const restartedAt = Date.now();
  operator = env.operator(OPERATOR_ARGS);
  const currentSlot = Math.floor(restartedAt / (INTERVAL_S * 1000)) * INTERVAL_S * 1000;
  const after = await waitFor(
    'the catch-up snapshot of the current slot',
    async () => {
      const names = await ours(fsA);
      return names.some((n) => slotMs(n) >= currentSlot) ? names : undefined;
    },
    60_000,
  );
  const newOnes = after.filter((n) => !before.includes(n));
  // Slots that began and ended while the operator was down have no snapshot.
  const downSlots = newOnes.filter((n) => slotMs(n) < currentSlot && slotMs(n) > killedAt);
  assert.deepEqual(downSlots, [], `no burst for the slots missed while down: ${after.join(' ')}`);
  const slots = after.map(slotMs);
  assert.equal(new Set(slots).size, slots.length, 'each slot at most once');
});

test('the mirror daemon stopped: RPOExceeded with the lag growing; started again: RPOMet', async () => {
  const port = await operatorHttpPort(operator);
  await waitForReady(env.kube, NS, 'mirroreddirectory/data', { status: 'True' }, 90_000);
  await waitFor(
    'RPOMet while the daemon runs',
    async () => (conditionOf(await getDir(), 'RPOMet')?.status === 'True' ? true : undefined),
    90_000,
  );
  await stopMirrorDaemon(env.lab.sites.a, DAEMON);
  env.mirrorDaemons.splice(env.mirrorDaemons.indexOf(DAEMON), 1);
  const exceeded = await waitFor(
    'RPOExceeded',
    async () => {
      const d = await getDir();
      return conditionOf(d, 'RPOMet')?.reason === 'RPOExceeded' ? d : undefined;
    },
    120_000,
  );
  const lag1 = exceeded.status?.lagSeconds as number;
  assert.ok(lag1 > RPO_S, `lag ${lag1} s over the RPO`);
  await waitForEvent(env.kube, NS, {
    kind: 'MirroredDirectory',
    name: 'data',
    reason: 'RPOExceeded',
  });
  await waitFor(
    'the lag to grow',
    async () => ((await getDir()).status?.lagSeconds ?? 0) > lag1 || undefined,
    60_000,
  );
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith('cephfs_mirror_directory_lag_seconds{') && l.includes('"data"'));
  assert.ok(line && Number(line.split(' ').at(-1)) > RPO_S, `lag metric: ${line}`);

  await startMirrorDaemon(env.lab.sites.a, DAEMON);
  env.mirrorDaemons.push(DAEMON);
  await waitFor(
    'RPOMet again',
    async () => (conditionOf(await getDir(), 'RPOMet')?.reason === 'RPOMet' ? true : undefined),
    180_000,
  );
  await waitForEvent(env.kube, NS, { kind: 'MirroredDirectory', name: 'data', reason: 'RPOMet' });
});

test('a path the mgr snap_schedule module schedules is refused: ScheduledElsewhere', async () => {
  const path = '/e2e-snapshots/elsewhere';
  await fsA.mkdirs(path);
  const cephA = (args: string[]): Promise<string> => ceph(env.lab.sites.a.confPath, args);
  await cephA(['mgr', 'module', 'enable', 'snap_schedule']);
  try {
    await waitFor(
      'the snap_schedule module to take a schedule',
      () =>
        cephA(['fs', 'snap-schedule', 'add', path, '1h', '--fs', 'a']).then(
          () => true,
          () => undefined,
        ),
      90_000,
      2000,
    );
    await applyObjects(env.kube, [
      {
        apiVersion: API_VERSION,
        kind: 'MirroredDirectory',
        metadata: { name: 'elsewhere', namespace: NS },
        spec: { mirrorRef: { name: MIRROR }, path, snapshots: { schedule: '1h' } },
      },
    ]);
    const d = await waitForReady<MirroredDirectory>(
      env.kube,
      NS,
      'mirroreddirectory/elsewhere',
      { status: 'False', reason: 'ScheduledElsewhere' },
      90_000,
    );
    assert.match(conditionOf(d)?.message ?? '', /snap_schedule/);
    assert.deepEqual(await fsA.listSnaps(path), [], 'the operator took no snapshot');
  } finally {
    await kubectl(env.kube, ['-n', NS, 'delete', 'mirroreddirectory/elsewhere', '--wait=false']);
    await cephA(['fs', 'snap-schedule', 'remove', path, '--fs', 'a']).catch(() => undefined);
    await cephA(['mgr', 'module', 'disable', 'snap_schedule']);
  }
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(env.lab);
});
