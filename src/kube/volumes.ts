// PersistentVolumeClaims and PersistentVolumes, read one at a time (a MirroredDirectory with a
// persistentVolumeClaim source looks its claim up when it reconciles; no informer, so an operator
// without such directories needs no RBAC on them). RBAC: get on both.
import type { V1PersistentVolume, V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { isNotFound, type KubeApi } from './kube-api.js';

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function getClaim(
  api: KubeApi,
  namespace: string,
  name: string,
): Promise<V1PersistentVolumeClaim | undefined> {
  const path =
    `/api/v1/namespaces/${encodeURIComponent(namespace)}` +
    `/persistentvolumeclaims/${encodeURIComponent(name)}`;
  return orUndefined(api.http.request<V1PersistentVolumeClaim>('GET', path));
}

export function getVolume(api: KubeApi, name: string): Promise<V1PersistentVolume | undefined> {
  const path = `/api/v1/persistentvolumes/${encodeURIComponent(name)}`;
  return orUndefined(api.http.request<V1PersistentVolume>('GET', path));
}
