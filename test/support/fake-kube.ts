// An in-memory Kubernetes API server for in-process tests of the controllers: it answers the
// operator's HTTP layer (KubeHttp.request(method, path, body), the seam kube-api.ts sends every
// call through) with the apiserver's behaviour where the controllers depend on it:
// - resourceVersion grows with every write; a PUT naming an older one fails 409 Conflict;
// - PUT of the main resource ignores status, PUT of /status changes only status (the status
//   subresource); generation moves only when the spec changes;
// - DELETE of an object with finalizers only sets deletionTimestamp; the object goes once an
//   update empties its finalizers; no finalizer may be added once deletion started;
// - LIST pages with `limit` and `continue`;
// - errors are KubeApiError with a metav1.Status body (reason NotFound, Conflict, AlreadyExists,
//   Invalid), as kube-http.ts raises them.
// Reconciler tests use `watch(plural)`: a cache the store updates synchronously on every write,
// standing in for a synced informer (CachedWatch's get/list/on). WATCH itself (`watchPath`) is
// served over HTTPS by fake-kube-server.ts, for tests of the manager's real informers.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { KubeApi } from '../../src/kube/kube-api.js';
import { KubeApiError, type HttpMethod } from '../../src/kube/kube-http.js';
import type { CachedWatch, EventType, Handler, WatchedObject } from '../../src/kube/informers.js';
import type { KindInfo } from '../../src/api/resources.js';

type Json = Record<string, unknown>;

export interface StoredObject extends KubernetesObject {
  metadata: NonNullable<KubernetesObject['metadata']> & { name: string };
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

interface ParsedPath {
  /** `/apis/<group>/<version>` or `/api/v1`. */
  prefix: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
}

export interface WatchEvent {
  rv: number;
  prefix: string;
  plural: string;
  namespace: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: StoredObject;
}

export interface RecordedRequest {
  method: HttpMethod;
  path: string;
  body?: unknown;
}

/** Called before a request is served; throwing answers the request with that error. */
export type RequestHook = (req: RecordedRequest) => void;

const START = Date.parse('2026-01-01T00:00:00Z');

function clone<T>(v: T): T {
  return structuredClone(v);
}

function parsePath(raw: string): ParsedPath {
  const url = new URL(raw, 'https://fake.invalid');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let prefix: string;
  let rest: string[];
  if (parts[0] === 'api') {
    prefix = `/api/${parts[1]}`;
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    prefix = `/apis/${parts[1]}/${parts[2]}`;
    rest = parts.slice(3);
  } else {
    throw new Error(`fake-kube: unexpected path ${raw}`);
  }
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource] = rest;
  if (!plural) throw new Error(`fake-kube: no resource in ${raw}`);
  return {
    prefix,
    plural,
    query: url.searchParams,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}

/** The parts of an object that are its spec for generation purposes (all but metadata/status). */
function specPart(obj: Json): Json {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

export class FakeWatch {
  private readonly handlers: Array<Handler<KubernetesObject>> = [];
  private readonly items = new Map<string, KubernetesObject>();

  on(handler: Handler<KubernetesObject>): void {
    this.handlers.push(handler);
  }

  get(namespace: string, name: string): KubernetesObject | undefined {
    return this.items.get(`${namespace}/${name}`);
  }

  list(namespace?: string): KubernetesObject[] {
    return [...this.items.values()].filter(
      (o) => namespace === undefined || o.metadata?.namespace === namespace,
    );
  }

  /** As a CachedWatch, for TypedCache and the ControllerContext. */
  asCachedWatch<T extends WatchedObject>(): CachedWatch<T> {
    return this as unknown as CachedWatch<T>;
  }

  /** @internal the store's notification. */
  emit(obj: KubernetesObject, type: EventType): void {
    const key = `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
    if (type === 'delete') this.items.delete(key);
    else this.items.set(key, clone(obj));
    for (const h of this.handlers) h(clone(obj), type);
  }
}

export class FakeKube {
  /** `<prefix>|<plural>|<namespace>|<name>` → object. */
  private readonly objects = new Map<string, StoredObject>();
  private readonly watches = new Map<string, FakeWatch>();
  /** Every change, in order, for WATCH requests that start from an older resourceVersion. */
  private readonly history: WatchEvent[] = [];
  private readonly watchers = new Set<(e: WatchEvent) => void>();
  private rv = 100;
  private created = 0;
  private uids = 0;
  /** Every request served (or refused), in order. */
  readonly requests: RecordedRequest[] = [];
  readonly hooks: RequestHook[] = [];
  /** Plurals whose objects have a status subresource (the CRDs'); others keep status on writes. */
  private readonly statusSubresource = new Set([
    'cephfsmirrors',
    'mirrorpeers',
    'mirroreddirectories',
  ]);
  /** Plurals that count generation (custom resources). */
  private readonly generational = new Set(['cephfsmirrors', 'mirrorpeers', 'mirroreddirectories']);

  /** A KubeApi whose every call goes to this fake instead of over HTTPS. */
  api(): KubeApi {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: 'https://fake.invalid', skipTLSVerify: false }],
      users: [{ name: 'fake' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake' }],
      currentContext: 'fake',
    });
    const api = new KubeApi(kc);
    // The seam: kube-api.ts sends everything through `http.request`.
    (api as unknown as { http: unknown }).http = {
      request: <T>(method: HttpMethod, path: string, body?: unknown): Promise<T> =>
        this.request<T>(method, path, body),
      close: () => undefined,
    };
    return api;
  }

  /** The informer-like cache of one resource (by plural), kept current on every write. */
  watch(plural: string): FakeWatch {
    let w = this.watches.get(plural);
    if (!w) {
      w = new FakeWatch();
      this.watches.set(plural, w);
      for (const [k, obj] of this.objects) if (k.split('|')[1] === plural) w.emit(obj, 'add');
    }
    return w;
  }

  /** Answers one request as the apiserver would (async, like the network). */
  async request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
    await Promise.resolve();
    const req: RecordedRequest = {
      method,
      path,
      ...(body !== undefined ? { body: clone(body) } : {}),
    };
    this.requests.push(req);
    for (const hook of [...this.hooks]) hook(req);
    return clone(this.serve(method, path, req.body as Json | undefined)) as T;
  }

  // ---- helpers acting as a user (kubectl) -------------------------------------------------------

  create<T>(kind: KindInfo | string, obj: T): Promise<T> {
    const o = obj as unknown as StoredObject;
    return this.request<T>('POST', this.collectionPath(kind, o.metadata.namespace), obj);
  }

  get<T>(kind: KindInfo | string, namespace: string, name: string): T | undefined {
    const p = parsePath(this.objectPath(kind, namespace, name));
    const found = this.objects.get(this.key(p.prefix, p.plural, namespace, name));
    return found ? (clone(found) as unknown as T) : undefined;
  }

  /** `kubectl delete`: deletionTimestamp while finalizers remain. */
  delete(kind: KindInfo | string, namespace: string, name: string): Promise<unknown> {
    return this.request('DELETE', this.objectPath(kind, namespace, name));
  }

  /** A user's edit of the object (spec, labels...), read-modify-write with its resourceVersion. */
  async edit<T>(
    kind: KindInfo | string,
    namespace: string,
    name: string,
    change: (obj: T) => void,
  ): Promise<T> {
    const current = this.get<T>(kind, namespace, name);
    if (!current) throw new Error(`fake-kube: ${namespace}/${name} not found`);
    change(current);
    return this.request<T>('PUT', this.objectPath(kind, namespace, name), current);
  }

  /** Writes status through the /status subresource, as the operator (or a previous run) did. */
  async setStatus(
    kind: KindInfo | string,
    namespace: string,
    name: string,
    status: unknown,
  ): Promise<void> {
    const current = this.get<StoredObject>(kind, namespace, name);
    if (!current) throw new Error(`fake-kube: ${namespace}/${name} not found`);
    await this.request('PUT', `${this.objectPath(kind, namespace, name)}/status`, {
      ...current,
      status,
    });
  }

  /**
   * Another writer changes the object just before each of the next `times` requests matching
   * `method` and `pathSuffix` is served: each of them then meets a newer resourceVersion (a
   * real conflict, not an injected error).
   */
  interleaveOnce(
    method: HttpMethod,
    pathSuffix: string,
    change: (obj: StoredObject) => void,
    times = 1,
  ): void {
    let left = times;
    const hook: RequestHook = (req) => {
      const bare = req.path.split('?')[0] ?? req.path;
      if (req.method !== method || !bare.endsWith(pathSuffix)) return;
      if (--left <= 0) this.hooks.splice(this.hooks.indexOf(hook), 1);
      const p = parsePath(bare);
      const k = this.key(p.prefix, p.plural, p.namespace, p.name ?? '');
      const obj = this.objects.get(k);
      if (!obj) return;
      change(obj);
      this.touch(k, obj, 'update');
    };
    this.hooks.push(hook);
  }

  /** Events recorded in a namespace (reason, type, message, involved object name). */
  events(
    namespace?: string,
  ): Array<{ reason: string; type: string; message: string; object: string }> {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith('/api/v1|events|'))
      .map(([, o]) => o as unknown as Json)
      .filter((o) => namespace === undefined || (o.metadata as Json).namespace === namespace)
      .map((o) => ({
        reason: String(o.reason),
        type: String(o.type),
        message: String(o.message),
        object: String((o.involvedObject as Json).name),
      }));
  }

  collectionPath(kind: KindInfo | string, namespace?: string): string {
    const { prefix, plural } = this.kindPath(kind);
    return namespace === undefined
      ? `${prefix}/${plural}`
      : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  }

  objectPath(kind: KindInfo | string, namespace: string, name: string): string {
    return `${this.collectionPath(kind, namespace)}/${encodeURIComponent(name)}`;
  }

  // ---- the server -------------------------------------------------------------------------------

  private kindPath(kind: KindInfo | string): { prefix: string; plural: string } {
    if (typeof kind !== 'string')
      return { prefix: '/apis/mirror.cephfs.io/v1alpha1', plural: kind.plural };
    return { prefix: '/api/v1', plural: kind };
  }

  private key(prefix: string, plural: string, namespace: string | undefined, name: string): string {
    return `${prefix}|${plural}|${namespace ?? ''}|${name}`;
  }

  private serve(method: HttpMethod, path: string, body: Json | undefined): unknown {
    const p = parsePath(path);
    if (p.name === undefined) {
      if (method === 'GET') return this.list(p);
      if (method === 'POST') return this.createObject(p, body ?? {});
      throw this.error(405, 'MethodNotAllowed', `${method} on a collection`, p);
    }
    const k = this.key(p.prefix, p.plural, p.namespace, p.name);
    const existing = this.objects.get(k);
    if (method === 'GET') {
      if (!existing) throw this.notFound(p);
      return existing;
    }
    if (method === 'PUT') {
      if (!existing) throw this.notFound(p);
      return p.subresource === 'status'
        ? this.replaceStatus(k, p, existing, body ?? {})
        : this.replace(k, p, existing, body ?? {});
    }
    if (method === 'DELETE') {
      if (!existing) throw this.notFound(p);
      if ((existing.metadata.finalizers ?? []).length === 0) {
        this.remove(k, existing);
        return { kind: 'Status', apiVersion: 'v1', status: 'Success' };
      }
      if (!existing.metadata.deletionTimestamp) {
        existing.metadata.deletionTimestamp = new Date(this.now()).toISOString() as unknown as Date;
        this.touch(k, existing, 'update');
      }
      return existing;
    }
    throw this.error(405, 'MethodNotAllowed', `${method} is not served by the fake`, p);
  }

  private list(p: ParsedPath): unknown {
    const items = [...this.objects.entries()]
      .filter(([k]) => {
        const [prefix, plural, ns] = k.split('|');
        return (
          prefix === p.prefix &&
          plural === p.plural &&
          (p.namespace === undefined || ns === p.namespace)
        );
      })
      .sort(([a], [b]) => a.localeCompare(b));
    const after = p.query.get('continue');
    const start = after
      ? items.findIndex(([k]) => k > Buffer.from(after, 'base64url').toString())
      : 0;
    const from = start < 0 ? items.length : start;
    const limit = Number(p.query.get('limit') ?? '0');
    const page = limit > 0 ? items.slice(from, from + limit) : items.slice(from);
    const last = page[page.length - 1];
    const more = limit > 0 && from + limit < items.length && last !== undefined;
    return {
      kind: 'List',
      apiVersion: 'v1',
      metadata: {
        resourceVersion: String(this.rv),
        ...(more ? { continue: Buffer.from(last[0]).toString('base64url') } : {}),
      },
      items: page.map(([, o]) => o),
    };
  }

  private createObject(p: ParsedPath, body: Json): unknown {
    const metadata = { ...((body.metadata as Json | undefined) ?? {}) };
    let name = metadata.name as string | undefined;
    if (!name && typeof metadata.generateName === 'string') {
      name = `${metadata.generateName}${(this.uids + 1).toString(36).padStart(5, '0')}`;
    }
    if (!name) throw this.error(422, 'Invalid', 'metadata.name: Required value', p);
    const namespace = (metadata.namespace as string | undefined) ?? p.namespace;
    const k = this.key(p.prefix, p.plural, namespace, name);
    if (this.objects.has(k)) {
      throw this.error(409, 'AlreadyExists', `${p.plural} "${name}" already exists`, {
        ...p,
        name,
      });
    }
    const obj: StoredObject = {
      ...clone(body),
      metadata: {
        ...clone(metadata),
        name,
        ...(namespace !== undefined ? { namespace } : {}),
        uid: `uid-${++this.uids}`,
        // One second apart, in creation order: ownership decisions order by creationTimestamp.
        creationTimestamp: new Date(START + 1000 * ++this.created).toISOString() as unknown as Date,
        ...(this.generational.has(p.plural) ? { generation: 1 } : {}),
      },
    } as StoredObject;
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.resourceVersion;
    if (this.statusSubresource.has(p.plural)) delete obj.status;
    this.touch(k, obj, 'add');
    return obj;
  }

  private checkVersion(p: ParsedPath, existing: StoredObject, body: Json): void {
    const rv = (body.metadata as Json | undefined)?.resourceVersion;
    if (rv !== undefined && rv !== existing.metadata.resourceVersion) {
      throw this.error(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${p.plural} "${p.name}": the object has been ` +
          'modified; please apply your changes to the latest version and try again',
        p,
      );
    }
  }

  private replace(k: string, p: ParsedPath, existing: StoredObject, body: Json): unknown {
    this.checkVersion(p, existing, body);
    const meta = (body.metadata as Json | undefined) ?? {};
    const finalizers = (meta.finalizers as string[] | undefined) ?? [];
    const before = existing.metadata.finalizers ?? [];
    if (existing.metadata.deletionTimestamp && finalizers.some((f) => !before.includes(f))) {
      throw this.error(
        422,
        'Invalid',
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted',
        p,
      );
    }
    const next: StoredObject = {
      ...clone(body),
      metadata: {
        ...clone(meta),
        // What a client cannot change with an update.
        name: existing.metadata.name,
        ...(existing.metadata.namespace !== undefined
          ? { namespace: existing.metadata.namespace }
          : {}),
        uid: existing.metadata.uid,
        creationTimestamp: existing.metadata.creationTimestamp,
        ...(existing.metadata.deletionTimestamp
          ? { deletionTimestamp: existing.metadata.deletionTimestamp }
          : {}),
        ...(existing.metadata.generation !== undefined
          ? { generation: existing.metadata.generation }
          : {}),
      },
    } as StoredObject;
    if (finalizers.length === 0) delete next.metadata.finalizers;
    if (this.statusSubresource.has(p.plural)) {
      if (existing.status === undefined) delete next.status;
      else next.status = clone(existing.status);
    }
    if (
      next.metadata.generation !== undefined &&
      JSON.stringify(specPart(next)) !== JSON.stringify(specPart(existing))
    ) {
      next.metadata.generation += 1;
    }
    if (next.metadata.deletionTimestamp && finalizers.length === 0) {
      this.remove(k, next);
      return next;
    }
    this.touch(k, next, 'update');
    return next;
  }

  private replaceStatus(k: string, p: ParsedPath, existing: StoredObject, body: Json): unknown {
    this.checkVersion(p, existing, body);
    const next: StoredObject = { ...clone(existing), status: clone(body.status) };
    if (body.status === undefined) delete next.status;
    this.touch(k, next, 'update');
    return next;
  }

  /** Stores a write: a new resourceVersion, and the caches told. */
  private touch(k: string, obj: StoredObject, type: EventType): void {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.set(k, obj);
    this.watches.get(k.split('|')[1] ?? '')?.emit(obj, type);
    this.record(k, obj, type);
  }

  /** The object goes (no finalizer left): a last resourceVersion, and the caches told. */
  private remove(k: string, obj: StoredObject): void {
    obj.metadata.resourceVersion = String(++this.rv);
    this.objects.delete(k);
    this.watches.get(k.split('|')[1] ?? '')?.emit(obj, 'delete');
    this.record(k, obj, 'delete');
  }

  private record(k: string, obj: StoredObject, type: EventType): void {
    const [prefix = '', plural = '', namespace = ''] = k.split('|');
    const event: WatchEvent = {
      rv: this.rv,
      prefix,
      plural,
      namespace,
      type: type === 'add' ? 'ADDED' : type === 'update' ? 'MODIFIED' : 'DELETED',
      object: clone(obj),
    };
    this.history.push(event);
    for (const l of this.watchers) l(event);
  }

  /**
   * Watch events of a collection (`path` as for LIST), from after `resourceVersion` on: those
   * already recorded, then each new one as it happens, until the returned function is called.
   * What a WATCH request streams (fake-kube-server.ts serves it over HTTPS).
   */
  watchPath(
    path: string,
    resourceVersion: string | undefined,
    on: (e: WatchEvent) => void,
  ): () => void {
    const p = parsePath(path);
    const from = Number(resourceVersion ?? '0') || 0;
    const matches = (e: WatchEvent): boolean =>
      e.prefix === p.prefix &&
      e.plural === p.plural &&
      (p.namespace === undefined || e.namespace === p.namespace);
    for (const e of this.history) if (e.rv > from && matches(e)) on(e);
    const listener = (e: WatchEvent): void => {
      if (matches(e)) on(e);
    };
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  private now(): number {
    return START + 1000 * (this.created + 1);
  }

  private notFound(p: ParsedPath): KubeApiError {
    return this.error(404, 'NotFound', `${p.plural} "${p.name}" not found`, p);
  }

  private error(code: number, reason: string, message: string, p: ParsedPath): KubeApiError {
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      details: { name: p.name, kind: p.plural },
      code,
    };
    return new KubeApiError(code, status, 'REQUEST', `${p.prefix}/${p.plural}`);
  }
}
