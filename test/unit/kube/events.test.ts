import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MirroredDirectory } from '../../../src/api/resources.js';
import { EventRecorder } from '../../../src/kube/events.js';
import type { KubeApi } from '../../../src/kube/kube-api.js';
import { silentLogger } from '../../../src/log.js';

function directory(name: string): MirroredDirectory {
  return {
    apiVersion: 'mirror.cephfs.io/v1alpha1',
    kind: 'MirroredDirectory',
    metadata: { name, namespace: 'ns', uid: `uid-${name}` },
    spec: { mirrorRef: { name: 'm' }, path: `/${name}` },
  };
}

/** A recorder over an API that only collects the Events it is asked to create. */
function recorder(budget = { burst: 3, perSecond: 2 }) {
  const sent: Array<{ reason: string; type: string; object: string }> = [];
  const dropped: string[] = [];
  let now = 1_000_000;
  const api = {
    createEvent: (
      _ns: string,
      e: { reason: string; type: string; involvedObject: { name: string } },
    ) => {
      sent.push({ reason: e.reason, type: e.type, object: e.involvedObject.name });
      return Promise.resolve();
    },
  } as unknown as KubeApi;
  const events = new EventRecorder(api, silentLogger(), 'test', {
    budget,
    dropped: (reason) => dropped.push(reason),
    now: () => now,
  });
  return {
    events,
    sent,
    dropped,
    advance: (ms: number) => void (now += ms),
  };
}

describe('EventRecorder', () => {
  it('Normal Events beyond the burst are dropped and counted, then refill with time', () => {
    const r = recorder();
    for (let i = 0; i < 5; i++) r.events.record(directory(`d${i}`), 'Normal', 'Acquired', 'x');
    assert.deepEqual(
      r.sent.map((e) => e.object),
      ['d0', 'd1', 'd2'],
    );
    assert.deepEqual(r.dropped, ['Acquired', 'Acquired']);
    // 2 a second: after 1 s two more go, the third waits.
    r.advance(1000);
    for (let i = 5; i < 8; i++) r.events.record(directory(`d${i}`), 'Normal', 'Acquired', 'x');
    assert.deepEqual(
      r.sent.map((e) => e.object),
      ['d0', 'd1', 'd2', 'd5', 'd6'],
    );
    assert.equal(r.dropped.length, 3);
  });

  it('the budget never grows past the burst, however long it was unused', () => {
    const r = recorder();
    r.advance(3_600_000);
    for (let i = 0; i < 10; i++) r.events.record(directory(`d${i}`), 'Normal', 'Released', 'x');
    assert.equal(r.sent.length, 3);
  });

  it('a wall clock stepped back refills nothing and drains nothing', () => {
    const r = recorder();
    for (let i = 0; i < 3; i++) r.events.record(directory(`d${i}`), 'Normal', 'Acquired', 'x');
    r.advance(-3_600_000);
    r.events.record(directory('d3'), 'Normal', 'Acquired', 'x');
    r.advance(1000);
    for (let i = 4; i < 7; i++) r.events.record(directory(`d${i}`), 'Normal', 'Acquired', 'x');
    // The step counts as no time: a second after it refills 2 (a negative refill would have
    // silenced Normal Events for the hour).
    assert.equal(r.sent.length, 5);
  });

  it('the Events of a mirror or peer are not budgeted', () => {
    const r = recorder();
    for (let i = 0; i < 5; i++) r.events.record(directory(`d${i}`), 'Normal', 'Acquired', 'x');
    const mirror = { ...directory('m'), kind: 'CephFSMirror' };
    r.events.record(mirror, 'Normal', 'DaemonJoined', 'x');
    assert.ok(r.sent.some((e) => e.reason === 'DaemonJoined'));
  });

  it('Warnings are not budgeted', () => {
    const r = recorder();
    for (let i = 0; i < 5; i++) r.events.record(directory(`d${i}`), 'Normal', 'Acquired', 'x');
    for (let i = 0; i < 5; i++) r.events.record(directory(`d${i}`), 'Warning', 'DaemonLost', 'x');
    assert.equal(r.sent.filter((e) => e.type === 'Warning').length, 5);
  });

  it('a repeat within ten minutes costs nothing, a dropped Event may be recorded later', () => {
    const r = recorder({ burst: 1, perSecond: 1 });
    const d = directory('d');
    r.events.record(d, 'Normal', 'Acquired', 'one');
    r.events.record(d, 'Normal', 'Acquired', 'one');
    r.events.record(d, 'Normal', 'Acquired', 'two');
    assert.deepEqual(r.dropped, ['Acquired']);
    r.advance(1000);
    r.events.record(d, 'Normal', 'Acquired', 'two');
    assert.equal(r.sent.length, 2);
  });
});
