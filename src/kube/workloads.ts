// The few apps/v1 Deployment and core/v1 Secret calls behind the cephfs-mirror daemons the
// operator runs for a CephFSMirror (spec.daemons), over the same kube-http client as kube-api.ts.
// Writes carry the resourceVersion that was read, so a concurrent change is a 409, not lost.
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import type { KubeHttp } from './kube-http.js';
import { isNotFound } from './kube-api.js';
import { listAllPages } from './pagination.js';

function deploymentsPath(namespace: string, name?: string): string {
  const base = `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/deployments`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

function secretsPath(namespace: string, name?: string): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** `k=v,k2=v2` for a labelSelector query parameter. */
export function labelSelector(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export class Workloads {
  constructor(private readonly http: KubeHttp) {}

  getDeployment(namespace: string, name: string): Promise<V1Deployment | undefined> {
    return orUndefined(this.http.request<V1Deployment>('GET', deploymentsPath(namespace, name)));
  }

  async listDeployments(
    namespace: string,
    labels: Record<string, string>,
  ): Promise<V1Deployment[]> {
    const q = `?labelSelector=${encodeURIComponent(labelSelector(labels))}`;
    // Paginated like every list the operator makes (pagination.ts).
    const list = await listAllPages<V1Deployment>(
      (path) => this.http.request('GET', path),
      `${deploymentsPath(namespace)}${q}`,
    );
    return list.items;
  }

  createDeployment(body: V1Deployment): Promise<V1Deployment> {
    return this.http.request<V1Deployment>(
      'POST',
      deploymentsPath(body.metadata?.namespace ?? ''),
      { apiVersion: 'apps/v1', kind: 'Deployment', ...body },
    );
  }

  /** PUT of the whole Deployment; `body.metadata.resourceVersion` must be the one read. */
  replaceDeployment(body: V1Deployment): Promise<V1Deployment> {
    const { namespace = '', name = '' } = body.metadata ?? {};
    return this.http.request<V1Deployment>('PUT', deploymentsPath(namespace, name), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      ...body,
    });
  }

  /**
   * Deletes a Deployment, its ReplicaSets and pods in the background (the object itself goes at
   * once unless someone else put a finalizer on it). Resolves false when it was already gone.
   */
  async deleteDeployment(namespace: string, name: string, uid?: string): Promise<boolean> {
    try {
      await this.http.request('DELETE', deploymentsPath(namespace, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        ...(uid ? { preconditions: { uid } } : {}),
      });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
    return orUndefined(this.http.request<V1Secret>('GET', secretsPath(namespace, name)));
  }

  createSecret(body: V1Secret): Promise<V1Secret> {
    return this.http.request<V1Secret>('POST', secretsPath(body.metadata?.namespace ?? ''), {
      apiVersion: 'v1',
      kind: 'Secret',
      ...body,
    });
  }

  /** PUT of the whole Secret; `body.metadata.resourceVersion` must be the one read. */
  replaceSecret(body: V1Secret): Promise<V1Secret> {
    const { namespace = '', name = '' } = body.metadata ?? {};
    return this.http.request<V1Secret>('PUT', secretsPath(namespace, name), {
      apiVersion: 'v1',
      kind: 'Secret',
      ...body,
    });
  }
}
