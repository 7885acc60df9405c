// Building the `Ready`-style conditions every kind reports.
import { isCephOpError } from '../ceph/errors.js';
import { DirectoryError } from '../reconcile/index.js';
import { describeApiError, httpStatusOf } from '../kube/kube-api.js';
import { setCondition, type Condition } from '../api/conditions.js';

export interface Problem {
  reason: string;
  message: string;
}

/** A reason and message for a condition from any error, never including secrets. */
export function problemOf(e: unknown, fallbackReason = 'ReconcileError'): Problem {
  if (e instanceof DirectoryError) return { reason: e.reason, message: e.message };
  if (isCephOpError(e)) return { reason: e.reason, message: e.message };
  if (httpStatusOf(e) !== undefined)
    return { reason: 'KubernetesApiError', message: describeApiError(e) };
  const errno = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const message = e instanceof Error ? e.message : String(e);
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) {
    return { reason: errno === 'ETIMEDOUT' ? 'CephUnreachable' : 'CephError', message };
  }
  return { reason: fallbackReason, message };
}

export function readyCondition(
  conditions: Condition[] | undefined,
  generation: number | undefined,
  ready: boolean,
  reason: string,
  message: string,
): Condition[] {
  return setCondition(conditions, {
    type: 'Ready',
    status: ready ? 'True' : 'False',
    reason,
    message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  });
}

interface StatusWithConditions {
  observedGeneration?: number;
  conditions?: Condition[];
}

/** The object's status with Ready=False for `problem` (everything else kept as it was). */
export function notReadyStatus<S extends StatusWithConditions>(
  obj: { metadata: { generation?: number }; status?: S },
  problem: Problem,
): S {
  const generation = obj.metadata.generation;
  return {
    ...(obj.status as S),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions: readyCondition(
      obj.status?.conditions,
      generation,
      false,
      problem.reason,
      problem.message,
    ),
  };
}
