// The one shape of every reconcile (controller-runtime's Reconcile with a finalizer): get the
// object from the informer cache (gone: forget it, nothing else), prepare (reads every pass needs,
// deleting or not: e.g. its Secrets), deleting: finalize and then remove the finalizer, otherwise
// ensure the finalizer (before anything is done in Ceph, so deletion always comes back to us) and
// apply. A TerminalError from apply is said in the status through the reconciler's `fail` and is
// not retried with backoff (terminal-error.ts); any other error goes to the work queue.
import type { WorkResult } from '../kube/work-queue.js';
import { ensureFinalizer, isBeingDeleted, removeFinalizer } from '../kube/object-writes.js';
import type { KubeApi } from '../kube/kube-api.js';
import { splitKey, type KindInfo, type Resource } from '../api/resources.js';
import type { Problem } from './status-helpers.js';
import { TerminalError } from './terminal-error.js';

/** Returned by `finalize` when everything is undone: the skeleton removes the finalizer. */
export const FINALIZED = Symbol('finalized');
export type FinalizeResult = WorkResult | typeof FINALIZED;

export interface ReconcileSteps<T extends Resource<unknown, unknown>, P> {
  api: KubeApi;
  kind: KindInfo;
  get(namespace: string, name: string): T | undefined;
  /** The object is gone from the cache: drop what is kept for it. */
  gone(key: string): Promise<void> | void;
  /** Reads every pass needs, deleting or not (may throw: retried with backoff). */
  prepare(obj: T): Promise<P> | P;
  /** Undo what the object did; FINALIZED when done (the finalizer is then removed). */
  finalize(key: string, obj: T, prepared: P): Promise<FinalizeResult>;
  /** After the finalizer is removed (e.g. let others decide again). */
  finalized?(key: string, obj: T): void;
  /** Make the world match the object (as written with the finalizer). */
  apply(key: string, obj: T, prepared: P): Promise<WorkResult>;
  /** Say a problem in the status (Ready=False) and, when `event`, as a Warning Event. */
  fail(obj: T, problem: Problem, event: boolean): Promise<void>;
}

export async function reconcileWith<T extends Resource<unknown, unknown>, P>(
  key: string,
  steps: ReconcileSteps<T, P>,
): Promise<WorkResult> {
  const { namespace, name } = splitKey(key);
  const cached = steps.get(namespace, name);
  if (!cached) {
    await steps.gone(key);
    return;
  }
  const prepared = await steps.prepare(cached);
  if (isBeingDeleted(cached)) {
    const result = await steps.finalize(key, cached, prepared);
    if (result !== FINALIZED) return result;
    await removeFinalizer(steps.api, steps.kind, cached);
    steps.finalized?.(key, cached);
    return;
  }
  // Carry on with the object as written: its resourceVersion is the one the status write needs.
  const obj = await ensureFinalizer(steps.api, steps.kind, cached);
  if (!obj) return;
  try {
    return await steps.apply(key, obj, prepared);
  } catch (e) {
    if (!(e instanceof TerminalError)) throw e;
    // The latest version when apply wrote to the object before failing (same kind: it is ours).
    const subject = (e.object as T | undefined) ?? obj;
    await steps.fail(subject, e.problem, e.event);
    return e.recheckAfterMs !== undefined ? { requeueAfterMs: e.recheckAfterMs } : undefined;
  }
}
