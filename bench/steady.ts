// The operator at rest (issue 13 item 5): N directories mirrored to one peer, all Ready; then,
// over a window of W seconds with nothing changing, the operator's CPU (utime + stime from
// /proc/<pid>/stat) and the requests its sync views cost the MDSs of both sites (the MDS perf
// counters, read through each MDS's admin socket). The daemons' own requests (their replayers
// scan each directory for new snapshots) are measured in a second window of the same length
// with the operator stopped, and subtracted.
//
//   npm run bench steady
//   BENCH_DIRECTORIES=10000   directories (default 10,000; BENCH_SCALE=small: 500)
//   BENCH_WINDOW_SECONDS=120  each measuring window (default 120)
//   BENCH_SETTLE_SECONDS=480  wait after all are Ready before measuring (default 480): a view
//                             that stays the same is refreshed after 30, 60, 120, 240, then
//                             every 300 s (src/controllers/sync-views.ts), so the window sees the
//                             rest pace only after some 450 s
//   BENCH_DAEMONS=2           cephfs-mirror daemons on site-a (default 2)
//
// Runs on the lab named by CEPH_LAB_ROOT (bench/run.ts sets it) or a private one, and on the
// apiserver named by KUBE_LAB_ROOT or a private one; the operator runs as it ships (launcher and
// bundle, lab/harness/operator.ts `built`). Everything it started is stopped at the end.
import { printRunHeader, secs } from './machine.js';
import { groupedPaths, stopDaemons } from './lab-kit.js';
import {
  applyNamespaceAndSite,
  count,
  createWithRetry,
  directoryObject,
  directoryReconciles,
  isReady,
  memoryMiB,
  metricsPort,
  metricsText,
  mirrorObject,
  pool,
  waitMirrorReady,
} from './operator-kit.js';
import { processCpu } from './process-cpu.js';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Rados } from 'rados-js';
import { startMirrorDaemon, type SiteInfo } from '../lab/ceph-cluster.js';
import { createSourceDirs } from '../lab/harness/source-dirs.js';
import { createBootstrapToken } from '../src/ceph/bootstrap.js';
import { disableMirroring } from '../src/ceph/filesystem.js';
import { findFilesystem } from '../src/ceph/fsmap.js';
import { fetchFsMap } from '../src/ceph/mon.js';
import { removePeer } from '../src/ceph/peers.js';
import { KubeApi } from '../src/kube/kube-api.js';
import { loadKubeConfig } from '../src/kube/kube-config.js';
import {
  GROUP,
  KINDS,
  VERSION,
  type MirroredDirectory,
  type MirrorPeer,
} from '../src/api/resources.js';
import { kubectl, useKube, type KubeHandle } from '../lab/harness/kube.js';
import { useLab } from '../lab/harness/lab.js';
import { clearDirMap } from '../lab/harness/mirroring.js';
import { startOperator, type OperatorProcess } from '../lab/harness/operator.js';
import { waitFor } from '../lab/harness/wait.js';

const execFileAsync = promisify(execFile);

const SMALL = process.env['BENCH_SCALE'] === 'small';
const N = Number(process.env['BENCH_DIRECTORIES'] ?? (SMALL ? 500 : 10_000));
const WINDOW_S = Number(process.env['BENCH_WINDOW_SECONDS'] ?? 120);
const SETTLE_S = Number(process.env['BENCH_SETTLE_SECONDS'] ?? 480);
const DAEMON_COUNT = Number(process.env['BENCH_DAEMONS'] ?? 2);
const DAEMONS = Array.from({ length: DAEMON_COUNT }, (_, i) => `bench-steady${i + 1}`);
const NS = 'bench-steady';
const MIRROR = 'steady';
const CONCURRENCY = 32;
const READY_CAP_MS = Math.max(300_000, N * 60);
const MACHINE_SETUP =
  `kube-apiserver 1.20.2 + etcd on 127.0.0.1; lab: two sites (one mon, one mgr, one memstore ` +
  `OSD, one MDS each), ${DAEMON_COUNT} cephfs-mirror daemons on site-a, one peer (site-b), ` +
  `shared with other work`;

let kube: KubeHandle;
let api: KubeApi;

const paths = (n: number): string[] => groupedPaths('/bench-steady', n);

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
const cpuSeconds = (pid: number): number => processCpu(pid).seconds;

/** The counters of one MDS that a window reads, by name. */
type MdsCounters = Record<string, number>;

/**
 * `perf dump` through the MDS's admin socket: every client request the MDS handled
 * (mds_server.handle_client_request) and, per request type, how many it answered
 * (mds_server.req_<op>_latency.avgcount).
 */
async function mdsCounters(site: SiteInfo): Promise<MdsCounters> {
  const asok = join(site.dir, 'run', 'mds.a.asok');
  const { stdout } = await execFileAsync('ceph', ['--admin-daemon', asok, 'perf', 'dump'], {
    maxBuffer: 16 << 20,
  });
  const dump = JSON.parse(stdout) as {
    mds_server: Record<string, number | { avgcount?: number }>;
  };
  const out: MdsCounters = {};
  for (const [name, v] of Object.entries(dump.mds_server)) {
    if (name === 'handle_client_request' && typeof v === 'number') out['requests'] = v;
    const m = /^req_(\w+)_latency$/.exec(name);
    if (m && typeof v === 'object' && v.avgcount) out[m[1] as string] = v.avgcount;
  }
  return out;
}

function diff(after: MdsCounters, before: MdsCounters): MdsCounters {
  const out: MdsCounters = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

interface Window {
  seconds: number;
  /** The operator's CPU seconds in the window (undefined: no operator). */
  cpu?: number;
  /** Directory reconciles in the window. */
  reconciles?: number;
  a: MdsCounters;
  b: MdsCounters;
}

async function measure(op: OperatorProcess | undefined, port: number | undefined): Promise<Window> {
  const site = (await useLab()).sites;
  const [a0, b0] = await Promise.all([mdsCounters(site.a), mdsCounters(site.b)]);
  const cpu0 = op ? cpuSeconds(op.pid) : 0;
  const rec0 = port ? await reconciles(port) : 0;
  const t0 = performance.now();
  await sleep(WINDOW_S * 1000);
  const cpu1 = op ? cpuSeconds(op.pid) : 0;
  const seconds = (performance.now() - t0) / 1000;
  const rec1 = port ? await reconciles(port) : 0;
  const [a1, b1] = await Promise.all([mdsCounters(site.a), mdsCounters(site.b)]);
  return {
    seconds,
    ...(op ? { cpu: cpu1 - cpu0 } : {}),
    ...(port ? { reconciles: rec1 - rec0 } : {}),
    a: diff(a1, a0),
    b: diff(b1, b0),
  };
}

/** Directory reconciles so far, from the operator's /metrics. */
async function reconciles(port: number): Promise<number> {
  return directoryReconciles(await metricsText(port));
}

/** Ready objects and how many of them carry a sync view of the peer. */
async function readiness(): Promise<{ ready: number; withView: number; inSync: number }> {
  const list = (await api.list(KINDS.directory, NS)) as { items: MirroredDirectory[] };
  const ready = list.items.filter(isReady);
  const peers = ready.map((d) => d.status?.peers ?? []);
  return {
    ready: ready.length,
    withView: peers.filter((p) => p.length > 0).length,
    inSync: peers.filter((p) => p.length > 0 && p.every((x) => x.inSync)).length,
  };
}

async function setUp(sites: { a: SiteInfo; b: SiteInfo }, b: Rados): Promise<OperatorProcess> {
  await applyNamespaceAndSite(kube, NS, sites.a);
  const token = await createBootstrapToken(b, sites.b.fsName, 'client.mirror_remote', 'site-b');
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'site-b-token', namespace: NS },
    stringData: { token },
  };
  const mirror = mirrorObject(MIRROR, NS, sites.a.fsName, { tickSeconds: 1 });
  const peer: MirrorPeer = {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KINDS.peer.kind,
    metadata: { name: 'site-b', namespace: NS },
    spec: { mirrorRef: { name: MIRROR }, bootstrapTokenSecretRef: { name: 'site-b-token' } },
  };
  for (const o of [secret, mirror, peer]) {
    await kubectl(kube, ['apply', '-f', '-'], JSON.stringify(o));
  }
  const op = startOperator(kube, ['--log-level', 'info', '--namespace', NS], {}, 'built');
  const objects = [`cephfsmirror/${MIRROR}`, 'mirrorpeer/site-b'];
  await waitMirrorReady(kube, NS, MIRROR, objects, DAEMON_COUNT);
  return op;
}

/** The requests a window cost one site's MDS per directory per minute. */
function perDirMinute(requests: number, w: Window): number {
  return requests / N / (w.seconds / 60);
}

function fmtOps(c: MdsCounters): string {
  return Object.entries(c)
    .filter(([k]) => k !== 'requests')
    .sort(([, x], [, y]) => y - x)
    .map(([k, v]) => `${k} ${count(v)}`)
    .join(', ');
}

async function main(): Promise<void> {
  const begun = performance.now();
  const [lab, k] = await Promise.all([useLab(), useKube()]);
  kube = k;
  const sites = lab.sites;
  api = new KubeApi(loadKubeConfig(kube.kubeconfigPath));
  const a = await Rados.connect({ confPath: sites.a.confPath, timeoutMs: 20_000 });
  const b = await Rados.connect({ confPath: sites.b.confPath, timeoutMs: 20_000 });
  let op: OperatorProcess | undefined;
  let withOperator: Window | undefined;
  let without: Window | undefined;
  let readyMs = NaN;
  let memory = { rss: NaN, hwm: NaN };
  let views = { ready: 0, withView: 0, inSync: 0 };
  try {
    await clearDirMap(a, sites.a.metadataPool);
    const t0 = performance.now();
    await createSourceDirs(a, sites.a.fsName, paths(N));
    console.error(`created ${count(N)} source directories in ${secs(performance.now() - t0)}`);
    for (const d of DAEMONS) await startMirrorDaemon(site(sites), d);
    op = await setUp(sites, b);
    const port = await metricsPort(op);
    const started = performance.now();
    await pool(
      paths(N).map((p, i) => directoryObject(`d-${String(i).padStart(5, '0')}`, NS, MIRROR, p)),
      CONCURRENCY,
      // 409: left by an earlier run of this benchmark (a shared apiserver keeps the objects).
      (body) => createWithRetry(api, body, true),
    );
    console.error(`created ${count(N)} objects in ${secs(performance.now() - started)}`);
    await waitFor(
      `${count(N)} directories Ready`,
      async () => {
        views = await readiness();
        console.error(`${count(views.ready)} Ready after ${secs(performance.now() - started)}`);
        return views.ready === N;
      },
      READY_CAP_MS,
      5_000,
    );
    readyMs = performance.now() - started;
    console.error(`settling ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    console.error(`measuring ${WINDOW_S} s with the operator`);
    withOperator = await measure(op, port);
    memory = memoryMiB(op.pid);
    views = await readiness();
    console.error(JSON.stringify({ withOperator, memory, views }));
    await op.stop();
    op = undefined;
    console.error(`measuring ${WINDOW_S} s without the operator`);
    without = await measure(undefined, undefined);
    console.error(JSON.stringify({ without }));
  } finally {
    await op?.stop();
    await stopDaemons(site(sites), DAEMONS);
    // The objects' finalizers need the operator; the namespace goes with the apiserver (a shared
    // one keeps it: a rerun finds the objects and reuses them). The Ceph side is reset directly.
    await clearDirMap(a, sites.a.metadataPool).catch(() => undefined);
    const fs = findFilesystem(await fetchFsMap(a), sites.a.fsName);
    for (const uuid of Object.keys(fs?.mirrorInfo.peers ?? {})) {
      await removePeer(a, sites.a.fsName, uuid).catch(() => undefined);
    }
    await disableMirroring(a, sites.a.fsName).catch(() => undefined);
    await a.shutdown();
    await b.shutdown();
  }
  if (!withOperator || !without) return;

  printRunHeader(MACHINE_SETUP, begun, `window ${WINDOW_S} s after ${SETTLE_S} s settled`);
  const w = withOperator;
  const opA = (w.a['requests'] ?? 0) - ((without.a['requests'] ?? 0) * w.seconds) / without.seconds;
  const opB = (w.b['requests'] ?? 0) - ((without.b['requests'] ?? 0) * w.seconds) / without.seconds;
  const cpuPct = ((w.cpu ?? NaN) / w.seconds) * 100;
  console.log(`| measurement (${count(N)} directories, one peer) | result |`);
  console.log('| --- | --- |');
  console.log(`| all Ready after the first create | ${secs(readyMs)} |`);
  console.log(
    `| operator CPU at rest (${w.seconds.toFixed(0)} s window) | ${cpuPct.toFixed(1)}% of a core ` +
      `(${(w.cpu ?? NaN).toFixed(1)} CPU s) |`,
  );
  console.log(
    `| directory reconciles at rest | ${count(w.reconciles ?? 0)} ` +
      `(${(((w.reconciles ?? 0) / N) * (60 / w.seconds)).toFixed(2)} per directory per minute) |`,
  );
  console.log(
    `| site-a MDS requests, operator's share (with operator − without) | ${count(Math.round(opA))} ` +
      `= ${perDirMinute(opA, w).toFixed(2)} per directory per minute |`,
  );
  console.log(
    `| site-b (peer) MDS requests, operator's share | ${count(Math.round(opB))} ` +
      `= ${perDirMinute(opB, w).toFixed(2)} per directory per minute |`,
  );
  console.log(
    `| site-a MDS requests with / without the operator | ${count(w.a['requests'] ?? 0)} / ` +
      `${count(without.a['requests'] ?? 0)} (${without.seconds.toFixed(0)} s) |`,
  );
  console.log(`| site-a request types with the operator | ${fmtOps(w.a)} |`);
  console.log(`| site-a request types without the operator | ${fmtOps(without.a)} |`);
  console.log(`| site-b request types with the operator | ${fmtOps(w.b)} |`);
  console.log(`| site-b request types without the operator | ${fmtOps(without.b)} |`);
  console.log(
    `| operator RSS at the end of the window (peak) | ${memory.rss.toFixed(0)} MiB ` +
      `(${memory.hwm.toFixed(0)} MiB) |`,
  );
  console.log(
    `| sync views at the end | ${count(views.withView)} of ${count(views.ready)} Ready objects ` +
      `carry one, ${count(views.inSync)} in sync |`,
  );
}

function site(s: { a: SiteInfo }): SiteInfo {
  return s.a;
}

await main();
