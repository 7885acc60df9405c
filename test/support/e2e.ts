// Common setup of the end-to-end tests: the lab and a kube-apiserver, RADOS connections to both
// sites, a namespace with the sites' connection Secrets, cephfs-mirror daemons against site-a, and
// operator child processes; and the cleanup that leaves Ceph as the next test file expects it
// (objects deleted through the running operator, so their finalizers undo everything in Ceph:
// no tracked directory, no peer, mirroring disabled on both filesystems).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Rados } from 'rados-js';
import { stringify } from 'yaml';
import { startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import { connectionSecretYaml } from '../../lab/k8s-secrets.js';
import { RadosDirMapStore, type LoadedDirMap } from '../../src/ceph/dir-map-store.js';
import { INSTANCE_PREFIX, MIRROR_OBJECT_NAME } from '../../src/ceph/dir-map-codec.js';
import { findFilesystem } from '../../src/ceph/fsmap.js';
import { fetchFsMap } from '../../src/ceph/mon.js';
import type { Condition } from '../../src/api/conditions.js';
import type { MirroredDirectory } from '../../src/api/resources.js';
import { kubectl, kubectlJson, useKube, type KubeHandle } from '../../lab/harness/kube.js';
import { useLab, type LabState } from '../../lab/harness/lab.js';
import { mirrorOmap, withIoCtx } from '../../lab/harness/mirroring.js';
import { startOperator, type OperatorProcess } from '../../lab/harness/operator.js';
import { waitFor } from '../../lab/harness/wait.js';

export const API_VERSION = 'mirror.cephfs.io/v1alpha1';
const KINDS = ['mirroreddirectories', 'mirrorpeers', 'cephfsmirrors'] as const;

export interface E2eOptions {
  /** Namespace of this file's objects (created; left in place, empty, at the end). */
  namespace: string;
  /** Client ids of cephfs-mirror daemons to run against site-a (unique per file). */
  mirrorDaemons?: string[];
}

export interface E2eEnv {
  lab: LabState;
  kube: KubeHandle;
  /** client.admin on site-a and site-b. */
  a: Rados;
  b: Rados;
  namespace: string;
  mirrorDaemons: string[];
  /** Every operator started through `operator()`, for the final stop. */
  operators: OperatorProcess[];
  /** Starts an operator child process (tracked for cleanup). */
  operator(extraArgs?: string[], env?: Record<string, string>): OperatorProcess;
}

export async function setUpE2e(options: E2eOptions): Promise<E2eEnv> {
  const [lab, kube] = await Promise.all([useLab(), useKube()]);
  const a = await Rados.connect({ confPath: lab.sites.a.confPath, timeoutMs: 20_000 });
  const b = await Rados.connect({ confPath: lab.sites.b.confPath, timeoutMs: 20_000 });
  const env: E2eEnv = {
    lab,
    kube,
    a,
    b,
    namespace: options.namespace,
    mirrorDaemons: [],
    operators: [],
    operator(extraArgs = [], processEnv = {}) {
      const op = startOperator(kube, extraArgs, processEnv);
      void op.exited.then((code) => exitCodes.set(op, code));
      env.operators.push(op);
      return op;
    },
  };
  await clearInstanceRecords(env);
  await applyObjects(kube, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: options.namespace } },
  ]);
  const secrets = [lab.sites.a, lab.sites.b]
    .map((s) => connectionSecretYaml(`ceph-${s.name}`, options.namespace, s))
    .join('---\n');
  await kubectl(kube, ['apply', '-f', '-'], secrets);
  for (const id of options.mirrorDaemons ?? []) {
    await startMirrorDaemon(lab.sites.a, id);
    env.mirrorDaemons.push(id);
  }
  return env;
}

/**
 * Deletes every object of the namespace while an operator runs (starting one if none does), waits
 * for them to go, stops the operators and daemons, and checks Ceph is clean.
 */
export async function tearDownE2e(env: E2eEnv | undefined): Promise<void> {
  if (!env) return;
  const errors: unknown[] = [];
  const attempt = async (step: () => Promise<unknown>): Promise<void> => {
    try {
      await step();
    } catch (e) {
      errors.push(e);
    }
  };
  await attempt(async () => {
    if (!env.operators.some(isRunning)) env.operator();
    await deleteAllAndWait(env.kube, env.namespace);
  });
  for (const op of env.operators) await attempt(() => op.stop());
  for (const id of env.mirrorDaemons) await attempt(() => stopMirrorDaemon(env.lab.sites.a, id));
  await attempt(() => assertCephClean(env));
  await attempt(() => clearInstanceRecords(env));
  await attempt(() => env.a.shutdown());
  await attempt(() => env.b.shutdown());
  if (errors.length > 0) throw errors[0];
}

const exitCodes = new WeakMap<OperatorProcess, number | null>();

/** True while the child process (started through `env.operator()`) has not exited. */
export function isRunning(op: OperatorProcess): boolean {
  return !exitCodes.has(op);
}

/** Deletes the namespace's custom objects, directories first, and waits until they are gone. */
export async function deleteAllAndWait(kube: KubeHandle, namespace: string): Promise<void> {
  for (const kind of KINDS) {
    await kubectl(
      kube,
      ['-n', namespace, 'delete', kind, '--all', '--wait=true', '--timeout=180s'],
      undefined,
      200_000,
    );
  }
}

/** Mirroring off on both filesystems, no peers, no directory in site-a's dir map. */
export async function assertCephClean(env: E2eEnv): Promise<void> {
  const fsA = findFilesystem(await fetchFsMap(env.a), env.lab.sites.a.fsName);
  const fsB = findFilesystem(await fetchFsMap(env.b), env.lab.sites.b.fsName);
  assert.equal(fsA?.mirrorInfo.enabled, false, 'mirroring disabled on site-a');
  assert.equal(fsB?.mirrorInfo.enabled, false, 'mirroring disabled on site-b');
  assert.deepEqual(Object.keys(fsA?.mirrorInfo.peers ?? {}), [], 'no peer left on site-a');
  const map = await loadDirMap(env.a, fsA?.metadataPool as number);
  assert.deepEqual(
    map.directories.map(([p]) => p),
    [],
    'no directory left in the dir map',
  );
}

/**
 * Removes the `instance_` records of site-a's `cephfs_mirror` object. Daemons stopped by an
 * earlier file leave theirs behind (as with the mgr module, a record goes only once its instance
 * is declared dead, which takes the instance timeout): an engine starting later would first send
 * its acquires to those dead instances and map directories only after 30 s.
 */
export async function clearInstanceRecords(env: E2eEnv): Promise<void> {
  const pool = env.lab.sites.a.metadataPool;
  const keys = (await mirrorOmap(env.a, pool))
    .map(([k]) => k)
    .filter((k) => k.startsWith(INSTANCE_PREFIX));
  if (keys.length === 0) return;
  await withIoCtx(env.a, pool, (io) => io.omapWrite(MIRROR_OBJECT_NAME, { remove: keys }));
}

export async function loadDirMap(rados: Rados, metadataPool: number): Promise<LoadedDirMap> {
  const ioctx = await rados.openIoCtx(metadataPool);
  try {
    return await new RadosDirMapStore(ioctx).load();
  } finally {
    await ioctx.close();
  }
}

/** `kubectl apply` of objects as one multi-document YAML. */
export async function applyObjects(kube: KubeHandle, objects: readonly object[]): Promise<string> {
  const yaml = objects.map((o) => stringify(o)).join('---\n');
  return kubectl(kube, ['apply', '-f', '-'], yaml, 200_000);
}

export function mirrorObject(
  namespace: string,
  name: string,
  site: 'a' | 'b',
  extraSpec: Record<string, unknown> = {},
): object {
  return {
    apiVersion: API_VERSION,
    kind: 'CephFSMirror',
    metadata: { name, namespace },
    spec: {
      cluster: { secretRef: { name: `ceph-site-${site}` } },
      filesystem: site,
      policy: { tickSeconds: 1 },
      ...extraSpec,
    },
  };
}

export function directoryObject(
  namespace: string,
  name: string,
  mirror: string,
  path: string,
): object {
  return {
    apiVersion: API_VERSION,
    kind: 'MirroredDirectory',
    metadata: { name, namespace },
    spec: { mirrorRef: { name: mirror }, path },
  };
}

export interface Conditioned {
  metadata: { name: string; generation?: number };
  status?: { conditions?: Condition[] };
}

export function conditionOf(obj: Conditioned, type = 'Ready'): Condition | undefined {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/**
 * Waits until `kind/name` has a Ready condition with this status (and reason, when given). On a
 * timeout the error carries the object's conditions as last seen, so a failure says why.
 */
export async function waitForReady<T extends Conditioned>(
  kube: KubeHandle,
  namespace: string,
  object: string,
  expect: { status: 'True' | 'False'; reason?: string },
  timeoutMs = 60_000,
): Promise<T> {
  let seen: Condition[] | undefined;
  return waitFor(
    `${object} Ready=${expect.status}${expect.reason ? ` (${expect.reason})` : ''}`,
    async () => {
      const obj = await kubectlJson<T>(kube, ['-n', namespace, 'get', object]);
      seen = obj.status?.conditions;
      const c = conditionOf(obj);
      const observed = c?.observedGeneration === obj.metadata.generation;
      return observed &&
        c?.status === expect.status &&
        (!expect.reason || c.reason === expect.reason)
        ? obj
        : undefined;
    },
    timeoutMs,
    500,
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; its conditions: ${JSON.stringify(seen ?? [])}`);
  });
}

/** The operator's JSON log lines. */
export function operatorLog(op: OperatorProcess): Array<Record<string, unknown>> {
  return readFileSync(op.logPath, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The port of the operator's /metrics, /healthz, /readyz server (it binds port 0). */
export async function operatorHttpPort(op: OperatorProcess): Promise<number> {
  return waitFor(
    'the operator to log its metrics address',
    () => {
      const line = operatorLog(op).find((l) => l['message'] === 'operator starting');
      const addr = typeof line?.['metrics'] === 'string' ? line['metrics'] : undefined;
      const port = addr ? Number(addr.slice(addr.lastIndexOf(':') + 1)) : NaN;
      return Number.isInteger(port) && port > 0 ? port : undefined;
    },
    60_000,
  );
}

/** An Event as the tests read it. */
export interface KubeEvent {
  type?: string;
  reason?: string;
  message?: string;
  involvedObject?: { kind?: string; name?: string };
}

/** The namespace's Events about one object (`name` omitted: any object of `kind`). */
export async function eventsOf(
  kube: KubeHandle,
  namespace: string,
  kind: string,
  name?: string,
): Promise<KubeEvent[]> {
  const list = await kubectlJson<{ items: KubeEvent[] }>(kube, ['-n', namespace, 'get', 'events']);
  return list.items.filter(
    (ev) =>
      ev.involvedObject?.kind === kind && (name === undefined || ev.involvedObject.name === name),
  );
}

/** Waits for an Event with `reason` (and a message matching `pattern`) about a `kind` object. */
export function waitForEvent(
  kube: KubeHandle,
  namespace: string,
  match: { kind: string; name?: string; reason: string; message?: RegExp },
  timeoutMs = 60_000,
): Promise<KubeEvent> {
  return waitFor(
    `a ${match.reason} Event on ${match.kind} ${match.name ?? ''}`,
    async () =>
      (await eventsOf(kube, namespace, match.kind, match.name)).find(
        (ev) =>
          ev.reason === match.reason && (!match.message || match.message.test(ev.message ?? '')),
      ),
    timeoutMs,
    500,
  );
}

/** The namespace's MirroredDirectories. */
export async function listDirectories(
  kube: KubeHandle,
  namespace: string,
): Promise<MirroredDirectory[]> {
  const list = await kubectlJson<{ items: MirroredDirectory[] }>(kube, [
    '-n',
    namespace,
    'get',
    'mirroreddirectories',
  ]);
  return list.items;
}

/** Ready=True for the object's current generation. */
export function isReadyNow(obj: Conditioned): boolean {
  const c = conditionOf(obj);
  return c?.status === 'True' && c.observedGeneration === obj.metadata.generation;
}

/** A site-b bootstrap token Secret and the MirrorPeer that names it, for `mirror`. */
export function tokenPeerObjects(namespace: string, mirror: string, token: string): object[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'site-b-token', namespace },
      stringData: { token },
    },
    {
      apiVersion: API_VERSION,
      kind: 'MirrorPeer',
      metadata: { name: 'site-b', namespace },
      spec: { mirrorRef: { name: mirror }, bootstrapTokenSecretRef: { name: 'site-b-token' } },
    },
  ];
}
