// Writing status and finalizers with optimistic concurrency: every write names the
// resourceVersion it was based on; on 409 the object is read again and the change re-applied.
import { isDeepStrictEqual } from 'node:util';
import { isConflict, type KubeApi } from './kube-api.js';
import { withKstatus } from './kstatus.js';
import { FINALIZER, type KindInfo, type Resource } from '../api/resources.js';

const MAX_ATTEMPTS = 5;

type AnyResource = Resource<unknown, unknown>;

/**
 * Applies `write` to the object, re-reading it after each 409 and trying again. `write` returns
 * undefined when the object already is as wanted. Resolves to the last object seen, or undefined
 * once the object is gone.
 */
async function withConflictRetry<T extends AnyResource>(
  api: KubeApi,
  kind: KindInfo,
  obj: T,
  write: (current: T) => Promise<T> | undefined,
): Promise<T | undefined> {
  let current: T | undefined = obj;
  for (let attempt = 0; attempt < MAX_ATTEMPTS && current; attempt++) {
    const pending = write(current);
    if (!pending) return current;
    try {
      return await pending;
    } catch (e) {
      if (!isConflict(e)) throw e;
      current = await api.get<T>(kind, obj.metadata.namespace, obj.metadata.name);
    }
  }
  if (!current) return undefined;
  throw new Error(`${kind.kind} ${obj.metadata.name} kept changing under us`);
}

/**
 * Writes `status` unless the object already has exactly it. Returns false if the object is gone.
 * Every status of every kind goes through here, so this is where the kstatus conditions
 * (Reconciling, Stalled) are derived from Ready: reconcilers only say Ready and why.
 */
export async function writeStatus<T extends AnyResource>(
  api: KubeApi,
  kind: KindInfo,
  obj: T,
  wanted: NonNullable<T['status']>,
): Promise<boolean> {
  const status = withKstatus(wanted);
  const result = await withConflictRetry(api, kind, obj, (current) =>
    isDeepStrictEqual(current.status, status)
      ? undefined
      : api.replaceStatus(kind, { ...current, status }),
  );
  return result !== undefined;
}

function updateFinalizers<T extends AnyResource>(
  api: KubeApi,
  kind: KindInfo,
  obj: T,
  change: (finalizers: string[]) => string[] | undefined,
): Promise<T | undefined> {
  return withConflictRetry(api, kind, obj, (current) => {
    const next = change(current.metadata.finalizers ?? []);
    return (
      next && api.replace(kind, { ...current, metadata: { ...current.metadata, finalizers: next } })
    );
  });
}

/** Adds our finalizer (before anything is done in Ceph, so deletion always comes back to us). */
export function ensureFinalizer<T extends AnyResource>(
  api: KubeApi,
  kind: KindInfo,
  obj: T,
): Promise<T | undefined> {
  return updateFinalizers(api, kind, obj, (f) =>
    f.includes(FINALIZER) ? undefined : [...f, FINALIZER],
  );
}

/** Removes our finalizer: the API server then deletes the object. */
export async function removeFinalizer<T extends AnyResource>(
  api: KubeApi,
  kind: KindInfo,
  obj: T,
): Promise<void> {
  await updateFinalizers(api, kind, obj, (f) =>
    f.includes(FINALIZER) ? f.filter((x) => x !== FINALIZER) : undefined,
  );
}

export function isBeingDeleted(obj: AnyResource): boolean {
  return Boolean(obj.metadata.deletionTimestamp);
}
