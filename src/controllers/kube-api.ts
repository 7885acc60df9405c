// The operator's few verbs against the Kubernetes API, over @kubernetes/client-node. Status goes
// only through the /status subresource; the main resource is only written to add or remove our
// finalizer. Both use the object's resourceVersion, so a concurrent change gives 409 and we
// re-read and retry instead of overwriting it.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1OwnerReference,
  type V1Secret,
} from '@kubernetes/client-node';
import { GROUP, VERSION, type KindInfo, type Resource } from './resources.js';

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

/** The group/version/plural/namespace/name coordinates of one custom object. */
function coordinates(kind: KindInfo, meta: { namespace: string; name: string }) {
  return {
    group: GROUP,
    version: VERSION,
    plural: kind.plural,
    namespace: meta.namespace,
    name: meta.name,
  };
}

export interface ResourceList<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export class KubeApi {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;

  constructor(readonly kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async get<T extends AnyResource>(
    kind: KindInfo,
    namespace: string,
    name: string,
  ): Promise<T | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject(
        coordinates(kind, { namespace, name }),
      )) as T;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends AnyResource>(kind: KindInfo, namespace?: string): Promise<ResourceList<T>> {
    const common = { group: GROUP, version: VERSION, plural: kind.plural };
    const list: unknown =
      namespace === undefined
        ? await this.custom.listCustomObjectForAllNamespaces(common)
        : await this.custom.listNamespacedCustomObject({ ...common, namespace });
    return list as ResourceList<T>;
  }

  async create<T extends AnyResource>(kind: KindInfo, body: T): Promise<T> {
    return (await this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: kind.plural,
      namespace: body.metadata.namespace,
      body,
    })) as T;
  }

  /** PUT of the whole object (used for finalizers); 409 when it changed since it was read. */
  async replace<T extends AnyResource>(kind: KindInfo, body: T): Promise<T> {
    return (await this.custom.replaceNamespacedCustomObject({
      ...coordinates(kind, body.metadata),
      body,
    })) as T;
  }

  /** PUT of /status; 409 when the object changed since it was read. */
  async replaceStatus<T extends AnyResource>(kind: KindInfo, body: T): Promise<T> {
    return (await this.custom.replaceNamespacedCustomObjectStatus({
      ...coordinates(kind, body.metadata),
      body,
    })) as T;
  }

  async getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Creates or updates a Secret we own (the bootstrap token of a site). */
  async upsertSecret(
    namespace: string,
    name: string,
    stringData: Record<string, string>,
    owner: V1OwnerReference,
  ): Promise<void> {
    const existing = await this.getSecret(namespace, name);
    const data = Object.fromEntries(
      Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    );
    if (!existing) {
      await this.core.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name, namespace, ownerReferences: [owner] },
          type: 'Opaque',
          data,
        },
      });
      return;
    }
    const same = Object.entries(data).every(([k, v]) => existing.data?.[k] === v);
    if (same) return;
    existing.data = { ...existing.data, ...data };
    await this.core.replaceNamespacedSecret({ namespace, name, body: existing });
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
