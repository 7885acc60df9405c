// Watches with a local cache (client-node informers), one per namespace watched or one for the
// whole cluster. An informer whose watch fails restarts itself after a short pause, relisting, so
// a restarted API server or an expired resourceVersion never leaves the operator blind.
import {
  ADD,
  DELETE,
  ERROR,
  UPDATE,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';
import type { Logger } from '../log.js';

export type EventType = 'add' | 'update' | 'delete';
export type Handler<T> = (obj: T, type: EventType) => void;

/**
 * What a watch needs of the objects it caches: a name and a namespace. The operator's own resource
 * types (src/api/resources.ts) declare their metadata more narrowly than client-node's
 * KubernetesObject (timestamps as the strings the API server sends), so the cache is typed by
 * the watched kind and the informer underneath by KubernetesObject: one conversion, here.
 */
export interface WatchedObject {
  metadata?: { name?: string; namespace?: string };
}

export interface WatchTarget<T> {
  /** For logs. */
  name: string;
  /** API path of the collection, for one namespace or (namespace undefined) all of them. */
  path(namespace: string | undefined): string;
  /**
   * The whole collection, for the first list and every relist; paginated (KubeApi.list, a page
   * of LIST_PAGE_SIZE at a time), so no single answer holds a large collection at once. `each`
   * sees every item as its page arrives.
   */
  list(namespace: string | undefined, each?: (item: T) => void): Promise<{ items: T[] }>;
}

export class CachedWatch<T extends WatchedObject> {
  private readonly informers: Array<Informer<KubernetesObject> & ObjectCache<KubernetesObject>> =
    [];
  private readonly handlers: Array<Handler<T>> = [];
  private stopped = false;

  constructor(
    private readonly kc: KubeConfig,
    private readonly target: WatchTarget<T>,
    /** undefined: all namespaces. */
    private readonly namespaces: readonly string[] | undefined,
    private readonly log: Logger,
    /**
     * Applied in place to every object before the cache hands it out: to each listed object as
     * its page arrives (so a list never holds the whole collection unprepared), and to each
     * watched one before any handler. Must be idempotent: a listed object is also an add event.
     */
    private readonly prepare: ((obj: T) => void) | undefined = undefined,
    private readonly restartDelayMs = 2000,
  ) {}

  on(handler: Handler<T>): void {
    this.handlers.push(handler);
  }

  /** Starts the watches; resolves once each has listed (its cache is then complete). */
  async start(): Promise<void> {
    const scopes = this.namespaces ?? [undefined];
    await Promise.all(scopes.map((ns) => this.startOne(ns)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  get(namespace: string, name: string): T | undefined {
    for (const i of this.informers) {
      const found = i.get(name, namespace);
      if (found) return asWatched<T>(found);
    }
    return undefined;
  }

  list(namespace?: string): T[] {
    return this.informers.flatMap((i) => i.list(namespace).map((o) => asWatched<T>(o)));
  }

  private async startOne(namespace: string | undefined): Promise<void> {
    const informer = makeInformer<KubernetesObject>(
      this.kc,
      this.target.path(namespace),
      async () => ({
        items: (await this.target.list(namespace, this.prepare)).items.map(asKubernetesObject),
      }),
    );
    const emit = (type: EventType) => (obj: KubernetesObject) => {
      const typed = asWatched<T>(obj);
      this.prepare?.(typed);
      for (const h of this.handlers) h(typed, type);
    };
    informer.on(ADD, emit('add'));
    informer.on(UPDATE, emit('update'));
    informer.on(DELETE, emit('delete'));
    informer.on(ERROR, (err: unknown) => {
      if (this.stopped) return;
      this.log.warn('watch failed; restarting', {
        watch: this.target.name,
        namespace: namespace ?? '*',
        error: err instanceof Error ? err.message : String(err),
      });
      setTimeout(() => {
        if (!this.stopped) void informer.start().catch(() => undefined);
      }, this.restartDelayMs);
    });
    this.informers.push(informer);
    await informer.start();
  }
}

/**
 * The informer's objects are those the API server sent for the watched collection (the CRD schema
 * is what gives them the kind's shape): the cache hands them out under the kind's type.
 */
function asWatched<T extends WatchedObject>(obj: KubernetesObject): T {
  return obj as unknown as T;
}

function asKubernetesObject(obj: WatchedObject): KubernetesObject {
  return obj as KubernetesObject;
}
