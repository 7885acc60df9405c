// Kubernetes Events for notable transitions. The same (object, reason, message) is recorded at
// most once per ten minutes, so a retried failure does not flood `kubectl describe`.
import type { Logger } from '../log.js';
import type { KubeApi } from './kube-api.js';
import type { Resource } from '../api/resources.js';

const REPEAT_AFTER_MS = 10 * 60_000;
const COMPONENT = 'cephfs-mirror-operator';

export type EventType = 'Normal' | 'Warning';

export class EventRecorder {
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly api: KubeApi,
    private readonly log: Logger,
    private readonly host: string,
  ) {}

  record(obj: Resource<unknown, unknown>, type: EventType, reason: string, message: string): void {
    const key = `${obj.metadata.uid ?? obj.metadata.name}|${reason}|${message}`;
    const now = Date.now();
    const last = this.recent.get(key);
    if (last !== undefined && now - last < REPEAT_AFTER_MS) return;
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

  private prune(now: number): void {
    for (const [k, t] of this.recent) if (now - t >= REPEAT_AFTER_MS) this.recent.delete(k);
  }
}
