// The operator's few verbs against the Kubernetes API (over kube-http.ts). Status goes only
// through the /status subresource; the main resource is only written to add or remove our
// finalizer. Both use the object's resourceVersion, so a concurrent change gives 409 and we
// re-read and retry instead of overwriting it.
import type { CoreV1Event, KubeConfig, V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { KubeHttp, type RequestObserver } from './kube-http.js';
import { LIST_PAGE_SIZE, listAllPages, type PageFetcher } from './pagination.js';
import { GROUP, VERSION, type KindInfo, type Resource } from '../api/resources.js';

export function httpStatusOf(e: unknown): number | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(e: unknown): boolean {
  return httpStatusOf(e) === 404;
}

export function isConflict(e: unknown): boolean {
  return httpStatusOf(e) === 409;
}

/** A short, secret-free description of an API error for logs and conditions. */
export function describeApiError(e: unknown): string {
  const status = httpStatusOf(e);
  const body = typeof e === 'object' && e !== null ? (e as { body?: unknown }).body : undefined;
  let message: string | undefined;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message;
    } catch {
      message = undefined;
    }
  } else if (typeof body === 'object' && body !== null) {
    message = (body as { message?: string }).message;
  }
  const base = message ?? (e instanceof Error ? e.message.split('\n')[0] : String(e));
  return status ? `HTTP ${status}: ${base}` : (base ?? 'unknown error');
}

type AnyResource = Resource<unknown, unknown>;

/** The label on every Secret the operator creates (`kubectl get secret -l` finds them). */
export const OWNED_SECRET_LABELS: Readonly<Record<string, string>> = Object.freeze({
  'app.kubernetes.io/managed-by': 'cephfs-mirror-operator',
});

/** True when `secret` has an ownerReference to the object `owner` names (uid match). */
export function isOwnedBy(secret: V1Secret, owner: V1OwnerReference): boolean {
  return (
    owner.uid !== '' &&
    (secret.metadata?.ownerReferences ?? []).some((ref) => ref.uid === owner.uid)
  );
}

/** A Secret of the wanted name exists and is not ours to write (reason SecretNotOwned). */
export class SecretNotOwnedError extends Error {
  readonly reason = 'SecretNotOwned';
  constructor(
    readonly namespace: string,
    readonly secretName: string,
    owner: V1OwnerReference,
  ) {
    super(
      `Secret ${secretName} exists and is not owned by ${owner.kind} ${owner.name} ` +
        '(no ownerReference with its uid): the operator only writes Secrets it created; ' +
        'delete or rename that Secret, or choose another spec.bootstrapTokenSecret.name',
    );
    this.name = 'SecretNotOwnedError';
  }
}

function customPath(kind: KindInfo, namespace?: string, name?: string, sub?: string): string {
  let path = `/apis/${GROUP}/${VERSION}`;
  if (namespace !== undefined) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${kind.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  return sub ? `${path}/${sub}` : path;
}

function corePath(resource: string, namespace?: string, name?: string): string {
  let path = '/api/v1';
  if (namespace !== undefined) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${resource}`;
  return name === undefined ? path : `${path}/${encodeURIComponent(name)}`;
}

function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

export interface ResourceList<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

/** A coordination.k8s.io/v1 Lease; times are MicroTime strings (six fractional digits). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export class KubeApi {
  readonly http: KubeHttp;

  /** `onRequest` hears of every request (the operator counts them by verb and resource). */
  constructor(kc: KubeConfig, options: { onRequest?: RequestObserver } = {}) {
    this.http = new KubeHttp(kc, options.onRequest);
  }

  async get<T extends AnyResource>(
    kind: KindInfo,
    namespace: string,
    name: string,
  ): Promise<T | undefined> {
    return orUndefinedWhenMissing(this.http.request<T>('GET', customPath(kind, namespace, name)));
  }

  /**
   * Every object of the kind (in `namespace`, or all), a page of LIST_PAGE_SIZE at a time; `each`
   * sees every object as its page arrives (listAllPages).
   */
  list<T extends AnyResource>(
    kind: KindInfo,
    namespace?: string,
    each?: (item: T) => void,
  ): Promise<ResourceList<T>> {
    return listAllPages<T>(this.fetchPage, customPath(kind, namespace), LIST_PAGE_SIZE, each);
  }

  private readonly fetchPage: PageFetcher = (path) => this.http.request('GET', path);

  create<T extends AnyResource>(kind: KindInfo, body: T): Promise<T> {
    return this.http.request<T>('POST', customPath(kind, body.metadata.namespace), body);
  }

  /** PUT of the whole object (used for finalizers); 409 when it changed since it was read. */
  replace<T extends AnyResource>(kind: KindInfo, body: T): Promise<T> {
    const { namespace, name } = body.metadata;
    return this.http.request<T>('PUT', customPath(kind, namespace, name), body);
  }

  /** PUT of /status; 409 when the object changed since it was read. */
  replaceStatus<T extends AnyResource>(kind: KindInfo, body: T): Promise<T> {
    const { namespace, name } = body.metadata;
    return this.http.request<T>('PUT', customPath(kind, namespace, name, 'status'), body);
  }

  getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return orUndefinedWhenMissing(
      this.http.request<V1Secret>('GET', corePath('secrets', namespace, name)),
    );
  }

  /**
   * Writes the bootstrap token Secret of a CephFSMirror, and only a Secret that CephFSMirror owns:
   * creates it when it does not exist (type Opaque, our label, an ownerReference to `owner`),
   * updates it only when it carries an ownerReference with `owner`'s uid. Any other Secret of
   * that name (someone else's, a Helm release's, a service account token) is left as it is and
   * SecretNotOwnedError thrown. Resolves true when it wrote something, false when the Secret
   * already held these values. Writes carry the resourceVersion read: a concurrent change
   * answers 409, and the next reconcile checks ownership again.
   */
  async upsertSecret(
    namespace: string,
    name: string,
    stringData: Record<string, string>,
    owner: V1OwnerReference,
  ): Promise<boolean> {
    const existing = await this.getSecret(namespace, name);
    const data = Object.fromEntries(
      Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    if (!existing) {
      const body: V1Secret = {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels: { ...OWNED_SECRET_LABELS }, ownerReferences: [owner] },
        type: 'Opaque',
        data,
      };
      await this.http.request('POST', corePath('secrets', namespace), body);
      return true;
    }
    if (!isOwnedBy(existing, owner)) throw new SecretNotOwnedError(namespace, name, owner);
    const same = Object.entries(data).every(([k, v]) => existing.data?.[k] === v);
    if (same) return false;
    existing.data = { ...existing.data, ...data };
    await this.http.request('PUT', corePath('secrets', namespace, name), existing);
    return true;
  }

  async createEvent(namespace: string, event: CoreV1Event): Promise<void> {
    await this.http.request('POST', corePath('events', namespace), {
      apiVersion: 'v1',
      kind: 'Event',
      ...event,
    });
  }

  getLease(namespace: string, name: string): Promise<Lease | undefined> {
    return orUndefinedWhenMissing(this.http.request<Lease>('GET', leasePath(namespace, name)));
  }

  createLease(lease: Lease): Promise<Lease> {
    const body = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease };
    return this.http.request<Lease>('POST', leasePath(lease.metadata.namespace), body);
  }

  /** PUT of the Lease; 409 when another replica wrote it since it was read. */
  replaceLease(lease: Lease): Promise<Lease> {
    const { namespace, name } = lease.metadata;
    return this.http.request<Lease>('PUT', leasePath(namespace, name), lease);
  }

  close(): void {
    this.http.close();
  }
}

async function orUndefinedWhenMissing<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Decodes one key of a Secret; undefined when the Secret or key is missing or empty. */
export function secretValue(secret: V1Secret | undefined, key: string): string | undefined {
  const raw = secret?.data?.[key];
  if (raw !== undefined) {
    const text = Buffer.from(raw, 'base64').toString('utf8').trim();
    return text === '' ? undefined : text;
  }
  const plain = secret?.stringData?.[key]?.trim();
  return plain === '' ? undefined : plain;
}
