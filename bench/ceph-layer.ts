// The Ceph layer against the real Pacific mgr `mirroring` module, on the lab with real
// cephfs-mirror daemons: how long until N directories are mapped and acquired (the daemon acked
// the acquire), through MirrorEngine and through the module; failover after a daemon is killed;
// rebalance after a daemon joins. Prints a markdown table and the machine it ran on.
//
//   npx tsx bench/ceph-layer.ts        (uses CEPH_LAB_ROOT if set, else starts a private lab)
//   BENCH_SCALE=small npx tsx bench/ceph-layer.ts   (a quick smoke run with small counts)
//   BENCH_PARTS=load npx tsx bench/ceph-layer.ts    (only some parts: load, map, failover,
//                                                    rebalance, comma-separated; default all)
//   BENCH_LOAD_ENTRIES=100000                       (dir-map entries of the load part)
//
// The load part writes BENCH_LOAD_ENTRIES dir-map entries (and two instance records) into the
// real `cephfs_mirror` object, times RadosDirMapStore.load (paged omap reads plus decoding into
// the policy's records), the driver's start from what was loaded (the policy's state), and the
// mgr module's load of the same object (from `mgr module enable` until `dirmap` answers for a
// path of the map, less the same with a one-entry map: the module's respawn and start).
//
// The directories do not exist in the filesystem and no peer is configured: the daemons still
// acquire (and ack) them, and with no peer they have nothing to copy, so the figures are the
// mapping protocol's (dir-map writes, acquire notifies and acks), not snapshot transfer.
import {
  addAndWaitMapped,
  closeMirroringLab,
  daemonPid,
  groupedPaths,
  mappedCount,
  moduleMapRun,
  openMirroringLab,
  resetDaemons as resetLabDaemons,
  waitDiscovered,
} from './lab-kit.js';
import { printRunHeader, secs } from './machine.js';
import type { Rados } from 'rados-js';
import { startMirrorDaemon, type SiteInfo } from '../lab/ceph-cluster.js';
import {
  INSTANCE_PREFIX,
  MIRROR_OBJECT_NAME,
  dirMapKey,
  encodeDirMapRecord,
  encodeInstanceRecord,
} from '../src/ceph/dir-map-codec.js';
import { RadosDirMapStore } from '../src/ceph/dir-map-store.js';
import { MirrorEngine } from '../src/ceph/mirror-engine.js';
import { FilesystemMirrorDriver, type Tunables } from '../src/reconcile/index.js';
import { FakeClock, InMemoryNotifier, RecordingBlocklister } from '../src/reconcile/testing.js';
import {
  disableMgrMirroringModule,
  enableMgrMirroringModule,
  mgrDirMap,
  type ModuleRunResult,
} from '../lab/harness/mgr-module.js';
import { clearDirMap, daemonDirectoryCount, liveInstances } from '../lab/harness/mirroring.js';
import { waitFor } from '../lab/harness/wait.js';

const MACHINE_SETUP =
  'lab: one mon, one mgr, one memstore OSD on 127.0.0.1, 2 cephfs-mirror daemons, no peer, shared with other work';
const SMALL = process.env['BENCH_SCALE'] === 'small';
const ENGINE_COUNTS = SMALL ? [100, 500] : [1_000, 10_000];
const MODULE_COUNTS = SMALL ? [100, 500] : [1_000, 10_000];
/** The module's run stops adding/waiting after this long and reports how far it got. */
const MODULE_CAP_MS = SMALL ? 120_000 : 480_000;
const FAILOVER_DIRS = SMALL ? 100 : 2_000;
const REBALANCE_DIRS = SMALL ? 100 : 2_000;
const DAEMONS = ['bench1', 'bench2'];
const PARTS = new Set(
  (process.env['BENCH_PARTS'] ?? 'load,map,failover,rebalance').split(',').map((p) => p.trim()),
);
const LOAD_ENTRIES = Number(process.env['BENCH_LOAD_ENTRIES'] ?? (SMALL ? 10_000 : 100_000));
const LOAD_RUNS = 3;
/** Instance ids of the written map: no such daemons run, so nothing acts on the entries. */
const LOAD_INSTANCES = ['9100001', '9100002'];

interface Row {
  what: string;
  engine: string;
  module: string;
  ratio: string;
}

let a: Rados;
let site: SiteInfo;
let runNo = 0;

/** A new set of paths for each run (the root names the run). */
function paths(n: number): string[] {
  runNo++;
  return groupedPaths(`/bench${runNo}`, n);
}

/** Fresh daemons (they drop what they held) and an empty dir map, between runs. */
const resetDaemons = (count: number): Promise<void> => resetLabDaemons(a, site, DAEMONS, count);

async function startEngine(
  daemons: number,
  tunables: Partial<Tunables> = {},
  options: { monSessions?: false } = {},
): Promise<MirrorEngine> {
  const engine = await MirrorEngine.start({ rados: a, fsName: site.fsName, tunables, ...options });
  await waitDiscovered(engine, daemons);
  return engine;
}

/** Engine: first add until every directory is mapped (acquired) on one of the 2 daemons. */
async function engineMapAndAcquire(n: number): Promise<number> {
  await resetDaemons(2);
  const engine = await startEngine(2);
  try {
    const dirs = paths(n);
    const started = performance.now();
    await addAndWaitMapped(engine, dirs, 600_000);
    const ms = performance.now() - started;
    // Not timed: the daemons really hold them (their status reports the counts a few seconds late).
    await waitFor(
      `the daemons to report ${n} directories`,
      async () => {
        const counts = await Promise.all(
          DAEMONS.map((d) => daemonDirectoryCount(a, site.fsName, d)),
        );
        return counts.reduce((x: number, c) => x + (c ?? 0), 0) === n;
      },
      120_000,
      1_000,
    );
    return ms;
  } finally {
    await engine.stop();
  }
}

/** The module's run on 2 fresh daemons (lab-kit moduleMapRun), capped at MODULE_CAP_MS. */
async function moduleMapAndAcquire(n: number): Promise<ModuleRunResult> {
  // The probe is named after the previous run, as before the run's paths are drawn.
  const probe = `/bench-probe${runNo}`;
  return moduleMapRun(a, site, DAEMONS, probe, paths(n), MODULE_CAP_MS);
}

/** Kill one of two daemons holding n directories; time until all are mapped on the survivor. */
async function failover(n: number): Promise<{ total: number; detect: number }> {
  await resetDaemons(2);
  // The instance-timeout path this row has always measured (the fast path: bench/failover.ts).
  const engine = await startEngine(2, {}, { monSessions: false });
  try {
    await addAndWaitMapped(engine, paths(n), 600_000);
    const pid = daemonPid(site, 'bench1');
    const started = performance.now();
    process.kill(pid, 'SIGKILL');
    const [survivor] = await waitFor(
      'the killed daemon declared dead',
      () => {
        const live = liveInstances(engine);
        return live.length === 1 ? live : undefined;
      },
      120_000,
      50,
    );
    const detect = performance.now() - started;
    await waitFor(
      'every directory on the survivor',
      () =>
        mappedCount(engine) === n &&
        engine.mgrSummary().mapping[survivor as string] === `${n} directories`,
      600_000,
      50,
    );
    return { total: performance.now() - started, detect };
  } finally {
    await engine.stop();
  }
}

/** n directories on one daemon; start a second; time until they are split evenly. */
async function rebalance(n: number): Promise<{ total: number; discover: number }> {
  await resetDaemons(1);
  const engine = await startEngine(1, { shuffleThrottleSeconds: 0 });
  try {
    await addAndWaitMapped(engine, paths(n), 600_000);
    const started = performance.now();
    await startMirrorDaemon(site, 'bench2');
    await waitFor(
      'the second daemon discovered',
      () => liveInstances(engine).length === 2,
      90_000,
      50,
    );
    const discover = performance.now() - started;
    const half = `${n / 2} directories`;
    await waitFor(
      'an even split',
      () => {
        const counts = Object.values(engine.mgrSummary().mapping);
        return mappedCount(engine) === n && counts.length === 2 && counts.every((c) => c === half);
      },
      600_000,
      50,
    );
    return { total: performance.now() - started, discover };
  } finally {
    await engine.stop();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function ms(values: number[]): string {
  return `${median(values).toFixed(0)} ms (runs ${values.map((v) => v.toFixed(0)).join(', ')})`;
}

/**
 * Writes n dir-map entries, mapped half to each of LOAD_INSTANCES, plus their instance records:
 * ops of 256 entries, 8 in flight (one object, so the OSD applies them one after another anyway).
 */
async function writeLoadMap(n: number): Promise<string[]> {
  const paths = Array.from(
    { length: n },
    (_, i) => `/volumes/group${i % 100}/subvol${String(i).padStart(6, '0')}`,
  );
  const io = await a.openIoCtx(site.metadataPool);
  try {
    await io.omapWrite(MIRROR_OBJECT_NAME, {
      set: LOAD_INSTANCES.map((id): [string, Buffer] => [
        INSTANCE_PREFIX + id,
        encodeInstanceRecord({ version: 1, addr: `127.0.0.1:0/${id}` }),
      ]),
    });
    const ops: Array<Array<[string, Buffer]>> = [];
    for (let i = 0; i < n; i += 256) {
      ops.push(
        paths.slice(i, i + 256).map((p, j): [string, Buffer] => [
          dirMapKey(p),
          encodeDirMapRecord({
            version: 1,
            instanceId: LOAD_INSTANCES[(i + j) % 2] as string,
            lastShuffled: 1_700_000_000.5 + i + j,
          }),
        ]),
      );
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < ops.length) {
          const set = ops[next++] as Array<[string, Buffer]>;
          await io.omapWrite(MIRROR_OBJECT_NAME, { set });
        }
      }),
    );
  } finally {
    await io.close();
  }
  return paths;
}

/** The load of a large map: store.load, the driver's start from it, the module's load. */
async function loadParts(rows: Row[]): Promise<void> {
  await resetDaemons(0);
  const count = LOAD_ENTRIES.toLocaleString('en');
  // The module's fixed cost first, on a map of one entry.
  const [probe] = await writeLoadMap(1);
  const moduleBase = await moduleLoad(probe as string);
  await clearDirMap(a, site.metadataPool);

  let t0 = performance.now();
  const paths = await writeLoadMap(LOAD_ENTRIES);
  const writeMs = performance.now() - t0;
  console.error(`wrote ${count} entries in ${secs(writeMs)}`);
  const io = await a.openIoCtx(site.metadataPool);
  const loads: number[] = [];
  const starts: number[] = [];
  try {
    for (let run = 0; run < LOAD_RUNS; run++) {
      t0 = performance.now();
      const loaded = await new RadosDirMapStore(io).load();
      loads.push(performance.now() - t0);
      if (loaded.directories.length !== LOAD_ENTRIES || loaded.unreadable.length > 0) {
        throw new Error(
          `loaded ${loaded.directories.length} directories, ${loaded.unreadable.length} unreadable`,
        );
      }
      const driver = new FilesystemMirrorDriver({
        store: new RadosDirMapStore(io),
        notifier: new InMemoryNotifier(true),
        blocklister: new RecordingBlocklister(),
        clock: new FakeClock(),
      });
      t0 = performance.now();
      driver.start(loaded);
      starts.push(performance.now() - t0);
      console.error(
        `load ${loads.at(-1)?.toFixed(0)} ms, driver start ${starts.at(-1)?.toFixed(0)} ms`,
      );
      if (driver.status(paths[LOAD_ENTRIES - 1] as string) === undefined) {
        throw new Error('the last loaded directory is unknown after the driver started');
      }
      await driver.stop();
    }
  } finally {
    await io.close();
  }
  const moduleFull = await moduleLoad(paths[LOAD_ENTRIES - 1] as string);
  await clearDirMap(a, site.metadataPool);
  rows.push({
    what: `load ${count} dir-map entries: RadosDirMapStore.load (paged omap reads + decoding)`,
    engine: ms(loads),
    module:
      `${secs(moduleFull - moduleBase)} (enable until dirmap answers: ${secs(moduleFull)}, ` +
      `${secs(moduleBase)} with a one-entry map)`,
    ratio: `${((moduleFull - moduleBase) / median(loads)).toFixed(1)}x`,
  });
  rows.push({
    what: `policy state from the loaded ${count} entries (FilesystemMirrorDriver.start)`,
    engine: ms(starts),
    module: '(included above)',
    ratio: '',
  });
  rows.push({
    what: `write ${count} dir-map entries (ops of 256, 8 in flight; setup, not a target)`,
    engine: secs(writeMs),
    module: '',
    ratio: '',
  });
}

/**
 * From `mgr module enable` until the module answers `dirmap` for `path` (a key of the map): the
 * mgr's respawn, the module's start and its load of the dir map. Disabled again afterwards
 * (before its instance timeout would blocklist the made-up instances).
 */
async function moduleLoad(path: string): Promise<number> {
  const t0 = performance.now();
  await enableMgrMirroringModule(a, site.fsName, 300_000);
  await waitFor(
    `the module to answer dirmap for ${path}`,
    async () => (await mgrDirMap(a, site.fsName, path)) !== undefined,
    300_000,
    100,
  );
  const took = performance.now() - t0;
  await disableMgrMirroringModule(a);
  return took;
}

async function main(): Promise<void> {
  const begun = performance.now();
  const lab = await openMirroringLab();
  a = lab.a;
  site = lab.site;
  const rows: Row[] = [];
  try {
    if (PARTS.has('load')) await loadParts(rows);
    const engineMs = new Map<number, number>();
    for (const n of PARTS.has('map') ? ENGINE_COUNTS : []) {
      engineMs.set(n, await engineMapAndAcquire(n));
      console.error(`engine ${n}: ${secs(engineMs.get(n) ?? NaN)}`);
    }
    for (const n of PARTS.has('map') ? MODULE_COUNTS : []) {
      const m = await moduleMapAndAcquire(n);
      console.error(`module ${n}: ${JSON.stringify(m)}`);
      const e = engineMs.get(n) ?? NaN;
      rows.push({
        what: `map and acquire ${n.toLocaleString('en')} directories, 2 daemons`,
        engine: secs(e),
        module: m.finished
          ? secs(m.ms)
          : `did not finish in ${secs(m.ms)}: ${m.added.toLocaleString('en')} added, ` +
            `${m.mapped.toLocaleString('en')} seen mapped`,
        ratio: m.finished ? `${(m.ms / e).toFixed(1)}x` : `> ${(m.ms / e).toFixed(0)}x`,
      });
    }
    if (PARTS.has('failover')) {
      const f = await failover(FAILOVER_DIRS);
      console.error(`failover: ${JSON.stringify(f)}`);
      rows.push({
        what:
          `failover: SIGKILL one of 2 daemons holding ${FAILOVER_DIRS / 2} of ` +
          `${FAILOVER_DIRS.toLocaleString('en')} directories, until all on the survivor ` +
          `(instance timeout 30 s)`,
        engine: `${secs(f.total)} (declared dead after ${secs(f.detect)}, then ${secs(f.total - f.detect)})`,
        module: 'not measured (same 30 s timeout)',
        ratio: '',
      });
    }
    if (PARTS.has('rebalance')) {
      const r = await rebalance(REBALANCE_DIRS);
      console.error(`rebalance: ${JSON.stringify(r)}`);
      rows.push({
        what:
          `rebalance: 2nd daemon starts, ${REBALANCE_DIRS.toLocaleString('en')} directories on the ` +
          `1st, until ${REBALANCE_DIRS / 2}/${REBALANCE_DIRS / 2} (shuffleThrottleSeconds 0)`,
        engine: `${secs(r.total)} (discovered after ${secs(r.discover)}, then ${secs(r.total - r.discover)})`,
        module: 'never (Pacific module does not rebalance)',
        ratio: '',
      });
    }
  } finally {
    await closeMirroringLab(lab, DAEMONS);
  }
  printRunHeader(MACHINE_SETUP, begun);
  console.log('| measurement | engine | mgr module | module / engine |');
  console.log('| --- | --- | --- | --- |');
  for (const row of rows)
    console.log(`| ${row.what} | ${row.engine} | ${row.module} | ${row.ratio} |`);
}

await main();
