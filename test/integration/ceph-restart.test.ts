// Restart without churn (issue 13 item 4), on the real lab: N directories mapped to two real
// cephfs-mirror daemons; the engine is stopped and a new one started. The new engine sends no
// notify (counted at the notifier port) and every directory stays mapped, while the daemons keep
// holding them (their own directory counts in the mgr service map). Then the crash between an
// acquire's ack and its mark is simulated (the mark removed by hand while no engine runs): that
// one pair is released and re-acquired, once, and marked again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';
import { startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import type { LabState } from '../../lab/harness/lab.js';
import {
  daemonDirectoryCount,
  liveInstances,
  mirrorOmap,
  mounts,
  setUpMirroring,
  tearDownMirroring,
  withIoCtx,
  type MirroredSites,
} from '../../lab/harness/mirroring.js';
import { waitFor } from '../../lab/harness/wait.js';
import { MIRROR_OBJECT_NAME } from '../../src/ceph/dir-map-codec.js';
import { HOLD_MARK_PREFIX, holdMarkKey } from '../../src/ceph/hold-mark-codec.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';

const N = 40;
const DIRS = Array.from({ length: N }, (_, i) => `/rs/d${i}`);
const DAEMONS = ['rs1', 'rs2'];

let sites: MirroredSites | undefined;
let lab: LabState;
let a: Rados;
let fsA: CephFS;
let engine: MirrorEngine | undefined;
/** Notifies sent by the engine running now, by mode. */
let sent = { acquire: 0, release: 0 };

before(async () => {
  sites = await setUpMirroring();
  ({ lab, a } = sites);
  ({ fsA } = mounts(sites));
  for (const d of DIRS) await fsA.mkdirs(d);
});

after(async () => {
  try {
    if (engine) {
      for (const d of DIRS) if (engine.status(d)) await engine.removeDirectory(d);
      await waitFor('all untracked', () => DIRS.every((d) => engine?.status(d) === undefined));
      await engine.stop();
    }
  } finally {
    for (const d of DAEMONS) await stopMirrorDaemon(lab.sites.a, d).catch(() => false);
    await tearDownMirroring(sites);
  }
});

async function startEngine(): Promise<MirrorEngine> {
  sent = { acquire: 0, release: 0 };
  return MirrorEngine.start({
    rados: a,
    fsName: lab.sites.a.fsName,
    onNotify: (mode) => void sent[mode]++,
  });
}

const mapped = (e: MirrorEngine, d: string): boolean => e.status(d)?.state === 'mapped';

/** Directory counts the daemons publish in the service map, once they add up to N. */
async function daemonsHoldAll(): Promise<number[]> {
  return waitFor(`the daemons report ${N} directories`, async () => {
    const counts = await Promise.all(
      DAEMONS.map((d) => daemonDirectoryCount(a, lab.sites.a.fsName, d)),
    );
    const sum = counts.reduce<number>((s, c) => s + (c ?? 0), 0);
    return sum === N ? counts.map((c) => c ?? 0) : undefined;
  });
}

async function marks(): Promise<Map<string, string>> {
  const entries = await mirrorOmap(a, lab.sites.a.metadataPool);
  return new Map(
    entries
      .filter(([k]) => k.startsWith(HOLD_MARK_PREFIX))
      .map(([k, v]) => [k.slice(HOLD_MARK_PREFIX.length), Buffer.from(v, 'hex').toString()]),
  );
}

test('a restarted engine sends no notify and every directory stays mapped and held', async () => {
  engine = await startEngine();
  const earlier = new Set(engine.distribution().instances.map((i) => i.id));
  for (const d of DAEMONS) await startMirrorDaemon(lab.sites.a, d);
  await waitFor('both daemons discovered', () => {
    const live = liveInstances(engine as MirrorEngine).filter((id) => !earlier.has(id));
    return live.length === 2;
  });
  for (const d of DIRS) await engine.addDirectory(d);
  await waitFor('all mapped', () => DIRS.every((d) => engine && mapped(engine, d)));
  await waitFor('marks written', async () => (await marks()).size === N && engine?.isQuiet());
  assert.equal(sent.acquire, N, 'one acquire per directory');
  const countsBefore = await daemonsHoldAll();
  const holders = new Map(DIRS.map((d) => [d, engine?.status(d)?.instanceId]));
  await engine.stop();

  engine = await startEngine();
  const e = engine;
  // Mapped from the first moment: no "resolving" step (a directory would leave Ready).
  assert.deepEqual(
    DIRS.filter((d) => !mapped(e, d)),
    [],
  );
  const left: string[] = [];
  e.onDirectoryChanged((d) => {
    if (!mapped(e, d)) left.push(`${d}:${e.status(d)?.state}`);
  });
  // Several ticks and discovery rounds: still nothing sent, nothing moved.
  const until = Date.now() + 4000;
  await waitFor('four seconds of the new engine', () => Date.now() > until, 10_000, 200);
  assert.deepEqual(sent, { acquire: 0, release: 0 }, 'the new engine sent no notify');
  assert.deepEqual(left, [], 'no directory left mapped');
  assert.deepEqual(new Map(DIRS.map((d) => [d, e.status(d)?.instanceId])), holders);
  assert.deepEqual(await daemonsHoldAll(), countsBefore, 'the daemons still hold their share');
});

test('a crash between an ack and its mark: that pair alone is released and re-acquired, once', async () => {
  assert.ok(engine);
  const victim = DIRS[7] as string;
  const holder = engine.status(victim)?.instanceId;
  assert.ok(holder);
  await engine.stop();
  // What a crash after the daemon's ack and before the mark write leaves: no mark.
  await withIoCtx(a, lab.sites.a.metadataPool, (io) =>
    io.omapWrite(MIRROR_OBJECT_NAME, { remove: [holdMarkKey(victim)] }),
  );
  assert.equal((await marks()).has(victim), false);

  engine = await startEngine();
  const e = engine;
  assert.equal(e.status(victim)?.state, 'resolving');
  await waitFor('the victim re-acquired and marked', async () => {
    return mapped(e, victim) && e.isQuiet() && (await marks()).has(victim);
  });
  assert.deepEqual(sent, { acquire: 1, release: 1 }, 'one release, then one acquire');
  assert.equal(e.status(victim)?.instanceId, holder);
  assert.deepEqual(
    DIRS.filter((d) => !mapped(e, d)),
    [],
  );
  await daemonsHoldAll();
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(lab);
});
