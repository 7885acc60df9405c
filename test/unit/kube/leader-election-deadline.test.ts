// The renew deadline is a timer of its own: a renewal request that never returns must not keep a
// replica leading (and writing to Ceph) past it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubeApi, Lease } from '../../../src/kube/kube-api.js';
import { LeaderElector } from '../../../src/kube/leader-election.js';
import { createLogger } from '../../../src/log.js';

/** A Lease API whose reads answer until `hang()`, then never again. */
function fakeLeaseApi(): { api: KubeApi; hang(): void; pendingReads(): number } {
  let lease: Lease | undefined;
  let hanging = false;
  let pending = 0;
  const api = {
    getLease: async (): Promise<Lease | undefined> => {
      if (hanging) {
        pending++;
        return new Promise<Lease | undefined>(() => undefined);
      }
      return lease === undefined ? undefined : structuredClone(lease);
    },
    createLease: async (l: Lease): Promise<Lease> => {
      lease = structuredClone(l);
      return l;
    },
    replaceLease: async (l: Lease): Promise<Lease> => {
      lease = structuredClone(l);
      return l;
    },
  };
  return {
    api: api as unknown as KubeApi,
    hang: () => {
      hanging = true;
    },
    pendingReads: () => pending,
  };
}

test('leadership is given up when the renew deadline passes, even with a request in flight', async () => {
  const fake = fakeLeaseApi();
  const elector = new LeaderElector(
    fake.api,
    {
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      renewDeadlineMs: 300,
      retryPeriodMs: 50,
    },
    createLogger({ level: 'error', format: 'json' }),
  );
  let lost = 0;
  const lostNow = new Promise<void>((resolve) => {
    void elector.run(() => {
      lost++;
      resolve();
    });
  });
  // Let it acquire and renew a few times, then make every request hang.
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(elector.isLeader, true, 'leading after acquiring');
  fake.hang();
  await lostNow;
  assert.equal(elector.isLeader, false);
  assert.ok(fake.pendingReads() >= 1, 'the renewal request was still out when leadership went');
  assert.equal(lost, 1, 'onLost is called once');
  await elector.release();
});

test('a replica that renews in time keeps leading', async () => {
  const fake = fakeLeaseApi();
  const elector = new LeaderElector(
    fake.api,
    { namespace: 'ns', name: 'lease', identity: 'me', renewDeadlineMs: 300, retryPeriodMs: 20 },
    createLogger({ level: 'error', format: 'json' }),
  );
  let lost = false;
  await elector.run(() => {
    lost = true;
  });
  // Several deadlines' worth of successful renewals.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(lost, false);
  assert.equal(elector.isLeader, true);
  await elector.release();
});
