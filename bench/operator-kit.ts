// The Kubernetes and operator side that the operator benchmarks share (operator, steady): the
// namespace and CephFSMirror they set up, MirroredDirectory objects created many at once, Ready,
// and what the operator process reports (its /metrics, its memory). One copy keeps the two
// benchmarks' set-up and readings alike, so their numbers stay comparable.
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SiteInfo } from '../lab/ceph-cluster.js';
import { kubectl, kubectlJson, type KubeHandle } from '../lab/harness/kube.js';
import type { OperatorProcess } from '../lab/harness/operator.js';
import { waitFor } from '../lab/harness/wait.js';
import { connectionSecretYaml } from '../lab/k8s-secrets.js';
import {
  GROUP,
  KINDS,
  VERSION,
  type CephFSMirror,
  type MirroredDirectory,
} from '../src/api/resources.js';
import type { KubeApi } from '../src/kube/kube-api.js';

/** Whole numbers as the result tables write them (1,000). */
export const count = (n: number): string => n.toLocaleString('en');

export function isReady(d: MirroredDirectory): boolean {
  return d.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Runs `fn` over `items` with at most `limit` in flight (the creates' concurrency). */
export async function pool<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

export function directoryObject(
  name: string,
  namespace: string,
  mirror: string,
  path: string,
): MirroredDirectory {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KINDS.directory.kind,
    metadata: { name, namespace },
    spec: { mirrorRef: { name: mirror }, path },
  };
}

/**
 * Creates a MirroredDirectory, retrying what a busy apiserver answers many creates at once with:
 * 429 (its inflight limit) and 5xx are transient, anything else is a real failure. `existingOk`:
 * 409 means the object was left by an earlier run and is reused.
 */
export async function createWithRetry(
  api: KubeApi,
  body: MirroredDirectory,
  existingOk = false,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await api.create(KINDS.directory, body);
      return;
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (existingOk && code === 409) return;
      if (attempt >= 5 || !(code === 429 || (code !== undefined && code >= 500))) throw e;
      await sleep(100 * attempt);
    }
  }
}

/** The namespace and the Secret `ceph-site-a` that a CephFSMirror's cluster.secretRef names. */
export async function applyNamespaceAndSite(
  kube: KubeHandle,
  namespace: string,
  site: SiteInfo,
): Promise<void> {
  await kubectl(
    kube,
    ['apply', '-f', '-'],
    `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${namespace}\n`,
  );
  await kubectl(kube, ['apply', '-f', '-'], connectionSecretYaml('ceph-site-a', namespace, site));
}

export function mirrorObject(
  name: string,
  namespace: string,
  filesystem: string,
  policy: NonNullable<CephFSMirror['spec']['policy']>,
): CephFSMirror {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: KINDS.mirror.kind,
    metadata: { name, namespace },
    spec: { cluster: { secretRef: { name: 'ceph-site-a' } }, filesystem, policy },
  };
}

/**
 * Until each of `objects` (kubectl names, e.g. `cephfsmirror/x`) is Ready and the mirror lists
 * `daemons` instances: every daemon known to the engine before a run's clock starts.
 */
export async function waitMirrorReady(
  kube: KubeHandle,
  namespace: string,
  mirror: string,
  objects: string[],
  daemons: number,
): Promise<void> {
  for (const what of objects) {
    await kubectl(
      kube,
      ['-n', namespace, 'wait', '--for=condition=Ready', what, '--timeout=120s'],
      undefined,
      130_000,
    );
  }
  await waitFor(
    `the mirror to list ${daemons} daemons`,
    async () => {
      const m = await kubectlJson<CephFSMirror>(kube, [
        '-n',
        namespace,
        'get',
        `cephfsmirror/${mirror}`,
      ]);
      return m.status?.instanceCount === daemons;
    },
    90_000,
    500,
  );
}

/** The operator's /metrics port, from its JSON log line "operator starting". */
export async function metricsPort(op: OperatorProcess): Promise<number> {
  return waitFor(
    'the operator to log its metrics address',
    () => {
      const line = readFileSync(op.logPath, 'utf8')
        .split('\n')
        .find((l) => l.includes('operator starting'));
      const m = line ? /"metrics":"[^"]*:(\d+)"/.exec(line) : null;
      return m ? Number(m[1]) : undefined;
    },
    60_000,
  );
}

export async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Directory reconciles so far, from the text of the operator's /metrics. */
export function directoryReconciles(metrics: string): number {
  const m =
    /^cephfs_mirror_reconcile_duration_seconds_count\{kind="MirroredDirectory"\} (\S+)/m.exec(
      metrics,
    );
  return Number(m?.[1] ?? 0);
}

/** A process's resident memory now and at its peak (VmRSS, VmHWM from /proc/<pid>/status). */
export function memoryMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number.parseInt(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 'NaN', 10);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}
