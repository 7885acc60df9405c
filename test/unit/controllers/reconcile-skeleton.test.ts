// reconcile-skeleton.ts and terminal-error.ts against the in-memory API server: the finalizer
// paths (added before apply, removed only once finalize says FINALIZED), a gone object, and a
// TerminalError said through `fail` and not handed to the work queue.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  FINALIZED,
  reconcileWith,
  type FinalizeResult,
  type ReconcileSteps,
} from '../../../src/controllers/reconcile-skeleton.js';
import { TerminalError, isCephRefusal } from '../../../src/controllers/terminal-error.js';
import type { Problem } from '../../../src/controllers/status-helpers.js';
import { cephOpError } from '../../../src/ceph/errors.js';
import type { WorkResult } from '../../../src/kube/work-queue.js';
import { FINALIZER, KINDS, type CephFSMirror } from '../../../src/api/resources.js';
import { FakeKube } from '../../support/fake-kube.js';

const NS = 'ns';

function mirror(name: string): CephFSMirror {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'CephFSMirror',
    metadata: { name, namespace: NS },
    spec: { cluster: { secretRef: { name: 's' } }, filesystem: 'cephfs' },
  };
}

interface Calls {
  gone: string[];
  prepared: number;
  finalized: string[];
  applied: CephFSMirror[];
  failed: Array<{ problem: Problem; event: boolean }>;
}

function steps(
  kube: FakeKube,
  behaviour: {
    apply?: (obj: CephFSMirror) => Promise<WorkResult>;
    finalize?: () => Promise<FinalizeResult>;
  },
): { steps: ReconcileSteps<CephFSMirror, string>; calls: Calls } {
  const calls: Calls = { gone: [], prepared: 0, finalized: [], applied: [], failed: [] };
  return {
    calls,
    steps: {
      api: kube.api(),
      kind: KINDS.mirror,
      get: (ns, name) => kube.get<CephFSMirror>(KINDS.mirror, ns, name),
      gone: (k) => void calls.gone.push(k),
      prepare: () => {
        calls.prepared++;
        return 'prepared';
      },
      finalize: (_k, _obj, prepared) => {
        assert.equal(prepared, 'prepared');
        return behaviour.finalize ? behaviour.finalize() : Promise.resolve(FINALIZED);
      },
      finalized: (k) => void calls.finalized.push(k),
      apply: async (_k, obj) => {
        calls.applied.push(obj);
        return behaviour.apply ? behaviour.apply(obj) : undefined;
      },
      fail: async (_obj, problem, event) => {
        calls.failed.push({ problem, event });
        await Promise.resolve();
      },
    },
  };
}

describe('reconcile skeleton', () => {
  it('an object gone from the cache: only `gone`', async () => {
    const kube = new FakeKube();
    const { steps: s, calls } = steps(kube, {});
    assert.equal(await reconcileWith(`${NS}/none`, s), undefined);
    assert.deepEqual(calls.gone, [`${NS}/none`]);
    assert.equal(calls.prepared, 0);
    assert.equal(calls.applied.length, 0);
  });

  it('adds the finalizer before apply, and apply sees the object as written', async () => {
    const kube = new FakeKube();
    await kube.create(KINDS.mirror, mirror('m'));
    const { steps: s, calls } = steps(kube, {
      apply: () => Promise.resolve({ requeueAfterMs: 1234 }),
    });
    assert.deepEqual(await reconcileWith(`${NS}/m`, s), { requeueAfterMs: 1234 });
    assert.equal(calls.applied.length, 1);
    assert.deepEqual(calls.applied[0]?.metadata.finalizers, [FINALIZER]);
    assert.deepEqual(kube.get<CephFSMirror>(KINDS.mirror, NS, 'm')?.metadata.finalizers, [
      FINALIZER,
    ]);
  });

  it('deleting: the finalizer stays while finalize has work left, goes once it is FINALIZED', async () => {
    const kube = new FakeKube();
    await kube.create(KINDS.mirror, mirror('m'));
    let left = true;
    const { steps: s, calls } = steps(kube, {
      finalize: () => Promise.resolve(left ? { requeueAfterMs: 2000 } : FINALIZED),
    });
    await reconcileWith(`${NS}/m`, s);
    await kube.delete(KINDS.mirror, NS, 'm');
    assert.deepEqual(await reconcileWith(`${NS}/m`, s), { requeueAfterMs: 2000 });
    assert.ok(kube.get<CephFSMirror>(KINDS.mirror, NS, 'm'), 'kept while finalize has work left');
    assert.deepEqual(calls.finalized, []);
    left = false;
    assert.equal(await reconcileWith(`${NS}/m`, s), undefined);
    assert.equal(kube.get(KINDS.mirror, NS, 'm'), undefined, 'gone with the finalizer');
    assert.deepEqual(calls.finalized, [`${NS}/m`]);
    // Apply never ran for the object being deleted.
    assert.equal(calls.applied.length, 1);
  });

  it('a TerminalError is said through fail and not retried; with recheckAfterMs, looked at later', async () => {
    const kube = new FakeKube();
    await kube.create(KINDS.mirror, mirror('m'));
    const opts: { recheck?: number } = {};
    const { steps: s, calls } = steps(kube, {
      apply: () =>
        Promise.reject(
          new TerminalError(
            { reason: 'SecretNotFound', message: 'Secret s does not exist' },
            opts.recheck !== undefined ? { recheckAfterMs: opts.recheck, event: false } : {},
          ),
        ),
    });
    assert.equal(await reconcileWith(`${NS}/m`, s), undefined);
    assert.deepEqual(calls.failed, [
      { problem: { reason: 'SecretNotFound', message: 'Secret s does not exist' }, event: true },
    ]);
    opts.recheck = 15_000;
    assert.deepEqual(await reconcileWith(`${NS}/m`, s), { requeueAfterMs: 15_000 });
    assert.equal(calls.failed[1]?.event, false);
  });

  it('any other error goes to the work queue (retried with backoff), without fail', async () => {
    const kube = new FakeKube();
    await kube.create(KINDS.mirror, mirror('m'));
    const { steps: s, calls } = steps(kube, {
      apply: () => Promise.reject(new Error('site unreachable')),
    });
    await assert.rejects(reconcileWith(`${NS}/m`, s), /site unreachable/);
    assert.deepEqual(calls.failed, []);
  });

  it('isCephRefusal: EINVAL and EEXIST are refusals, a timeout is not', () => {
    assert.ok(isCephRefusal(cephOpError('EINVAL', 'wrong fsid', 'FsidMismatch')));
    assert.ok(isCephRefusal(cephOpError('EEXIST', 'claimed', 'PeerClaimedByOther')));
    assert.ok(!isCephRefusal(cephOpError('ETIMEDOUT', 'slow')));
    assert.ok(!isCephRefusal(new Error('EINVAL')));
  });
});
