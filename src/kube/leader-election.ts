// Leader election on a coordination.k8s.io/v1 Lease, so that only one operator replica writes to
// Ceph. Same rules as client-go: a lease is free when its holder has not renewed it within its
// duration, measured on our own clock from when we last saw the record change (clock skew between
// replicas then does not matter); the holder renews every retry period and gives up leadership if
// it could not renew before the renew deadline.
import type { Logger } from '../log.js';
import { isConflict, type KubeApi, type Lease } from './kube-api.js';

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

/**
 * A Lease's acquireTime and renewTime are MicroTime: the API server parses them with exactly six
 * fractional digits (RFC3339Micro) and refuses the three of Date.toISOString().
 */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed: { key: string; atMs: number } | undefined;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  /** Fires when leadership must be given up: renewDeadlineMs after the last successful renewal. */
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly api: KubeApi,
    private readonly options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
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
    let attemptAtMs = Date.now();
    while (!this.stopped) {
      attemptAtMs = Date.now();
      if (await this.tryAcquireOrRenew()) break;
      await this.sleep(this.retryPeriodMs);
    }
    if (this.stopped) return;
    this.leading = true;
    this.log.info('became leader', { lease: this.options.name, identity: this.options.identity });
    const lose = (): void => {
      if (!this.leading || this.stopped) return;
      this.leading = false;
      if (this.timer) clearTimeout(this.timer);
      if (this.deadline) clearTimeout(this.deadline);
      this.log.error('lost leadership: could not renew the lease in time', {
        lease: this.options.name,
      });
      onLost();
    };
    // The deadline runs on a timer of its own, counted from when the last successful renewal was
    // sent (the renewTime others see): a renewal request that hangs must not stretch it.
    const armDeadline = (fromMs: number): void => {
      if (this.deadline) clearTimeout(this.deadline);
      this.deadline = setTimeout(lose, Math.max(0, fromMs + this.renewDeadlineMs - Date.now()));
    };
    armDeadline(attemptAtMs);
    const renew = async (): Promise<void> => {
      if (this.stopped || !this.leading) return;
      const at = Date.now();
      const ok = await this.tryAcquireOrRenew();
      // Lost (or released) while the request was out: its answer changes nothing.
      if (this.stopped || !this.leading) return;
      if (ok) armDeadline(at);
      this.timer = setTimeout(() => void renew(), this.retryPeriodMs);
    };
    this.timer = setTimeout(() => void renew(), this.retryPeriodMs);
  }

  /** Stops renewing and, when leading, releases the lease so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.deadline) clearTimeout(this.deadline);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.getLease(this.options.namespace, this.options.name);
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      const { holderIdentity: _released, ...rest } = lease.spec;
      lease.spec = { ...rest, leaseDurationSeconds: 1 };
      await this.api.replaceLease(lease);
      this.log.info('released the lease', { lease: this.options.name });
    } catch (e) {
      this.log.warn('could not release the lease', { error: (e as Error).message });
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { name, namespace, identity } = this.options;
    const now = Date.now();
    let lease: Lease | undefined;
    try {
      lease = await this.api.getLease(namespace, name);
    } catch (e) {
      this.log.warn('reading the lease failed', { error: (e as Error).message });
      return false;
    }
    if (!lease) {
      try {
        await this.api.createLease({
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: this.leaseDurationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (createError) {
        // 409: another replica created it first.
        if (!isConflict(createError)) {
          this.log.warn('creating the lease failed', { error: (createError as Error).message });
        }
        return false;
      }
    }
    const spec = lease.spec ?? {};
    const record: LeaseRecord = {
      holderIdentity: spec.holderIdentity,
      leaseDurationSeconds: spec.leaseDurationSeconds,
      renewTime: spec.renewTime,
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
      acquireTime: changingHands ? microTime(now) : spec.acquireTime,
      leaseTransitions:
        (spec.leaseTransitions ?? 0) + (changingHands && spec.holderIdentity ? 1 : 0),
    };
    try {
      await this.api.replaceLease(lease);
      return true;
    } catch (e) {
      // 409: someone else wrote the lease since we read it; try again next period.
      if (!isConflict(e))
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
