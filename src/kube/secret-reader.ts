// The Secrets the custom resources name, read one by one (GET by name), never listed or watched.
//
// Why not an informer: an informer on Secrets lists and caches every Secret of every watched
// namespace (kube-system's, every Helm release's), and needs `list`/`watch` on all of them, so a
// compromised operator could read them all. RBAC cannot restrict list/watch to names unknown
// when the chart is installed; a GET by name can only return what the resources name.
//
// What replaces the watch: a small cache of the Secrets currently referenced (nothing else is
// kept), filled and refreshed in three ways:
//  - the reconcile of a referring object re-reads its own Secrets (older than `freshMs`), so a
//    reconcile never acts on a value older than that;
//  - other objects' Secrets that a reconcile needs for a decision (ownership, duplicate peers) are
//    read when not cached yet;
//  - `resync()` (every `resyncMs`, default 10 s, run by the manager) re-reads every referenced
//    Secret and reports those whose resourceVersion changed (or that appeared or went), so their
//    dependents reconcile again: a rotated key or a token Secret created later is picked up
//    within one resync period plus one reconcile.
// `invalidate` reports a Secret the operator itself just wrote, at once.
import type { V1Secret } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { describeApiError } from './kube-api.js';

/** A Secret named by a resource: always in that resource's namespace. */
export interface SecretRef {
  namespace: string;
  name: string;
}

export type SecretChangeHandler = (ref: SecretRef) => void;

interface Entry {
  /** undefined: the Secret does not exist (404). */
  secret: V1Secret | undefined;
  readAtMs: number;
}

export const DEFAULT_SECRET_RESYNC_MS = 10_000;
/** A reconcile re-reads its own Secrets unless read this recently (bursts of reconciles). */
export const DEFAULT_SECRET_FRESH_MS = 1_000;

export interface SecretReaderOptions {
  freshMs?: number;
  now?: () => number;
}

function keyOf(ref: SecretRef): string {
  return `${ref.namespace}/${ref.name}`;
}

/** What changed between two reads: existence or resourceVersion (contents are never compared). */
function versionOf(secret: V1Secret | undefined): string {
  return secret === undefined ? '' : `rv:${secret.metadata?.resourceVersion ?? '?'}`;
}

export class SecretReader {
  private readonly cache = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();
  private readonly handlers: SecretChangeHandler[] = [];
  private readonly freshMs: number;
  private readonly now: () => number;

  constructor(
    private readonly getSecret: (namespace: string, name: string) => Promise<V1Secret | undefined>,
    private readonly log: Logger,
    options: SecretReaderOptions = {},
  ) {
    this.freshMs = options.freshMs ?? DEFAULT_SECRET_FRESH_MS;
    this.now = options.now ?? Date.now;
  }

  /** Called with each Secret seen to change (not on its first read). */
  onChange(handler: SecretChangeHandler): void {
    this.handlers.push(handler);
  }

  /** The Secret as last read; undefined when it does not exist or was never read. */
  get(namespace: string, name: string): V1Secret | undefined {
    return this.cache.get(keyOf({ namespace, name }))?.secret;
  }

  /** True once the Secret has been read (whether or not it exists). */
  has(namespace: string, name: string): boolean {
    return this.cache.has(keyOf({ namespace, name }));
  }

  /**
   * Re-reads `own` (unless read within freshMs) and reads those of `others` never read yet.
   * Rejects with the API error of a read that failed (e.g. 403 outside the watched namespaces).
   */
  async read(own: readonly SecretRef[], others: readonly SecretRef[] = []): Promise<void> {
    const now = this.now();
    const wanted = new Map<string, SecretRef>();
    for (const ref of own) {
      const entry = this.cache.get(keyOf(ref));
      if (!entry || now - entry.readAtMs >= this.freshMs) wanted.set(keyOf(ref), ref);
    }
    for (const ref of others) {
      if (!this.cache.has(keyOf(ref))) wanted.set(keyOf(ref), ref);
    }
    await Promise.all([...wanted.values()].map((ref) => this.fetch(ref)));
  }

  /**
   * Re-reads every Secret in `referenced` and forgets the cached ones no longer referenced.
   * A failed read is logged and leaves the cached value (the next resync tries again).
   */
  async resync(referenced: readonly SecretRef[]): Promise<void> {
    const keep = new Set(referenced.map(keyOf));
    for (const key of [...this.cache.keys()]) if (!keep.has(key)) this.cache.delete(key);
    await Promise.all(
      referenced.map(async (ref) => {
        try {
          await this.fetch(ref);
        } catch (e) {
          this.log.warn('re-reading a referenced Secret failed', {
            namespace: ref.namespace,
            secretName: ref.name,
            error: describeApiError(e),
          });
        }
      }),
    );
  }

  /** The operator wrote this Secret: drop the cached copy and tell its dependents now. */
  invalidate(ref: SecretRef): void {
    this.cache.delete(keyOf(ref));
    this.emit(ref);
  }

  private fetch(ref: SecretRef): Promise<Entry> {
    const key = keyOf(ref);
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = (async (): Promise<Entry> => {
      const secret = await this.getSecret(ref.namespace, ref.name);
      const before = this.cache.get(key);
      const entry: Entry = { secret, readAtMs: this.now() };
      this.cache.set(key, entry);
      if (before && versionOf(before.secret) !== versionOf(secret)) this.emit(ref);
      return entry;
    })().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private emit(ref: SecretRef): void {
    for (const h of this.handlers) h(ref);
  }
}
