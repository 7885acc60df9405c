// Reconciling and Stalled derived from Ready: one of them while not Ready, none once Ready, with
// stable lastTransitionTime; every reason the reconcilers use today lands in the intended class.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { setCondition, type Condition } from '../../../src/api/conditions.js';
import {
  PROGRESS_REASONS,
  STALLED_REASONS,
  classifyReady,
  withKstatus,
  withKstatusConditions,
} from '../../../src/kube/kstatus.js';
import { notReadyStatus, readyCondition } from '../../../src/controllers/status-helpers.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const T1 = new Date('2026-01-01T00:05:00Z');
const T2 = new Date('2026-01-01T00:10:00Z');

function ready(status: 'True' | 'False' | 'Unknown', reason: string, message = 'm'): Condition[] {
  return setCondition([], { type: 'Ready', status, reason, message, observedGeneration: 3 }, T0);
}

function types(conditions: readonly Condition[]): string[] {
  return conditions.map((c) => `${c.type}=${c.status}`);
}

function find(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

test('a refusal that needs a person: Stalled=True with the Ready reason and message, no Reconciling', () => {
  const c = withKstatusConditions(ready('False', 'SecretNotFound', 'Secret x does not exist'), T1);
  assert.deepEqual(types(c), ['Ready=False', 'Stalled=True']);
  assert.deepEqual(find(c, 'Stalled'), {
    type: 'Stalled',
    status: 'True',
    reason: 'SecretNotFound',
    message: 'Secret x does not exist',
    observedGeneration: 3,
    lastTransitionTime: '2026-01-01T00:05:00Z',
  });
});

test('an ordinary step: Reconciling=True, reason Progressing, the message names the Ready reason', () => {
  const c = withKstatusConditions(ready('False', 'Associating', 'mapping (instance 42)'), T1);
  assert.deepEqual(types(c), ['Ready=False', 'Reconciling=True']);
  const r = find(c, 'Reconciling');
  assert.equal(r?.reason, 'Progressing');
  assert.equal(r?.message, 'Associating: mapping (instance 42)');
  assert.equal(r?.observedGeneration, 3);
});

test('an error being retried (or a reason nobody classified): Reconciling=True, ProgressingWithRetry', () => {
  for (const reason of ['CephUnreachable', 'KubernetesApiError', 'SomethingNewNobodyListed']) {
    const c = withKstatusConditions(ready('False', reason), T1);
    assert.deepEqual(types(c), ['Ready=False', 'Reconciling=True'], reason);
    assert.equal(find(c, 'Reconciling')?.reason, 'ProgressingWithRetry');
  }
});

test('Ready=Unknown is progress unless its reason says a person is needed', () => {
  assert.equal(classifyReady({ status: 'Unknown', reason: 'Whatever' }), 'progressing');
  assert.equal(classifyReady({ status: 'Unknown', reason: 'MirrorNotFound' }), 'stalled');
});

test('Ready=True removes a stale Reconciling and Stalled; other conditions are kept in order', () => {
  let c = withKstatusConditions(ready('False', 'DuplicatePath'), T0);
  c = setCondition(c, { type: 'Invalid', status: 'True', reason: 'DuplicatePath', message: 'x' });
  c = withKstatusConditions(c, T0);
  c = withKstatusConditions(ready('False', 'Associating').concat(c.slice(1)), T1);
  assert.deepEqual(types(c), ['Ready=False', 'Invalid=True', 'Reconciling=True']);
  c = setCondition(c, { type: 'Ready', status: 'True', reason: 'Mirrored', message: 'ok' }, T2);
  c = withKstatusConditions(c, T2);
  assert.deepEqual(types(c), ['Ready=True', 'Invalid=True']);
});

test('from Stalled to Reconciling and back: each appears as it is needed, the other goes', () => {
  let c = withKstatusConditions(ready('False', 'SecretNotFound'), T0);
  c = withKstatusConditions(
    setCondition(c, { type: 'Ready', status: 'False', reason: 'MirrorNotReady', message: 'm' }, T1),
    T1,
  );
  assert.deepEqual(types(c), ['Ready=False', 'Reconciling=True']);
  assert.equal(find(c, 'Reconciling')?.lastTransitionTime, '2026-01-01T00:05:00Z');
  c = withKstatusConditions(
    setCondition(c, { type: 'Ready', status: 'False', reason: 'SecretInvalid', message: 'm' }, T2),
    T2,
  );
  assert.deepEqual(types(c), ['Ready=False', 'Stalled=True']);
  assert.equal(find(c, 'Stalled')?.lastTransitionTime, '2026-01-01T00:10:00Z');
});

test('lastTransitionTime stays while the class stays, even as the reason changes', () => {
  const a = withKstatusConditions(ready('False', 'Associating'), T0);
  const b = withKstatusConditions(
    setCondition(a, { type: 'Ready', status: 'False', reason: 'Resolving', message: 'r' }, T1),
    T1,
  );
  const c = withKstatusConditions(
    setCondition(
      b,
      { type: 'Ready', status: 'False', reason: 'CephUnreachable', message: 'e' },
      T2,
    ),
    T2,
  );
  for (const x of [a, b, c])
    assert.equal(find(x, 'Reconciling')?.lastTransitionTime, '2026-01-01T00:00:00Z');
  assert.equal(find(c, 'Reconciling')?.reason, 'ProgressingWithRetry');
});

test('idempotent: deriving twice gives the same list (no status write churn)', () => {
  for (const reason of ['SecretNotFound', 'Associating', 'CephError']) {
    const once = withKstatusConditions(ready('False', reason), T0);
    assert.deepEqual(withKstatusConditions(once, T1), once, reason);
  }
  const ok = withKstatusConditions(ready('True', 'Mirrored'), T0);
  assert.deepEqual(withKstatusConditions(ok, T1), ok);
});

test('without a Ready condition nothing is added; withKstatus leaves other status fields alone', () => {
  assert.deepEqual(withKstatusConditions([], T0), []);
  assert.deepEqual(withKstatus({ state: 'Associated' }), { state: 'Associated' });
  const status = {
    observedGeneration: 3,
    state: 'Error',
    conditions: ready('False', 'SecretInvalid'),
  };
  const next = withKstatus(status, T1);
  assert.equal(next.state, 'Error');
  assert.equal(next.observedGeneration, 3);
  assert.deepEqual(types(next.conditions), ['Ready=False', 'Stalled=True']);
  assert.deepEqual(types(status.conditions), ['Ready=False'], 'the input is not changed');
});

test('the status helpers compose: notReadyStatus then withKstatus, readyCondition then withKstatus', () => {
  const obj = {
    metadata: { generation: 5 },
    status: { conditions: withKstatusConditions(ready('False', 'InvalidBootstrapToken'), T0) },
  };
  const next = withKstatus(
    notReadyStatus(obj, { reason: 'PeerAddFailed', message: 'failed to add peer' }),
    T1,
  );
  assert.deepEqual(types(next.conditions ?? []), ['Ready=False', 'Reconciling=True']);
  assert.equal(find(next.conditions ?? [], 'Reconciling')?.observedGeneration, 5);
  const healed = withKstatusConditions(
    readyCondition(next.conditions, 5, true, 'PeerAdded', 'mirroring to x'),
    T2,
  );
  assert.deepEqual(types(healed), ['Ready=True']);
});

test('the reasons the reconcilers write today are classified as intended', () => {
  const stalled = [
    'SecretNotFound',
    'SecretInvalid',
    'SecretNotOwned',
    'ClientCapsMismatch',
    'InvalidClientName',
    'InvalidBootstrapToken',
    'InvalidSpec',
    'DuplicatePath',
    'AncestorOfTracked',
    'SubtreeOfTracked',
    'MirrorNotFound',
    'FsidMismatch',
    'MgrModuleEnabled',
    'FilesystemNotFound',
    'PeerClaimedByOther',
    'DuplicatePeer',
    'FilesystemOwnedByOther',
    'MirrorRefImmutable',
    'InsecureMonHost',
    'SourceDirectoryMissing',
    'Stalled',
  ];
  const progressing = [
    'Associating',
    'Resolving',
    'Shuffling',
    'Disassociating',
    'MirrorNotReady',
    'RemovalInProgress',
    'WaitingForDependents',
    'WaitingForOlderClaimant',
    'FilesystemLockedByOther',
  ];
  const retrying = [
    'CephUnreachable',
    'CephError',
    'KubernetesApiError',
    'ReconcileError',
    'MirroringUnavailable',
    'PeerAddFailed',
    'MgrModuleStillLoaded',
    'SourceCheckFailed',
    'ResolutionFailed',
    // 403 or an apiserver error reading a Secret: retried (RBAC may be fixed meanwhile).
    'SecretUnreadable',
    // A peer gone from the FSMap is a degradation even while it is being re-added.
    'PeerMissing',
  ];
  for (const r of stalled)
    assert.equal(classifyReady({ status: 'False', reason: r }), 'stalled', r);
  for (const r of progressing)
    assert.equal(classifyReady({ status: 'False', reason: r }), 'progressing', r);
  for (const r of retrying)
    assert.equal(classifyReady({ status: 'False', reason: r }), 'retrying', r);
  for (const r of [...stalled, ...progressing])
    assert.equal(classifyReady({ status: 'True', reason: r }), 'ready');
});

test('the two tables do not overlap and hold CamelCase condition reasons', () => {
  for (const r of Object.keys(STALLED_REASONS)) {
    assert.ok(!PROGRESS_REASONS.has(r), r);
    assert.match(r, /^[A-Z][A-Za-z0-9]*$/);
    assert.ok((STALLED_REASONS[r] ?? '').length > 0, `${r} says what has to happen`);
  }
  for (const r of PROGRESS_REASONS) assert.match(r, /^[A-Z][A-Za-z0-9]*$/);
});

test('docs/gitops.md lists both tables exactly', () => {
  const doc = readFileSync('docs/gitops.md', 'utf8');
  const section = doc.slice(doc.indexOf('**Stalled** reasons'), doc.indexOf('Any other reason'));
  const stalledRows = [...section.matchAll(/^\| `([A-Za-z]+)` +\|/gm)].map((m) => m[1]);
  assert.deepEqual(stalledRows.sort(), Object.keys(STALLED_REASONS).sort());
  const progress = section.slice(section.indexOf('**Progress** reasons'));
  const listed = [...progress.matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), [...PROGRESS_REASONS].sort());
});
