// Leader election on a coordination.k8s.io/v1 Lease, so that only one operator replica writes to
// Ceph. Same rules as client-go: a lease is free when its holder has not renewed it within its
// duration, measured on our own clock from when we last saw the record change (clock skew between
// replicas then does not matter); the holder renews every retry period and gives up leadership if
// it could not renew before the renew deadline.
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  renewTime?: string;
  leaseTransitions?: number;
}

/** The pure decision: may `identity` take or keep the lease now? */
export function mayAcquire(
  record: LeaseRecord | undefined,
  identity: string,
  observedAtMs: number,
  nowMs: number,
): boolean {
  if (!record?.holderIdentity) return true;
  if (record.holderIdentity === identity) return true;
  const durationMs = (record.leaseDurationSeconds ?? 15) * 1000;
  return nowMs > observedAtMs + durationMs;
}

function isStatus(e: unknown, code: number): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/**
 * A Lease's acquireTime and renewTime are MicroTime: the API server parses them with exactly six
 * fractional digits (RFC3339Micro) and refuses the three of Date.toISOString(), which
 * client-node's serializer calls (400 "cannot parse \".791Z\" as \".000000\""). So every time
 * we send, including those read back from the server, goes out through this subclass.
 */
class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
}

function microTime(ms: number): Date {
  return new MicroTime(ms);
}

function asMicroTime(t: Date | undefined): Date | undefined {
  return t === undefined ? undefined : microTime(new Date(t).getTime());
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed: { key: string; atMs: number } | undefined;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    kc: KubeConfig,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Resolves once this replica leads. `onLost` is called (once) if leadership is lost later; the
   * caller must then stop writing to Ceph at once.
   */
  async run(onLost: () => void): Promise<void> {
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) break;
      await this.sleep(this.retryPeriodMs);
    }
    if (this.stopped) return;
    this.leading = true;
    this.log.info('became leader', { lease: this.options.name, identity: this.options.identity });
    let lastRenewMs = Date.now();
    const renew = async (): Promise<void> => {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew();
      if (ok) lastRenewMs = Date.now();
      if (!ok && Date.now() - lastRenewMs > this.renewDeadlineMs) {
        this.leading = false;
        this.log.error('lost leadership: could not renew the lease in time', {
          lease: this.options.name,
        });
        onLost();
        return;
      }
      this.timer = setTimeout(() => void renew(), this.retryPeriodMs);
    };
    this.timer = setTimeout(() => void renew(), this.retryPeriodMs);
  }

  /** Stops renewing and, when leading, releases the lease so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
      });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      lease.spec = {
        ...lease.spec,
        holderIdentity: undefined,
        leaseDurationSeconds: 1,
        acquireTime: asMicroTime(lease.spec?.acquireTime),
        renewTime: asMicroTime(lease.spec?.renewTime),
      };
      await this.api.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: lease,
      });
      this.log.info('released the lease', { lease: this.options.name });
    } catch (e) {
      this.log.warn('could not release the lease', { error: (e as Error).message });
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.options;
    const now = Date.now();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (e) {
      if (!isStatus(e, 404)) {
        this.log.warn('reading the lease failed', { error: (e as Error).message });
        return false;
      }
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: this.leaseDurationSeconds,
              acquireTime: microTime(now),
              renewTime: microTime(now),
              leaseTransitions: 0,
            },
          },
        });
        return true;
      } catch (createError) {
        if (!isStatus(createError, 409)) {
          this.log.warn('creating the lease failed', { error: (createError as Error).message });
        }
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const record: LeaseRecord = {
      holderIdentity: spec.holderIdentity,
      leaseDurationSeconds: spec.leaseDurationSeconds,
      renewTime: spec.renewTime ? new Date(spec.renewTime).toISOString() : undefined,
      leaseTransitions: spec.leaseTransitions,
    };
    const key = JSON.stringify(record);
    if (this.observed?.key !== key) this.observed = { key, atMs: now };
    if (!mayAcquire(record, identity, this.observed.atMs, now)) return false;
    const changingHands = spec.holderIdentity !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: this.leaseDurationSeconds,
      renewTime: microTime(now),
      acquireTime: changingHands ? microTime(now) : asMicroTime(spec.acquireTime),
      leaseTransitions:
        (spec.leaseTransitions ?? 0) + (changingHands && spec.holderIdentity ? 1 : 0),
    };
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      return true;
    } catch (e) {
      // 409: someone else wrote the lease since we read it; try again next period.
      if (!isStatus(e, 409))
        this.log.warn('updating the lease failed', { error: (e as Error).message });
      return false;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timer = setTimeout(resolve, ms);
    });
  }
}
