// Policy engine benchmark (pure, no Ceph): plan generation for 10,000 and 100,000 new
// directories, failover planning for 10,000 directories, the overlap check when adding many
// directories, and memory per 100,000 tracked directories. Prints a markdown table.
//
//   npx tsx bench/policy.ts
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  DirectoryPolicy,
  FilesystemMirrorDriver,
  planActions,
  storedDirectoryPath,
  type DirMapRecord,
  type DirPath,
} from '../src/reconcile/index.js';
import {
  FakeClock,
  InMemoryDirMapStore,
  InMemoryNotifier,
  RecordingBlocklister,
  settle,
} from '../src/reconcile/testing.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const NOW = 1_700_000_000;
const INSTANCES = Array.from({ length: 10 }, (_, i) => `${4100 + i}`);
const RUNS = 3;

const pathOf = (i: number) => storedDirectoryPath(`/volumes/group${i % 100}/subvol${i}`);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

function fmt(ms: number[]): string {
  const m = median(ms);
  return `${m.toFixed(1)} ms (runs ${ms.map((x) => x.toFixed(1)).join(', ')})`;
}

/** Add n directories (overlap check through the trie) and plan their first step. */
function planNew(n: number): { add: number; plan: number; ops: number } {
  const policy = new DirectoryPolicy();
  policy.addInstances(INSTANCES);
  const paths = Array.from({ length: n }, (_, i) => pathOf(i));
  const add = time(() => {
    for (const p of paths) policy.addDirectory(p);
  });
  let ops = 0;
  const plan = time(() => {
    const planned = planActions(policy, paths, NOW);
    ops = Math.ceil((planned.dirMapSets.size + planned.dirMapRemovals.length) / 256);
  });
  if (ops !== Math.ceil(n / 256)) throw new Error('unexpected plan');
  return { add, plan, ops };
}

/** n directories on the failing instance (10 instances in all): fence, release, re-plan. */
function failover(n: number): number {
  const policy = new DirectoryPolicy();
  const total = n * INSTANCES.length;
  const map: Array<[DirPath, DirMapRecord]> = [];
  for (let i = 0; i < total; i++) {
    map.push([
      pathOf(i),
      { version: 1, instanceId: INSTANCES[i % 10] ?? '', lastShuffled: NOW - 1e4 },
    ]);
  }
  policy.init(map);
  policy.addInstancesInitial(INSTANCES);
  for (const [p] of map) {
    policy.startAction(p, NOW);
    policy.finishAction(p, 0);
  }
  return time(() => {
    const moving = policy.removeInstances([INSTANCES[0] ?? '']);
    const releases = planActions(policy, moving, NOW);
    for (const { path } of releases.notifies) policy.finishAction(path, -110);
    const maps = planActions(policy, moving, NOW);
    if (maps.dirMapSets.size !== n) throw new Error('not all planned');
  });
}

/** The same through the driver: start-up acquire of all, then one tick of map updates. */
async function driverNew(n: number): Promise<number> {
  const clock = new FakeClock(NOW);
  const store = new InMemoryDirMapStore();
  const driver = new FilesystemMirrorDriver({
    store,
    notifier: new InMemoryNotifier(),
    blocklister: new RecordingBlocklister(),
    clock,
  });
  driver.start({
    directories: [],
    instances: INSTANCES.map((id) => [id, { version: 1, addr: `127.0.0.1:0/${id}` }] as const),
  });
  await Promise.all(Array.from({ length: n }, (_, i) => driver.addDirectory(pathOf(i))));
  const opsBefore = store.dirMapOps.length;
  const t0 = performance.now();
  clock.advance(1); // the tick: plan + queue n map updates
  while (store.dirMapOps.length - opsBefore < Math.ceil(n / 256)) await settle();
  const ms = performance.now() - t0;
  await driver.stop();
  return ms;
}

function memoryPer(n: number): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const policy = new DirectoryPolicy();
  policy.addInstances(INSTANCES);
  for (let i = 0; i < n; i++) {
    const p = pathOf(i);
    policy.addDirectory(p);
    policy.startAction(p, NOW);
    policy.finishAction(p, 0);
    policy.startAction(p, NOW);
    policy.finishAction(p, 0);
  }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  if (policy.directoryCount !== n) throw new Error('lost directories');
  return bytes;
}

const rows: Array<[string, string]> = [];
for (const n of [10_000, 100_000]) {
  const runs = Array.from({ length: RUNS }, () => planNew(n));
  rows.push([
    `add ${n.toLocaleString('en')} new directories (overlap check)`,
    fmt(runs.map((r) => r.add)),
  ]);
  rows.push([
    `plan ${n.toLocaleString('en')} new directories (map + records, ${runs[0]?.ops} ops of 256)`,
    fmt(runs.map((r) => r.plan)),
  ]);
}
const drv: number[] = [];
for (let i = 0; i < RUNS; i++) drv.push(await driverNew(100_000));
rows.push(['driver tick for 100,000 new directories (plan, queue, 391 in-memory ops)', fmt(drv)]);
rows.push([
  'failover: plan 10,000 directories of a dead instance (of 100,000)',
  fmt(Array.from({ length: RUNS }, () => failover(10_000))),
]);
const mem = median(Array.from({ length: RUNS }, () => memoryPer(100_000)));
rows.push([
  'memory, 100,000 tracked directories (policy + trie)',
  `${(mem / 1048576).toFixed(1)} MiB (${Math.round(mem / 100_000)} bytes per directory)`,
]);

const w0 = Math.max(...rows.map((r) => r[0].length), 'measurement'.length);
const w1 = Math.max(...rows.map((r) => r[1].length), 'result'.length);
console.log(
  `Machine: ${cpus().length} x ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; Node.js ${process.version}; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
console.log('');
console.log(`| ${'measurement'.padEnd(w0)} | ${'result'.padEnd(w1)} |`);
console.log(`| ${'-'.repeat(w0)} | ${'-'.repeat(w1)} |`);
for (const [a, b] of rows) console.log(`| ${a.padEnd(w0)} | ${b.padEnd(w1)} |`);
