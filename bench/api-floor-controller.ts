// The API server's floor for the operator benchmark: a controller that does for each new
// MirroredDirectory only the two writes the operator must make (its finalizer, then a Ready
// status of the same shape and size as the operator's) and nothing else: no Ceph, no checks.
// bench/operator.ts runs it as a child process, as the operator runs, on objects in a namespace
// the operator does not watch; the time it lags the creates is what the API server alone costs
// on the machine, so the operator's own lag can be read against it.
//
// Usage: tsx bench/api-floor-controller.ts <kubeconfig> <namespace>
import { setCondition } from '../src/api/conditions.js';
import {
  FINALIZER,
  GROUP,
  KINDS,
  VERSION,
  objectKey,
  splitKey,
  type MirroredDirectory,
  type MirroredDirectoryStatus,
} from '../src/api/resources.js';
import { CachedWatch } from '../src/kube/informers.js';
import { KubeApi } from '../src/kube/kube-api.js';
import { loadKubeConfig } from '../src/kube/kube-config.js';
import { withKstatus } from '../src/kube/kstatus.js';
import { createLogger } from '../src/log.js';

/** As many writes in flight as the operator's directory workers (BENCH_FLOOR_WORKERS to try more). */
const WORKERS = Number(process.env['BENCH_FLOOR_WORKERS'] ?? 32);
/**
 * BENCH_FLOOR_WRITES=status: the status write alone, as for objects created with the finalizer
 * already on them (what a mutating admission webhook adding it would give; the webhook's own
 * cost to the API server is not in this figure).
 */
const STATUS_ONLY = process.env['BENCH_FLOOR_WRITES'] === 'status';

const [kubeconfig, namespace] = process.argv.slice(2);
if (!kubeconfig || !namespace) {
  console.error('usage: api-floor-controller <kubeconfig> <namespace>');
  process.exit(2);
}
const kc = loadKubeConfig(kubeconfig);
const api = new KubeApi(kc);
const log = createLogger({ level: 'warn', format: 'json' });
const watch = new CachedWatch<MirroredDirectory>(
  kc,
  {
    name: 'directories',
    path: (ns) => `/apis/${GROUP}/${VERSION}/namespaces/${ns ?? ''}/${KINDS.directory.plural}`,
    list: (ns) => api.list<MirroredDirectory>(KINDS.directory, ns),
  },
  [namespace],
  log,
);

const queue: string[] = [];
const queued = new Set<string>();
/** Workers waiting for a key: each new key wakes one (a single slot would wake only the last). */
const idle: Array<() => void> = [];

watch.on((dir, type) => {
  if (type === 'delete' || dir.status?.state === 'Associated') return;
  const key = objectKey(dir.metadata);
  if (queued.has(key)) return;
  queued.add(key);
  queue.push(key);
  idle.shift()?.();
});

/** What the operator writes for a directory its daemon acquired (directory-status.ts). */
function readyStatus(dir: MirroredDirectory): MirroredDirectoryStatus {
  const generation = dir.metadata.generation ?? 1;
  let conditions = setCondition(undefined, {
    type: 'Ready',
    status: 'True',
    reason: 'Mirrored',
    message: `${dir.spec.path} is mirrored by cephfs-mirror instance 4242`,
    observedGeneration: generation,
  });
  conditions = setCondition(conditions, {
    type: 'Invalid',
    status: 'False',
    reason: 'Valid',
    message: 'the spec is valid',
    observedGeneration: generation,
  });
  return withKstatus({
    observedGeneration: generation,
    mirrorRef: dir.spec.mirrorRef.name,
    path: dir.spec.path ?? '',
    source: `path ${dir.spec.path ?? ''}`,
    state: 'Associated',
    instanceID: '4242',
    mappedTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    conditions,
  });
}

async function handle(key: string): Promise<void> {
  const { namespace: ns, name } = splitKey(key);
  const dir = watch.get(ns, name);
  if (!dir) return;
  const withFinalizer = STATUS_ONLY
    ? dir
    : await api.replace<MirroredDirectory>(KINDS.directory, {
        ...dir,
        metadata: { ...dir.metadata, finalizers: [...(dir.metadata.finalizers ?? []), FINALIZER] },
      });
  await api.replaceStatus(KINDS.directory, { ...withFinalizer, status: readyStatus(dir) });
}

async function worker(): Promise<never> {
  for (;;) {
    const key = queue.shift();
    if (key === undefined) {
      await new Promise<void>((resolve) => idle.push(resolve));
      continue;
    }
    try {
      await handle(key);
    } catch (e) {
      log.warn('write failed', { key, error: (e as Error).message });
      queued.delete(key);
      continue;
    }
  }
}

await watch.start();
console.log('floor controller ready');
process.on('SIGTERM', () => process.exit(0));
await Promise.all(Array.from({ length: WORKERS }, () => worker()));
