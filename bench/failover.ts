// Failover after a cephfs-mirror daemon dies, and the absence of failover when one is only
// paused, on the lab with real daemons (issue 13 item 3). With the default instance timeout
// (30 s) and tick (1 s):
// - engine as in production: SIGKILL one of 2 daemons holding half of N directories; time until
//   every directory is mapped on the survivor. The fast signal of death is on by default: the
//   engine's own monitor-session lookup (src/ceph/mon-sessions.ts, `sessions` on each monitor
//   through rados_mon_command_target);
// - engine, timeout only: the same with the lookup off (`monSessions: false`), as the mgr module;
// - the Pacific mgr module, the same kill, its dir map polled;
// - engine as in production: SIGSTOP one daemon for 20 s, then SIGCONT: did any directory move?
//
//   npm run bench failover     (or npx tsx bench/failover.ts; CEPH_LAB_ROOT if set, else a lab)
import {
  disableMgrMirroringModule,
  enableMgrMirroringModule,
  mgrAddDirectory,
  mgrDirMap,
} from '../lab/harness/mgr-module.js';
import { liveInstances } from '../lab/harness/mirroring.js';
import { waitFor } from '../lab/harness/wait.js';
import { MirrorEngine } from '../src/ceph/mirror-engine.js';
import {
  addAndWaitMapped,
  closeMirroringLab,
  daemonPid,
  openMirroringLab,
  resetDaemons,
  waitDiscovered,
  type MirroringLab,
} from './lab-kit.js';
import { printRunHeader, secs } from './machine.js';

const N = 100;
const DAEMONS = ['fobench1', 'fobench2'];
const MACHINE_SETUP =
  'lab: one mon, one mgr, one memstore OSD on 127.0.0.1, 2 cephfs-mirror daemons, no peer, shared with other work';

let lab: MirroringLab;
let runNo = 0;

function paths(n: number): string[] {
  runNo++;
  return Array.from({ length: n }, (_, i) => `/fobench${runNo}/d${i}`);
}

const pidOf = (clientId: string): number => daemonPid(lab.site, clientId);

/** An engine with both daemons discovered and N directories mapped between them. */
async function engineWithDirectories(fast: boolean): Promise<{
  engine: MirrorEngine;
  dirs: string[];
  confirmed: () => number | undefined;
}> {
  await resetDaemons(lab.a, lab.site, DAEMONS);
  let confirmedAt: number | undefined;
  const engine = await MirrorEngine.start({
    rados: lab.a,
    fsName: lab.site.fsName,
    ...(fast ? {} : { monSessions: false as const }),
    logger: {
      warn: (_m, detail) => {
        if (detail?.['reason'] === 'MonSessionGone') confirmedAt ??= performance.now();
      },
    },
  });
  await waitDiscovered(engine, 2);
  const dirs = paths(N);
  await addAndWaitMapped(engine, dirs, 120_000);
  return { engine, dirs, confirmed: () => confirmedAt };
}

function onOneInstance(engine: MirrorEngine, dirs: string[]): string | undefined {
  const holders = new Set(
    dirs.map((d) => (engine.status(d)?.state === 'mapped' ? engine.status(d)?.instanceId : '')),
  );
  const [only] = holders;
  return holders.size === 1 && only ? only : undefined;
}

async function engineKill(fast: boolean): Promise<string> {
  const { engine, dirs, confirmed } = await engineWithDirectories(fast);
  try {
    const started = performance.now();
    process.kill(pidOf(DAEMONS[0] as string), 'SIGKILL');
    await waitFor('all on the survivor', () => onOneInstance(engine, dirs), 120_000, 50);
    const total = performance.now() - started;
    const c = confirmed();
    return c === undefined
      ? `${secs(total)} (instance timeout path)`
      : `${secs(total)} (confirmed dead after ${secs(c - started)}, then ${secs(total - (c - started))})`;
  } finally {
    await engine.stop();
  }
}

async function engineStop20(): Promise<string> {
  const { engine, dirs } = await engineWithDirectories(true);
  try {
    const before = new Map(dirs.map((d) => [d, engine.status(d)?.instanceId]));
    const pid = pidOf(DAEMONS[0] as string);
    process.kill(pid, 'SIGSTOP');
    let moved = 0;
    try {
      const started = performance.now();
      while (performance.now() - started < 20_000) {
        moved = Math.max(
          moved,
          dirs.filter((d) => engine.status(d)?.instanceId !== before.get(d)).length,
        );
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await new Promise((r) => setTimeout(r, 5_000));
    const live = liveInstances(engine).length;
    return `${moved} of ${N} directories moved during the pause; ${live} daemons live 5 s after SIGCONT`;
  } finally {
    await engine.stop();
  }
}

async function moduleKill(): Promise<string> {
  const { a, site } = lab;
  await resetDaemons(a, site, DAEMONS);
  await enableMgrMirroringModule(a, site.fsName);
  try {
    const dirs = paths(N);
    for (const d of dirs) await mgrAddDirectory(a, site.fsName, d);
    const holders = async (): Promise<Set<string | undefined>> => {
      const all = await Promise.all(dirs.map((d) => mgrDirMap(a, site.fsName, d)));
      return new Set(all.map((s) => (s?.state === 'mapped' ? s.instance_id : undefined)));
    };
    await waitFor(
      'the module maps all on both daemons',
      async () => {
        const h = await holders();
        return h.size === 2 && !h.has(undefined);
      },
      180_000,
      1_000,
    );
    const started = performance.now();
    process.kill(pidOf(DAEMONS[0] as string), 'SIGKILL');
    await waitFor(
      'the module moves all to the survivor',
      async () => {
        const h = await holders();
        return h.size === 1 && !h.has(undefined);
      },
      180_000,
      500,
    );
    return secs(performance.now() - started);
  } finally {
    await disableMgrMirroringModule(a);
  }
}

async function main(): Promise<void> {
  const begun = performance.now();
  lab = await openMirroringLab();
  const rows: Array<[string, string]> = [];
  try {
    const what = `SIGKILL one of 2 daemons holding ${N / 2} of ${N} directories, until all mapped on the survivor`;
    rows.push([`failover, engine (production: fast signal on): ${what}`, await engineKill(true)]);
    console.error(rows.at(-1));
    rows.push([`failover, engine on the instance timeout only: ${what}`, await engineKill(false)]);
    console.error(rows.at(-1));
    rows.push([`failover, Pacific mgr module: ${what}`, await moduleKill()]);
    console.error(rows.at(-1));
    rows.push([
      'no failover, engine (production: fast signal on): SIGSTOP one of 2 daemons for 20 s (timeout 30 s)',
      await engineStop20(),
    ]);
    console.error(rows.at(-1));
  } finally {
    await closeMirroringLab(lab, DAEMONS);
  }
  printRunHeader(MACHINE_SETUP, begun);
  console.log('| measurement (instance timeout 30 s, tick 1 s) | result |');
  console.log('| --- | --- |');
  for (const [w, r] of rows) console.log(`| ${w} | ${r} |`);
}

await main();
