// A restart without churn (issue 13 item 4), on the lab with real daemons: N directories mapped
// on 2 cephfs-mirror daemons by one engine, which is stopped; a new engine starts on the same
// map. Measured for the new engine:
// - ready: MirrorEngine.start resolved (lock taken, dir map + marks + instances loaded at one
//   version, policy loaded, timer armed: the first tick can run), and the load alone;
// - notifies it sent in its first 10 s (acquire/release, counted at the notifier port);
// - directories that left ASSOCIATED ("mapped") meanwhile.
// The same restart without the acquire marks (deleted by hand: what every restart did before)
// runs after it, for comparison, until every directory is mapped again.
//
//   npm run bench restart      (or npx tsx bench/restart.ts; CEPH_LAB_ROOT if set, else a lab)
//   BENCH_RESTART_DIRS=1000 for a smaller run.
import { daemonDirectoryCount, withIoCtx } from '../lab/harness/mirroring.js';
import { waitFor } from '../lab/harness/wait.js';
import { MIRROR_OBJECT_NAME } from '../src/ceph/dir-map-codec.js';
import { OMAP_PAGE, RadosDirMapStore } from '../src/ceph/dir-map-store.js';
import { HOLD_MARK_PREFIX } from '../src/ceph/hold-mark-codec.js';
import { MirrorEngine } from '../src/ceph/mirror-engine.js';
import {
  closeMirroringLab,
  mappedCount,
  openMirroringLab,
  resetDaemons,
  waitDiscovered,
  type MirroringLab,
} from './lab-kit.js';
import { printRunHeader, secs } from './machine.js';

const N = Number(process.env['BENCH_RESTART_DIRS'] ?? 10_000);
const DAEMONS = ['rsbench1', 'rsbench2'];
const OBSERVE_MS = 10_000;
const MACHINE_SETUP =
  'lab: one mon, one mgr, one memstore OSD on 127.0.0.1, 2 cephfs-mirror daemons, no peer, shared with other work';

let lab: MirroringLab;

interface Counted {
  engine: MirrorEngine;
  sent: { acquire: number; release: number };
  readyMs: number;
}

async function startCounted(): Promise<Counted> {
  const sent = { acquire: 0, release: 0 };
  const t0 = performance.now();
  const engine = await MirrorEngine.start({
    rados: lab.a,
    fsName: lab.site.fsName,
    onNotify: (mode) => void sent[mode]++,
  });
  return { engine, sent, readyMs: performance.now() - t0 };
}

/** The load alone (read-only, no lock), as the engine does it. */
async function loadMs(): Promise<{ ms: number; dirs: number; marks: number }> {
  return withIoCtx(lab.a, lab.site.metadataPool, async (io) => {
    const t0 = performance.now();
    const map = await new RadosDirMapStore(io).load();
    return { ms: performance.now() - t0, dirs: map.directories.length, marks: map.marks.length };
  });
}

/** Watch a fresh engine: directories that left mapped, until `until` says stop. */
async function observe(
  c: Counted,
  until: () => boolean,
  timeoutMs: number,
): Promise<{ left: number; ms: number }> {
  const left = new Set<string>();
  const t0 = performance.now();
  for (const d of c.engine.trackedPaths()) {
    if (c.engine.status(d)?.state !== 'mapped') left.add(d);
  }
  const off = c.engine.onDirectoryChanged((d) => {
    if (c.engine.status(d)?.state !== 'mapped') left.add(d);
  });
  try {
    await waitFor('the observation', until, timeoutMs, 50);
  } finally {
    off();
  }
  return { left: left.size, ms: performance.now() - t0 };
}

/** The daemons' own directory counts (service map), once they add up to N or after 60 s. */
async function daemonCounts(): Promise<string> {
  const read = (): Promise<Array<number | undefined>> =>
    Promise.all(
      DAEMONS.map((d) => daemonDirectoryCount(lab.a, lab.site.fsName, d).catch(() => undefined)),
    );
  const sum = (c: Array<number | undefined>): number => c.reduce<number>((s, x) => s + (x ?? 0), 0);
  const counts = await waitFor('the daemons report N', async () => {
    const c = await read();
    return sum(c) === N ? c : undefined;
  }).catch(() => read());
  return counts.map((c) => c ?? '?').join(' + ');
}

const ms = (t: number): string => `${t.toFixed(0)} ms`;

async function removeMarks(): Promise<number> {
  return withIoCtx(lab.a, lab.site.metadataPool, async (io) => {
    let removed = 0;
    for (;;) {
      const page = await io.omapGetVals(MIRROR_OBJECT_NAME, {
        prefix: HOLD_MARK_PREFIX,
        max: OMAP_PAGE,
      });
      if (page.entries.length === 0) return removed;
      await io.omapWrite(MIRROR_OBJECT_NAME, { remove: page.entries.map(([k]) => k) });
      removed += page.entries.length;
    }
  });
}

async function main(): Promise<void> {
  const begun = performance.now();
  lab = await openMirroringLab();
  const rows: Array<[string, string]> = [];
  const row = (what: string, result: string): void => {
    rows.push([what, result]);
    console.error(`${what}: ${result}`);
  };
  let current: MirrorEngine | undefined;
  try {
    await resetDaemons(lab.a, lab.site, DAEMONS);

    // The map: N directories acquired by the daemons through a first engine.
    const first = await startCounted();
    current = first.engine;
    await waitDiscovered(first.engine, 2);
    const t0 = performance.now();
    const dirs = Array.from({ length: N }, (_, i) => `/rsbench/g${i % 100}/d${i}`);
    for (let i = 0; i < N; i += 500) {
      await Promise.all(dirs.slice(i, i + 500).map((d) => first.engine.addDirectory(d)));
    }
    await waitFor('all mapped', () => mappedCount(first.engine) === N, 600_000, 100);
    await waitFor('marks written', () => first.engine.isQuiet(), 120_000, 100);
    row(
      `set-up: ${N} directories mapped on 2 daemons by a first engine`,
      `${secs(performance.now() - t0)}, ${first.sent.acquire} acquires; daemons report ${await daemonCounts()}`,
    );
    await first.engine.stop();
    current = undefined;

    const cold = await loadMs();
    const warm = await loadMs();
    row(
      'load alone: dir map + marks + instances at one version (first in the process, then again)',
      `${ms(cold.ms)}, ${ms(warm.ms)} (${warm.dirs} directories, ${warm.marks} marks)`,
    );

    // The restart with marks.
    const second = await startCounted();
    current = second.engine;
    const at = performance.now();
    const seen = await observe(second, () => performance.now() - at > OBSERVE_MS, 60_000);
    row('restart: engine ready (MirrorEngine.start resolved)', ms(second.readyMs));
    row(
      `restart: notifies sent in its first ${OBSERVE_MS / 1000} s`,
      `${second.sent.acquire} acquires, ${second.sent.release} releases`,
    );
    row('restart: directories that left ASSOCIATED', String(seen.left));
    row('restart: daemons report afterwards', await daemonCounts());
    await second.engine.stop();
    current = undefined;

    // The same restart without marks: what every restart cost before them.
    const removed = await removeMarks();
    const third = await startCounted();
    current = third.engine;
    const again = await observe(
      third,
      () => mappedCount(third.engine) === N && third.engine.isQuiet(),
      600_000,
    );
    row(`restart without marks (${removed} deleted by hand): engine ready`, ms(third.readyMs));
    row(
      'restart without marks: notifies until all mapped again',
      `${third.sent.acquire} acquires, ${third.sent.release} releases; all mapped after ${secs(again.ms)}`,
    );
    row('restart without marks: directories that left ASSOCIATED', String(again.left));
  } finally {
    await current?.stop();
    // Also empties the dir map (tearDownMirroring), marks included.
    await closeMirroringLab(lab, DAEMONS);
  }
  printRunHeader(MACHINE_SETUP, begun);
  console.log(`| measurement (${N} directories, 2 daemons, tick 1 s) | result |`);
  console.log('| --- | --- |');
  for (const [w, r] of rows) console.log(`| ${w} | ${r} |`);
}

await main();
