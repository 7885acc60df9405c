// Kubernetes Events for notable transitions. The same (object, reason, message) is recorded at
// most once per ten minutes, so a retried failure does not flood `kubectl describe`; the Normal
// Events of directories share one process-wide budget, so that a failover or rebalance moving
// thousands of directories does not become thousands of writes to the API server at once
// (client-go's recorder drops under pressure too). Warnings, and the few Events of mirrors and
// peers, always go.
import type { Logger } from '../log.js';
import type { KubeApi } from './kube-api.js';
import type { Resource } from '../api/resources.js';

const REPEAT_AFTER_MS = 10 * 60_000;
const COMPONENT = 'cephfs-mirror-operator';

export type EventType = 'Normal' | 'Warning';

export interface EventBudget {
  /** Normal Events that may go at once (default 100). */
  burst: number;
  /** Normal Events a second the budget refills by (default 10). */
  perSecond: number;
}

export interface EventRecorderOptions {
  budget?: EventBudget;
  /** A Normal Event was dropped for the budget (for a metric). */
  dropped?: (reason: string) => void;
  /**
   * Kinds whose Normal Events share the budget (default: MirroredDirectory, the kind that comes
   * by the thousand); a mirror's or peer's Events are few and always go.
   */
  budgetedKinds?: readonly string[];
  now?: () => number;
}

export class EventRecorder {
  private readonly recent = new Map<string, number>();
  private readonly budget: EventBudget;
  private readonly budgetedKinds: ReadonlySet<string>;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly api: KubeApi,
    private readonly log: Logger,
    private readonly host: string,
    private readonly options: EventRecorderOptions = {},
  ) {
    this.budget = options.budget ?? { burst: 100, perSecond: 10 };
    this.budgetedKinds = new Set(options.budgetedKinds ?? ['MirroredDirectory']);
    this.now = options.now ?? Date.now;
    this.tokens = this.budget.burst;
    this.refilledAt = this.now();
  }

  record(obj: Resource<unknown, unknown>, type: EventType, reason: string, message: string): void {
    const key = `${obj.metadata.uid ?? obj.metadata.name}|${reason}|${message}`;
    const now = this.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < REPEAT_AFTER_MS) return;
    if (type === 'Normal' && this.budgetedKinds.has(obj.kind) && !this.take(now)) {
      this.options.dropped?.(reason);
      return;
    }
    this.recent.set(key, now);
    if (this.recent.size > 10_000) this.prune(now);
    const time = new Date(now);
    void this.api
      .createEvent(obj.metadata.namespace, {
        metadata: {
          generateName: `${obj.metadata.name}.`,
          namespace: obj.metadata.namespace,
        },
        involvedObject: {
          apiVersion: obj.apiVersion,
          kind: obj.kind,
          name: obj.metadata.name,
          namespace: obj.metadata.namespace,
          ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
          ...(obj.metadata.resourceVersion
            ? { resourceVersion: obj.metadata.resourceVersion }
            : {}),
        },
        type,
        reason,
        message,
        source: { component: COMPONENT, host: this.host },
        reportingComponent: COMPONENT,
        reportingInstance: this.host,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      })
      .catch((e: unknown) =>
        this.log.debug('could not record event', { reason, error: (e as Error).message }),
      );
  }

  /** One Normal Event's worth of the budget, if there is one. */
  private take(now: number): boolean {
    const { burst, perSecond } = this.budget;
    // A wall clock stepped back refills nothing (rather than draining the budget for as long).
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(burst, this.tokens + (elapsed / 1000) * perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private prune(now: number): void {
    for (const [k, t] of this.recent) if (now - t >= REPEAT_AFTER_MS) this.recent.delete(k);
  }
}
