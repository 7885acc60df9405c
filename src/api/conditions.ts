// Kubernetes-style status conditions (`metav1.Condition`): lastTransitionTime moves only when the
// status flips, so `kubectl wait` and Argo CD see stable timestamps across repeated reconciles.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/** Returns a new list with `update` applied; other conditions are kept in their order. */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  update: ConditionUpdate,
  now: Date = new Date(),
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === update.type);
  const previous = i >= 0 ? list[i] : undefined;
  const lastTransitionTime =
    previous && previous.status === update.status
      ? previous.lastTransitionTime
      : now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  // An empty message does not survive @kubernetes/client-node's body serialisation (it is sent as
  // null, which the schema rejects), so an empty message repeats the reason.
  const next: Condition = {
    ...update,
    message: update.message || update.reason,
    lastTransitionTime,
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** Returns a new list without the condition of this type (the same list order otherwise). */
export function removeCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when both lists say the same thing, ignoring timestamps. */
export function sameConditions(
  a: readonly Condition[] | undefined,
  b: readonly Condition[] | undefined,
): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  return x.every((c) => {
    const d = findCondition(y, c.type);
    return (
      d !== undefined &&
      d.status === c.status &&
      d.reason === c.reason &&
      d.message === c.message &&
      d.observedGeneration === c.observedGeneration
    );
  });
}
