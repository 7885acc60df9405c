// The operator end to end: N MirroredDirectory objects created at once through the Kubernetes API
// (bounded concurrency), timed from the first create until every object says Ready=True, which
// the operator only writes once a real cephfs-mirror daemon has acquired the directory. Side by
// side, in the same run on the same lab, the same directories added through the Pacific mgr
// `mirroring` module (`fs snapshot mirror add`, one after another) until each is mapped.
//
// Runs on the lab named by CEPH_LAB_ROOT (bench/run.ts sets it) or a private one, and on the
// apiserver named by KUBE_LAB_ROOT or a private one; the operator is a child process, run as the
// image runs it (launcher + bundle, lab/harness/operator.ts `built`). Everything it started is
// stopped at the end.
//
// Two more measurements ride on the same run. The restart (item 4 end to end): after the last
// count the operator is stopped and started again, and for 90 s the benchmark's watch records any
// object leaving Ready and the new process's /metrics its writes and notifies (BENCH_RESTART=0
// skips it). The API floor: the same objects, in a namespace the operator does not watch, made
// Ready by bench/api-floor-controller.ts, which only writes the finalizer and the status: what
// the API server alone costs on this machine (BENCH_FLOOR=0 skips it). For each, CPU seconds by
// process from /proc (bench/process-cpu.ts) show where the machine's time went.
//
// BENCH_SCALE=small runs 100 and 500 directories instead of 1,000 and 10,000; BENCH_COUNTS=10000
// (comma-separated) names the counts; BENCH_MODULE=0 skips the mgr module side (for trying
// operator changes; the published numbers come from a full run), BENCH_OPERATOR=0 the operator;
// BENCH_HOLD_SECONDS=N keeps the operator running N seconds after the last run, to look at it
// (e.g. a heap snapshot through BENCH_OPERATOR_NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2, given
// to the operator alone); BENCH_FLOOR_WORKERS sets the floor controller's writes in flight,
// BENCH_FLOOR_WRITES=status has it write the status alone (objects given their finalizer at create);
// BENCH_CREATE_WITH_FINALIZER=1 creates every object with the operator's finalizer on it.
import { groupedPaths, moduleMapRun, stopDaemons } from './lab-kit.js';
import { printRunHeader, secs } from './machine.js';
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
import { cpuByName, cpuSnapshot } from './process-cpu.js';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ADD,
  DELETE,
  ERROR,
  KubeConfig,
  UPDATE,
  makeInformer,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import { Rados } from 'rados-js';
import { startMirrorDaemon } from '../lab/ceph-cluster.js';
import { createSourceDirs } from '../lab/harness/source-dirs.js';
import { listMirrorDaemons } from '../src/ceph/daemon-status.js';
import { disableMirroring, enableMirroring } from '../src/ceph/filesystem.js';
import { KubeApi } from '../src/kube/kube-api.js';
import { loadKubeConfig } from '../src/kube/kube-config.js';
import { FINALIZER, GROUP, KINDS, VERSION, type MirroredDirectory } from '../src/api/resources.js';
import { kubectl, useKube, type KubeHandle } from '../lab/harness/kube.js';
import { useLab, type SiteInfo } from '../lab/harness/lab.js';
import { disableMgrMirroringModule } from '../lab/harness/mgr-module.js';
import { clearDirMap } from '../lab/harness/mirroring.js';
import { startOperator, type OperatorProcess } from '../lab/harness/operator.js';
import { waitFor } from '../lab/harness/wait.js';

const MACHINE_SETUP =
  'kube-apiserver 1.20.2 + etcd on 127.0.0.1; lab: one mon, one mgr, one memstore OSD, 2 cephfs-mirror daemons, no peer, shared with other work';
const SMALL = process.env['BENCH_SCALE'] === 'small';
const COUNTS = process.env['BENCH_COUNTS']
  ? process.env['BENCH_COUNTS'].split(',').map(Number)
  : SMALL
    ? [100, 500]
    : [1_000, 10_000];
const WITH_MODULE = process.env['BENCH_MODULE'] !== '0';
/** The second memory reading comes this long after all were Ready. */
const REST_READING_MS = 30_000;
/** BENCH_OPERATOR=0: no operator runs (to try the API floor or the module alone). */
const WITH_OPERATOR = process.env['BENCH_OPERATOR'] !== '0';
/** The operator restarted after the last run (item 4 end to end); BENCH_RESTART=0 skips it. */
const WITH_RESTART = process.env['BENCH_RESTART'] !== '0';
/**
 * BENCH_CREATE_WITH_FINALIZER=1: objects are created with the operator's finalizer already on
 * them (as a mutating admission webhook would give them), so no controller writes it.
 */
const CREATE_WITH_FINALIZER = process.env['BENCH_CREATE_WITH_FINALIZER'] === '1';
/** The API floor (bench/api-floor-controller.ts) beside the operator; BENCH_FLOOR=0 skips it. */
const WITH_FLOOR = process.env['BENCH_FLOOR'] !== '0';
const FLOOR_NS = 'bench-floor';
const CONCURRENCY = 32;
/** How long the operator gets to make N objects Ready before the run is reported as unfinished. */
const OPERATOR_CAP_MS = Number(process.env['BENCH_CAP_SECONDS'] ?? (SMALL ? 120 : 300)) * 1000;
/** The module's run stops adding/polling after this long and reports how far it got. */
const MODULE_CAP_MS = SMALL ? 120_000 : 240_000;
const DAEMONS = ['bench-op1', 'bench-op2'];
const NS = 'bench-operator';
const MIRROR = 'bench';

let site: SiteInfo;
let rados: Rados;
let kube: KubeHandle;
let api: KubeApi;

const paths = (n: number): string[] => groupedPaths('/bench-op', n);

/** The benchmark's own view of the objects, from a watch: when each was first seen Ready. */
class ReadyTracker {
  constructor(private readonly namespace: string) {}

  readonly present = new Set<string>();
  readonly readyAt = new Map<string, number>();
  /** Objects seen with Ready other than True after having been Ready. */
  readonly leftReady = new Set<string>();
  private informer: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>) | undefined;
  private stopped = false;

  async start(kc: KubeConfig): Promise<void> {
    const path = `/apis/${GROUP}/${VERSION}/namespaces/${this.namespace}/${KINDS.directory.plural}`;
    // client-node's object type declares dates as Date; ours keeps the wire's strings.
    const informer = makeInformer<KubernetesObject>(
      kc,
      path,
      () => api.list(KINDS.directory, this.namespace) as Promise<{ items: KubernetesObject[] }>,
    );
    const seen = (o: KubernetesObject): void => {
      const d = o as unknown as MirroredDirectory;
      this.present.add(d.metadata.name);
      if (isReady(d)) {
        if (!this.readyAt.has(d.metadata.name)) {
          this.readyAt.set(d.metadata.name, performance.now());
        }
      } else if (this.readyAt.has(d.metadata.name)) {
        this.leftReady.add(d.metadata.name);
      }
    };
    informer.on(ADD, seen);
    informer.on(UPDATE, seen);
    informer.on(DELETE, (o) => {
      const name = o.metadata?.name ?? '';
      this.present.delete(name);
      this.readyAt.delete(name);
    });
    informer.on(ERROR, () => {
      if (!this.stopped) setTimeout(() => void informer.start().catch(() => undefined), 1000);
    });
    this.informer = informer;
    await informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer?.stop();
  }
}

/** Sum of the directories the two daemons report holding (service map, a few seconds late). */
async function daemonsHold(): Promise<number> {
  const daemons = await listMirrorDaemons(rados);
  return daemons
    .filter((d) => d.clientId !== undefined && DAEMONS.includes(d.clientId))
    .reduce(
      (sum, d) => sum + (d.filesystems?.find((f) => f.name === site.fsName)?.directoryCount ?? 0),
      0,
    );
}

interface MemoryUse {
  rssMiB: number;
  hwmMiB: number;
  /** V8 heap in use (prom-client's nodejs_heap_size_used_bytes): what RSS holds beyond code. */
  heapUsedMiB: number;
}

async function memoryOf(pid: number, port: number): Promise<MemoryUse> {
  const { rss, hwm } = memoryMiB(pid);
  const metrics = await metricsText(port);
  const heapUsed = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? NaN);
  return { rssMiB: rss, hwmMiB: hwm, heapUsedMiB: heapUsed / 2 ** 20 };
}

interface ReconcileStats {
  count: number;
  seconds: number;
  errors: number;
  /** The operator's writes to MirroredDirectory objects (POST, PUT, PATCH; status included). */
  writes: number;
  /** Of those, status writes. */
  statusWrites: number;
  /** Events the operator created (in the bench's namespace: the directories' own). */
  events: number;
  /** Acquire and release notifies the operator sent to the daemons. */
  notifies: number;
}

/** Sum of cephfs_mirror_kube_requests_total over the series whose labels pass `keep`. */
function requestCount(text: string, keep: (labels: Record<string, string>) => boolean): number {
  let sum = 0;
  for (const m of text.matchAll(/^cephfs_mirror_kube_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const labels: Record<string, string> = {};
    for (const l of (m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    if (keep(labels)) sum += Number(m[2]);
  }
  return sum;
}

/** Directory reconciles and the operator's writes to MirroredDirectory objects so far. */
async function reconcileStats(port: number): Promise<ReconcileStats> {
  const text = await metricsText(port);
  const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
  const directoryWrite = (l: Record<string, string>): boolean =>
    l['resource'] === KINDS.directory.plural && ['POST', 'PUT', 'PATCH'].includes(l['verb'] ?? '');
  return {
    writes: requestCount(text, directoryWrite),
    statusWrites: requestCount(text, (l) => directoryWrite(l) && l['subresource'] === 'status'),
    events: requestCount(text, (l) => l['resource'] === 'events' && l['verb'] === 'POST'),
    notifies: [
      ...text.matchAll(/^cephfs_mirror_notify_duration_seconds_count\{[^}]*\} (\S+)$/gm),
    ].reduce((sum, m) => sum + Number(m[1]), 0),
    count: directoryReconciles(text),
    seconds: value(
      /^cephfs_mirror_reconcile_duration_seconds_sum\{kind="MirroredDirectory"\} (\S+)/m,
    ),
    errors: value(/^cephfs_mirror_reconcile_errors_total\{kind="MirroredDirectory"\} (\S+)/m),
  };
}

/** The 1-minute load average (the machine is shared: said beside each run). */
function load1(): string {
  return (readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?').trim();
}

interface OperatorResult {
  n: number;
  createdMs: number;
  /** First create until every object is Ready (undefined: not within the cap). */
  readyMs: number | undefined;
  /** Load average (1 min) when the run started and when all were Ready. */
  loadBefore: string;
  loadAfter: string;
  readyCount: number;
  /** First create until the daemons' own status reports holding all n. */
  daemonsMs: number | undefined;
  /** First create until n/2 objects are Ready (undefined: not within the cap). */
  halfMs: number | undefined;
  reconciles: ReconcileStats;
  memory: MemoryUse;
  /** The same, REST_READING_MS later. */
  memoryAtRest: MemoryUse;
  /** Deleting all n until the objects are gone (finalizers: released, dir-map keys removed). */
  deleteMs: number | undefined;
  /** CPU seconds from the first create until all were Ready, by process (the largest few). */
  cpu: [string, number][];
}

/** N objects created (CONCURRENCY in flight) and timed until each is seen Ready. */
interface TimedCreates {
  names: string[];
  createdMs: number;
  /** First create until every object is Ready (undefined: not within the cap). */
  readyMs: number | undefined;
  /** When each Ready object was first seen Ready, from the first create, sorted. */
  readyTimes: number[];
  /** CPU seconds from the first create until all were Ready, by process (the largest few). */
  cpu: [string, number][];
}

/**
 * Creates n MirroredDirectory objects in `namespace` and waits (up to OPERATOR_CAP_MS) until
 * `tracker` has seen each Ready. `controller` names the process that makes them Ready (for the
 * CPU table); `alongside` runs from the first create (`creating` says whether creates are out).
 */
async function createAndTime(
  n: number,
  namespace: string,
  tracker: ReadyTracker,
  controller: { label: string; pid: number },
  alongside: (started: number, creating: () => boolean) => Promise<void> = async () => undefined,
): Promise<TimedCreates> {
  const bodies = paths(n).map((p, i) => {
    const body = directoryObject(`d${n}-${String(i).padStart(5, '0')}`, namespace, MIRROR, p);
    if (CREATE_WITH_FINALIZER) body.metadata.finalizers = [FINALIZER];
    return body;
  });
  const cpuBefore = cpuSnapshot();
  const started = performance.now();
  let creating = true;
  const created = pool(bodies, CONCURRENCY, (body) => createWithRetry(api, body)).finally(
    () => (creating = false),
  );
  const beside = alongside(started, () => creating);
  await created;
  const createdMs = performance.now() - started;
  console.error(`${controller.label} ${n}: created in ${secs(createdMs)}`);
  const names = bodies.map((b) => b.metadata.name);
  let readyMs: number | undefined;
  const deadline = started + OPERATOR_CAP_MS;
  let lastLog = 0;
  while (performance.now() < deadline) {
    const ready = names.filter((x) => tracker.readyAt.has(x)).length;
    if (ready === n) {
      readyMs = Math.max(...names.map((x) => tracker.readyAt.get(x) as number)) - started;
      break;
    }
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      console.error(
        `${controller.label} ${n}: ${ready} Ready after ${secs(performance.now() - started)}`,
      );
    }
    await sleep(200);
  }
  const readyTimes = names
    .map((x) => tracker.readyAt.get(x))
    .filter((t): t is number => t !== undefined)
    .map((t) => t - started)
    .sort((x, y) => x - y);
  const cpuNames = new Map([
    [controller.pid, controller.label],
    [process.pid, 'benchmark'],
  ]);
  const cpu = cpuByName(cpuBefore, cpuSnapshot(), cpuNames).slice(0, 8);
  await beside;
  return { names, createdMs, readyMs, readyTimes, cpu };
}

async function operatorRun(
  n: number,
  op: OperatorProcess,
  port: number,
  tracker: ReadyTracker,
  cleanUp: boolean,
): Promise<OperatorResult> {
  const before = await reconcileStats(port);
  const loadBefore = load1();
  let daemonsMs: number | undefined;
  // Watch the daemons' own report alongside (not what Ready waits for: it lags the acks).
  const daemonWatch = async (started: number, creating: () => boolean): Promise<void> => {
    while (daemonsMs === undefined && performance.now() - started < OPERATOR_CAP_MS) {
      if (!creating() && (await daemonsHold().catch(() => 0)) >= n) {
        daemonsMs = performance.now() - started;
      } else await sleep(1000);
    }
  };
  const { names, createdMs, readyMs, readyTimes, cpu } = await createAndTime(
    n,
    NS,
    tracker,
    { label: 'operator', pid: op.pid },
    daemonWatch,
  );
  const memory = await memoryOf(op.pid, port);
  const after = await reconcileStats(port);
  // Read again once the burst's garbage could be collected: what the operator holds for n
  // directories at rest, beside the reading taken at once (which also counts the garbage).
  await sleep(REST_READING_MS);
  const memoryAtRest = await memoryOf(op.pid, port);
  const result: OperatorResult = {
    n,
    createdMs,
    readyMs,
    readyCount: readyTimes.length,
    daemonsMs,
    // When half of all n were Ready (not the median of those that made it).
    halfMs: readyTimes[Math.ceil(n / 2) - 1],
    loadBefore,
    loadAfter: load1(),
    reconciles: {
      count: after.count - before.count,
      seconds: after.seconds - before.seconds,
      errors: after.errors - before.errors,
      writes: after.writes - before.writes,
      statusWrites: after.statusWrites - before.statusWrites,
      events: after.events - before.events,
      notifies: after.notifies - before.notifies,
    },
    memory,
    memoryAtRest,
    deleteMs: undefined,
    cpu,
  };
  if (cleanUp) {
    const t0 = performance.now();
    await kubectl(kube, ['-n', NS, 'delete', 'mirroreddirectories', '--all', '--wait=false']);
    try {
      await waitFor(
        `${n} MirroredDirectory objects to go`,
        () => names.every((x) => !tracker.present.has(x)),
        OPERATOR_CAP_MS,
        200,
      );
      result.deleteMs = performance.now() - t0;
    } catch (e) {
      console.error((e as Error).message);
    }
  }
  return result;
}

interface FloorResult {
  n: number;
  createdMs: number;
  readyMs: number | undefined;
  readyCount: number;
  cpu: [string, number][];
}

/**
 * The same n objects made Ready by the API floor controller instead of the operator (which is
 * stopped by then): the API server's own cost of the create path on this machine.
 */
async function floorRun(n: number, kc: KubeConfig): Promise<FloorResult> {
  await kubectl(
    kube,
    ['apply', '-f', '-'],
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${FLOOR_NS}\n`,
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/api-floor-controller.ts', kube.kubeconfigPath, FLOOR_NS],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const tracker = new ReadyTracker(FLOOR_NS);
  try {
    const lines = createInterface({ input: child.stdout });
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (l) => l === 'floor controller ready' && resolve());
      child.once('exit', (code) => reject(new Error(`the floor controller exited (${code})`)));
    });
    await tracker.start(kc);
    const t = await createAndTime(n, FLOOR_NS, tracker, { label: 'floor', pid: child.pid ?? -1 });
    return {
      n,
      createdMs: t.createdMs,
      readyMs: t.readyMs,
      readyCount: t.readyTimes.length,
      cpu: t.cpu,
    };
  } finally {
    await tracker.stop();
    child.kill('SIGKILL');
  }
}

/** The module's run on fresh daemons (lab-kit moduleMapRun), capped at MODULE_CAP_MS. */
function moduleRun(n: number): ReturnType<typeof moduleMapRun> {
  return moduleMapRun(rados, site, DAEMONS, `/bench-op-probe-${n}`, paths(n), MODULE_CAP_MS);
}

/**
 * The operator as shipped (the bundle, no TypeScript loader in the process), built from the
 * current sources by startOperator. BENCH_OPERATOR_NODE_OPTIONS reaches the operator alone (e.g.
 * --heapsnapshot-signal=SIGUSR2).
 */
function launchOperator(): OperatorProcess {
  const nodeOptions = process.env['BENCH_OPERATOR_NODE_OPTIONS'];
  return startOperator(
    kube,
    ['--log-level', 'info', '--namespace', NS],
    nodeOptions ? { NODE_OPTIONS: nodeOptions } : {},
    'built',
  );
}

/** How long the restarted operator is watched: past its 60 s start-up hold. */
const RESTART_WATCH_MS = 90_000;

interface RestartResult {
  n: number;
  /** SIGTERM until the old process exited. */
  stopMs: number;
  /** Objects seen with Ready other than True at any time after the restart. */
  leftReady: number;
  /** What the new operator did in its first RESTART_WATCH_MS. */
  stats: ReconcileStats;
}

/**
 * Issue 13 item 4 end to end: with the last run's n directories Ready, the operator is stopped
 * (SIGTERM, as a rolling update does) and started again; for RESTART_WATCH_MS the benchmark's
 * watch records any object that leaves Ready, and the new process's /metrics its writes,
 * reconciles and notifies.
 */
async function restartRun(
  n: number,
  old: OperatorProcess,
  tracker: ReadyTracker,
): Promise<{ result: RestartResult; op: OperatorProcess }> {
  const leftBefore = new Set(tracker.leftReady);
  const t0 = performance.now();
  await old.stop();
  const stopMs = performance.now() - t0;
  const op = launchOperator();
  const port = await metricsPort(op);
  await sleep(RESTART_WATCH_MS);
  const stats = await reconcileStats(port);
  const leftReady = [...tracker.leftReady].filter((x) => !leftBefore.has(x)).length;
  return { result: { n, stopMs, leftReady, stats }, op };
}

async function setUpOperatorSide(): Promise<OperatorProcess> {
  await applyNamespaceAndSite(kube, NS, site);
  const mirror = mirrorObject(MIRROR, NS, site.fsName, {
    tickSeconds: 1,
    instanceTimeoutSeconds: 30,
    shuffleThrottleSeconds: 300,
  });
  await kubectl(kube, ['apply', '-f', '-'], JSON.stringify(mirror));
  const op = launchOperator();
  // Both daemons known to the engine before the clock starts, as for the module's probe.
  await waitMirrorReady(kube, NS, MIRROR, [`cephfsmirror/${MIRROR}`], DAEMONS.length);
  return op;
}

async function main(): Promise<void> {
  const begun = performance.now();
  const [lab, k] = await Promise.all([useLab(), useKube()]);
  kube = k;
  site = lab.sites.a;
  const kc = loadKubeConfig(kube.kubeconfigPath);
  api = new KubeApi(kc);
  rados = await Rados.connect({ confPath: site.confPath, timeoutMs: 20_000 });
  const results: OperatorResult[] = [];
  const moduleResults = new Map<number, Awaited<ReturnType<typeof moduleRun>>>();
  const floorResults = new Map<number, FloorResult>();
  let restart: RestartResult | undefined;
  let op: OperatorProcess | undefined;
  const tracker = new ReadyTracker(NS);
  try {
    await clearDirMap(rados, site.metadataPool);
    // The operator tracks a path once it exists on the source (SourceDirectoryMissing before);
    // paths(n) of a smaller n is a prefix of the largest one's.
    await createSourceDirs(rados, site.fsName, paths(Math.max(...COUNTS)));
    for (const d of DAEMONS) await startMirrorDaemon(site, d);
    if (WITH_OPERATOR) {
      op = await setUpOperatorSide();
      const port = await metricsPort(op);
      await tracker.start(kc);
      for (const [i, n] of COUNTS.entries()) {
        const r = await operatorRun(n, op, port, tracker, i < COUNTS.length - 1);
        console.error(`operator ${n}: ${JSON.stringify(r)}`);
        results.push(r);
      }
      const last = COUNTS[COUNTS.length - 1];
      if (WITH_RESTART && last !== undefined) {
        const r = await restartRun(last, op, tracker);
        op = r.op;
        restart = r.result;
        console.error(`restart ${last}: ${JSON.stringify(restart)}`);
      }
      await tracker.stop();
      const holdSeconds = Number(process.env['BENCH_HOLD_SECONDS'] ?? 0);
      if (holdSeconds > 0) {
        console.error(`holding the operator (pid ${op.pid}) for ${holdSeconds} s`);
        await sleep(holdSeconds * 1000);
      }
      // The last run's objects stay (their finalizers would need the operator); the operator goes
      // and the Ceph side is reset directly, as between the module's runs.
      await op.stop();
      op = undefined;
    }
    for (const n of WITH_FLOOR ? COUNTS : []) {
      const f = await floorRun(n, kc);
      console.error(`floor ${n}: ${JSON.stringify(f)}`);
      floorResults.set(n, f);
    }
    await enableMirroring(rados, site.fsName);
    for (const n of WITH_MODULE ? COUNTS : []) {
      const m = await moduleRun(n);
      console.error(`module ${n}: ${JSON.stringify(m)}`);
      moduleResults.set(n, m);
    }
  } finally {
    await tracker.stop();
    await op?.stop();
    await stopDaemons(site, DAEMONS);
    await disableMgrMirroringModule(rados).catch(() => undefined);
    await clearDirMap(rados, site.metadataPool);
    await disableMirroring(rados, site.fsName).catch(() => undefined);
    await rados.shutdown();
  }

  printRunHeader(MACHINE_SETUP, begun, `${CONCURRENCY} creates in flight; operator log level info`);
  console.log('| directories | operator: all Ready | mgr module: all mapped | module / operator |');
  console.log('| --- | --- | --- | --- |');
  for (const r of results) {
    const m = moduleResults.get(r.n);
    const op =
      r.readyMs === undefined
        ? `not within ${secs(OPERATOR_CAP_MS)}: ${count(r.readyCount)} Ready`
        : secs(r.readyMs);
    const mod = !m
      ? 'not run'
      : m.finished
        ? secs(m.ms)
        : `stopped at ${secs(m.ms)}: ${count(m.added)} added, ${count(m.mapped)} mapped`;
    const ratio =
      m && r.readyMs !== undefined
        ? m.finished
          ? `${(m.ms / r.readyMs).toFixed(1)}x`
          : `> ${(m.ms / r.readyMs).toFixed(1)}x`
        : '';
    console.log(`| ${count(r.n)} | ${op} | ${mod} | ${ratio} |`);
  }
  console.log('');
  console.log(
    '| directories | all created | all Ready after the last create | directory reconciles per directory | API writes per directory (status) | Events per directory | load average (1 min) at start, end |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    // Per directory that got that far: a run that did not finish within the cap counts the
    // directories that were Ready (each reconciled and written for) rather than all n.
    const done = r.readyMs === undefined ? r.readyCount : r.n;
    const per = (x: number): string =>
      `${(x / Math.max(1, done)).toFixed(2)}${done === r.n ? '' : ` (of ${count(done)} Ready)`}`;
    console.log(
      `| ${count(r.n)} | ${secs(r.createdMs)} | ${r.readyMs === undefined ? 'not reached' : secs(r.readyMs - r.createdMs)} | ` +
        `${per(r.reconciles.count)} | ${per(r.reconciles.writes)} (${per(r.reconciles.statusWrites)}) | ${per(r.reconciles.events)} | ${r.loadBefore}, ${r.loadAfter} |`,
    );
  }
  console.log('');
  const cpuText = (cpu: [string, number][]): string =>
    cpu.map(([name, s]) => `${name} ${s.toFixed(1)}`).join(', ');
  const lag = (x: { createdMs: number; readyMs: number | undefined }): string =>
    x.readyMs === undefined ? 'not reached' : secs(x.readyMs - x.createdMs);
  console.log(
    '| directories | made Ready by | all created | all Ready | all Ready after the last create | CPU seconds from the first create until all Ready, by process |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const n of COUNTS) {
    const r = results.find((x) => x.n === n);
    const f = floorResults.get(n);
    const rows: [
      string,
      {
        createdMs: number;
        readyMs: number | undefined;
        readyCount: number;
        cpu: [string, number][];
      },
    ][] = [];
    if (r) rows.push(['the operator', r]);
    const floorWrites =
      process.env['BENCH_FLOOR_WRITES'] === 'status'
        ? 'the status only'
        : 'finalizer and status only';
    if (f) rows.push([`the API floor (${floorWrites})`, f]);
    for (const [who, x] of rows) {
      const all =
        x.readyMs === undefined ? `not reached (${count(x.readyCount)} Ready)` : secs(x.readyMs);
      console.log(
        `| ${count(n)} | ${who} | ${secs(x.createdMs)} | ${all} | ${lag(x)} | ${cpuText(x.cpu)} |`,
      );
    }
  }
  console.log('');
  console.log(
    '| directories | all created | half Ready | daemons report all held | directory reconciles (mean) | reconcile errors | operator RSS when all Ready (peak; heap used) | RSS 30 s later (heap used) | delete all until gone |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    const mean = r.reconciles.count > 0 ? (r.reconciles.seconds / r.reconciles.count) * 1000 : NaN;
    console.log(
      `| ${count(r.n)} | ${secs(r.createdMs)} | ${r.halfMs === undefined ? 'not reached' : secs(r.halfMs)} | ${r.daemonsMs === undefined ? 'not seen' : secs(r.daemonsMs)} | ` +
        `${count(r.reconciles.count)} (${mean.toFixed(1)} ms) | ${count(r.reconciles.errors)} | ` +
        `${r.memory.rssMiB.toFixed(0)} MiB (${r.memory.hwmMiB.toFixed(0)} MiB; ${r.memory.heapUsedMiB.toFixed(0)} MiB) | ` +
        `${r.memoryAtRest.rssMiB.toFixed(0)} MiB (${r.memoryAtRest.heapUsedMiB.toFixed(0)} MiB) | ` +
        `${r.deleteMs === undefined ? 'not measured' : secs(r.deleteMs)} |`,
    );
  }
  if (restart) {
    const r = restart;
    console.log('');
    console.log(
      `| operator restart with ${count(r.n)} Ready directories (first ${secs(RESTART_WATCH_MS)} of the new process) | result |`,
    );
    console.log('| --- | --- |');
    console.log(`| old process stopped (SIGTERM until exit) | ${secs(r.stopMs)} |`);
    console.log(`| directories seen leaving Ready | ${count(r.leftReady)} |`);
    console.log(
      `| directory reconciles; status writes; Events | ${count(r.stats.count)}; ${count(r.stats.statusWrites)}; ${count(r.stats.events)} |`,
    );
    console.log(`| acquire and release notifies sent | ${count(r.stats.notifies)} |`);
  }
}

await main();
