// What every reconciler gets: the API, the informer caches, the running engines, events, logs.
import type { Logger } from '../log.js';
import type { OperatorMetrics } from '../metrics.js';
import type { EventRecorder } from '../kube/events.js';
import type { CachedWatch } from '../kube/informers.js';
import type { KubeApi } from '../kube/kube-api.js';
import type { SecretReader } from '../kube/secret-reader.js';
import type { MirrorRuntimes } from './mirror-runtimes.js';
export { directoryKeysOf } from './watches.js';
import {
  objectKey,
  type CephFSMirror,
  type MirroredDirectory,
  type MirrorPeer,
  type Resource,
} from '../api/resources.js';

/** An informer cache of one kind, read by namespace/name key as well. */
export class TypedCache<T extends Resource<unknown, unknown>> {
  constructor(readonly watch: CachedWatch<T>) {}

  get(namespace: string, name: string): T | undefined {
    return this.watch.get(namespace, name);
  }

  getByKey(key: string): T | undefined {
    const i = key.indexOf('/');
    return this.get(key.slice(0, i), key.slice(i + 1));
  }

  list(namespace?: string): T[] {
    return this.watch.list(namespace);
  }
}

/** Functions, not methods: they are handed around unbound (e.g. to the sync-view cache). */
export interface Enqueue {
  mirror: (key: string, afterMs?: number) => void;
  peer: (key: string, afterMs?: number) => void;
  directory: (key: string, afterMs?: number) => void;
}

export interface ControllerContext {
  api: KubeApi;
  mirrors: TypedCache<CephFSMirror>;
  peers: TypedCache<MirrorPeer>;
  directories: TypedCache<MirroredDirectory>;
  /** The Secrets the resources name, read by name (see secret-reader.ts for when). */
  secrets: SecretReader;
  runtimes: MirrorRuntimes;
  events: EventRecorder;
  log: Logger;
  metrics: OperatorMetrics;
  enqueue: Enqueue;
  /** Keys of the MirroredDirectory objects of a mirror that declare `path` (normalised). */
  declaredBy(mirrorKey: string, path: string): string[];
  /**
   * Awaits `wait` without holding the directory reconcile's worker slot (the manager's
   * WorkQueue.outsideSlot). Unset where reconciles are called directly (unit tests): a reconcile
   * that would wait asks to be requeued instead.
   */
  waitOutsideSlot?: <T>(wait: Promise<T>) => Promise<T>;
}

/** The key of the CephFSMirror an object refers to (same namespace). */
export function mirrorKeyOf(obj: MirrorPeer | MirroredDirectory): string {
  return objectKey({ namespace: obj.metadata.namespace, name: obj.spec.mirrorRef.name });
}
