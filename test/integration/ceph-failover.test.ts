// Failover on the confirmed fast signal of death (issue 13 item 3), on the real lab with the
// default instance timeout (30 s): a SIGKILLed daemon's directories reach the live daemon well
// before the timeout, through the MonSessionGone path; a daemon SIGSTOPped for 20 s keeps its
// directories. The monitor-session lookup is supplied here through the ceph CLI (`tell mon.*
// sessions`): rados-js has no command to a named monitor yet (docs/ceph-layer.md, Liveness).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';
import { mirrorDaemonPid, startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import type { LabState } from '../../lab/harness/lab.js';
import {
  liveInstances,
  mounts,
  setUpMirroring,
  tearDownMirroring,
  type MirroredSites,
} from '../../lab/harness/mirroring.js';
import { labMonSessions } from '../../lab/harness/mon-sessions.js';
import { waitFor } from '../../lab/harness/wait.js';
import { MirrorEngine } from '../../src/ceph/mirror-engine.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';

let sites: MirroredSites | undefined;
let lab: LabState;
let a: Rados;
let fsA: CephFS;

before(async () => {
  sites = await setUpMirroring();
  ({ lab, a } = sites);
  ({ fsA } = mounts(sites));
});

after(async () => {
  await stopMirrorDaemon(lab.sites.a, 'fo1').catch(() => false);
  await stopMirrorDaemon(lab.sites.a, 'fo2').catch(() => false);
  await tearDownMirroring(sites);
});

interface Logged {
  at: number;
  message: string;
  detail: Record<string, unknown> | undefined;
}

test('a killed daemon is failed over on the fast path; one paused 20 s keeps its directories', async () => {
  const logged: Logged[] = [];
  const engine = await MirrorEngine.start({
    rados: a,
    fsName: lab.sites.a.fsName,
    monSessions: () => labMonSessions(lab.sites.a.confPath),
    logger: { warn: (message, detail) => logged.push({ at: Date.now(), message, detail }) },
  });
  const dirs = ['/fo/d1', '/fo/d2', '/fo/d3', '/fo/d4'];
  try {
    for (const d of dirs) await fsA.mkdirs(d);
    const earlier = new Set(engine.distribution().instances.map((i) => i.id));
    const fresh = (): string[] => liveInstances(engine).filter((id) => !earlier.has(id));
    await startMirrorDaemon(lab.sites.a, 'fo1');
    await startMirrorDaemon(lab.sites.a, 'fo2');
    const ids = await waitFor('both daemons discovered', () => {
      const live = fresh();
      return live.length === 2 ? live : undefined;
    });
    for (const d of dirs) await engine.addDirectory(d);
    const holder = (d: string): string | undefined =>
      engine.status(d)?.state === 'mapped'
        ? (engine.status(d)?.instanceId ?? undefined)
        : undefined;
    await waitFor('all four mapped', () => dirs.every((d) => holder(d) !== undefined));

    // SIGKILL: which instance id is fo1's is learnt from which one goes.
    const pid = mirrorDaemonPid(lab.sites.a, 'fo1');
    assert.ok(pid);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const survivor = await waitFor(
      'every directory on the survivor',
      () => {
        const holders = new Set(dirs.map(holder));
        const [only] = holders;
        return holders.size === 1 && only !== undefined && ids.includes(only) ? only : undefined;
      },
      45_000,
      100,
    );
    const movedAt = Date.now();
    const victim = ids.find((id) => id !== survivor) as string;
    const fast = logged.find(
      (l) =>
        l.detail?.['reason'] === 'MonSessionGone' &&
        (l.detail['instances'] as string[]).includes(victim),
    );
    console.log(
      `failover: SIGKILL -> confirmed dead ${fast ? ((fast.at - killedAt) / 1000).toFixed(1) : '?'} s,` +
        ` all directories on the survivor ${((movedAt - killedAt) / 1000).toFixed(1)} s`,
    );
    assert.ok(fast, 'the victim was declared dead on the fast path (MonSessionGone)');
    assert.ok(
      fast.at >= killedAt && fast.at <= movedAt,
      'declared dead, then its directories moved',
    );
    assert.equal(liveInstances(engine).includes(victim), false);

    // SIGSTOP the survivor for 20 s (instance timeout 30 s): its session stays, nothing moves.
    // A second live daemon (fo1 again, a new instance) so that a wrong failover had somewhere
    // to go, and the mass-failure hold plays no part.
    await startMirrorDaemon(lab.sites.a, 'fo1');
    const [other] = await waitFor('fo1 back as a new instance', () => {
      const live = fresh().filter((id) => id !== survivor && id !== victim);
      return live.length === 1 ? live : undefined;
    });
    assert.ok(other);
    const pid2 = mirrorDaemonPid(lab.sites.a, 'fo2');
    assert.ok(pid2);
    const stoppedAt = Date.now();
    process.kill(pid2, 'SIGSTOP');
    try {
      while (Date.now() - stoppedAt < 20_000) {
        assert.ok(liveInstances(engine).includes(survivor), 'the paused daemon stays live');
        assert.ok(
          dirs.every((d) => engine.status(d)?.instanceId === survivor),
          'its directories stay on it',
        );
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      process.kill(pid2, 'SIGCONT');
    }
    // Well after the resume, still there and answering.
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(liveInstances(engine).includes(survivor));
    assert.ok(dirs.every((d) => holder(d) === survivor));
    assert.equal(
      logged.some(
        (l) =>
          l.detail?.['reason'] === 'MonSessionGone' &&
          (l.detail['instances'] as string[]).includes(survivor),
      ),
      false,
    );
    for (const d of dirs) await engine.removeDirectory(d);
    await waitFor('all untracked', () => dirs.every((d) => engine.status(d) === undefined));
  } catch (e) {
    console.log('engine warnings:', JSON.stringify(logged));
    console.log('distribution:', JSON.stringify(engine.distribution()));
    throw e;
  } finally {
    await engine.stop();
    await stopMirrorDaemon(lab.sites.a, 'fo1');
    await stopMirrorDaemon(lab.sites.a, 'fo2');
  }
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(lab);
});
