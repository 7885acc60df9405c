import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DirectoryError,
  DirectoryPolicy,
  storedDirectoryPath as dir,
  type ActionType,
  type DirMapRecord,
  type DirPath,
} from '../../../src/reconcile/index.js';

const T0 = 1_700_000_000;

/**
 * Run a directory's steps to the end: start, then finish with the result `results` gives for
 * that action (default 0), until nothing is pending. Returns the actions performed, with
 * failed attempts marked `!`.
 */
function drive(
  policy: DirectoryPolicy,
  path: string,
  now = T0,
  results: (action: ActionType, attempt: number) => number = () => 0,
  hooks: (action: ActionType, r: number) => void = () => undefined,
): string[] {
  const log: string[] = [];
  let attempt = 0;
  for (let step = 0; step < 50; step++) {
    if (!policy.has(path)) return log;
    const action = policy.startAction(path, now);
    if (action === 'NONE') return log;
    const r = results(action, attempt++);
    log.push(r < 0 ? `${action}!` : action);
    hooks(action, r);
    if (!policy.finishAction(path, r)) return log;
    policy.checkConsistency();
  }
  throw new Error(`no end for ${path}: ${log.join(' ')}`);
}

/** Dir-map entries as start-up hands them over: keys as stored. */
function stored(entries: Array<[string, DirMapRecord]>): Array<[DirPath, DirMapRecord]> {
  return entries.map(([key, r]) => [dir(key), r]);
}

function record(instanceId: string, extra: Partial<DirMapRecord> = {}): DirMapRecord {
  return { version: 1, instanceId, lastShuffled: T0 - 1000, ...extra };
}

describe('DirectoryPolicy: the life of a directory', () => {
  it('add → map → acquire → associated → remove → release → map remove → gone', () => {
    const p = new DirectoryPolicy();
    p.addInstances(['i1']);
    assert.equal(p.addDirectory(dir('/d')), true);
    assert.equal(p.status('/d')?.state, 'mapping');
    assert.deepEqual(drive(p, '/d'), ['MAP_UPDATE', 'ACQUIRE']);
    assert.deepEqual(p.status('/d'), {
      state: 'mapped',
      policyState: 'ASSOCIATED',
      instanceId: 'i1',
      lastShuffled: T0,
      purging: false,
    });
    assert.equal(p.removeDirectory('/d'), true);
    assert.equal(p.status('/d')?.state, 'unmapping');
    assert.deepEqual(drive(p, '/d'), ['RELEASE', 'MAP_REMOVE']);
    assert.equal(p.has('/d'), false);
    assert.deepEqual(p.instanceLoads(), [{ id: 'i1', directories: 0, dead: false }]);
    p.checkConsistency();
  });

  // Every way through the sequence: the removal arrives before the first step or after any
  // step, and any step may fail once (retried) before it succeeds.
  const FORWARD: ActionType[] = ['MAP_UPDATE', 'ACQUIRE'];
  for (let removeAfter = 0; removeAfter <= FORWARD.length; removeAfter++) {
    for (let failMask = 0; failMask < 1 << 4; failMask++) {
      it(`removal after ${removeAfter} step(s), failures ${failMask.toString(2).padStart(4, '0')}`, () => {
        const p = new DirectoryPolicy();
        p.addInstances(['i1', 'i2']);
        p.addDirectory(dir('/d'));
        const order: ActionType[] = ['MAP_UPDATE', 'ACQUIRE', 'RELEASE', 'MAP_REMOVE'];
        const failed = new Set<ActionType>();
        const result = (action: ActionType): number => {
          const bit = 1 << order.indexOf(action);
          if (failMask & bit && !failed.has(action)) {
            failed.add(action);
            return -5;
          }
          return 0;
        };
        let removed = removeAfter === 0;
        if (removed) assert.equal(p.removeDirectory('/d'), false, 'busy: queued');
        const log = drive(p, '/d', T0, result, (action, r) => {
          if (!removed && r >= 0 && FORWARD.indexOf(action) + 1 === removeAfter) {
            removed = true;
            p.removeDirectory('/d');
          }
        });
        // Each action appears once, preceded by one failure when its bit is set.
        const expected: string[] = [];
        for (const action of order) {
          if (failMask & (1 << order.indexOf(action))) expected.push(`${action}!`);
          expected.push(action);
        }
        assert.deepEqual(log, expected);
        assert.equal(p.has('/d'), false);
        assert.equal(
          p.instanceLoads().every((l) => l.directories === 0),
          true,
        );
        p.checkConsistency();
      });
    }
  }

  it('a directory removed before it could map is removed without acquire or release', () => {
    const p = new DirectoryPolicy();
    p.addDirectory(dir('/d'));
    assert.deepEqual(drive(p, '/d'), []);
    assert.equal(p.status('/d')?.state, 'stalled');
    assert.equal(p.status('/d')?.reason, 'no mirror daemons running');
    assert.equal(p.removeDirectory('/d'), true);
    assert.equal(p.status('/d')?.state, 'unmapping', 'no longer reported stalled');
    assert.deepEqual(drive(p, '/d'), ['MAP_REMOVE']);
    assert.equal(p.has('/d'), false);
    assert.deepEqual(p.addInstances(['i1']), [], 'nothing left to kick');
  });

  it('a removal queued behind a map that stalls goes straight to MAP_REMOVE', () => {
    const p = new DirectoryPolicy();
    p.addDirectory(dir('/d'));
    assert.equal(p.removeDirectory('/d'), false);
    assert.deepEqual(drive(p, '/d'), ['MAP_REMOVE']);
    assert.equal(p.has('/d'), false);
  });

  it('stalled directories are kicked when an instance appears', () => {
    const p = new DirectoryPolicy();
    p.addDirectory(dir('/a'));
    p.addDirectory(dir('/b'));
    drive(p, '/a');
    drive(p, '/b');
    assert.deepEqual(p.statusCounts().stalled, 2);
    assert.deepEqual(p.addInstances(['i1']).sort(), ['/a', '/b']);
    assert.deepEqual(drive(p, '/a'), ['MAP_UPDATE', 'ACQUIRE']);
    assert.equal(p.status('/a')?.instanceId, 'i1');
    p.checkConsistency();
  });

  it('maps to the least-loaded live instance, first one on ties', () => {
    const p = new DirectoryPolicy();
    p.addInstances(['i1', 'i2', 'i3']);
    const placed: string[] = [];
    for (let i = 0; i < 7; i++) {
      p.addDirectory(dir(`/d${i}`));
      drive(p, `/d${i}`);
      placed.push(p.status(`/d${i}`)?.instanceId ?? '-');
    }
    assert.deepEqual(placed, ['i1', 'i2', 'i3', 'i1', 'i2', 'i3', 'i1']);
  });

  it('keeps a live instance on MAP; a retried MAP_UPDATE does not move the directory', () => {
    const p = new DirectoryPolicy();
    p.addInstances(['i1', 'i2']);
    p.addDirectory(dir('/d'));
    assert.equal(p.startAction('/d', T0), 'MAP_UPDATE');
    assert.equal(p.status('/d')?.instanceId, 'i1');
    assert.equal(p.finishAction('/d', -110), true);
    p.addDirectory(dir('/e')); // i2 is now least loaded, but /d stays on i1
    assert.equal(p.startAction('/d', T0 + 5), 'MAP_UPDATE');
    assert.equal(p.status('/d')?.instanceId, 'i1');
    assert.equal(p.status('/d')?.lastShuffled, T0, 'mapped time kept');
  });
});

describe('DirectoryPolicy: errors', () => {
  it('refuses overlapping paths naming the conflicting path', () => {
    const p = new DirectoryPolicy();
    p.addDirectory(dir('/a/b'));
    assert.throws(
      () => p.addDirectory(dir('/a/b/c')),
      (e: unknown) =>
        e instanceof DirectoryError &&
        e.reason === 'SubtreeOfTracked' &&
        e.code === 'EINVAL' &&
        e.conflictingPath === '/a/b' &&
        e.message === '/a/b/c is a subtree of tracked path /a/b',
    );
    assert.throws(
      () => p.addDirectory(dir('/a')),
      (e: unknown) =>
        e instanceof DirectoryError &&
        e.reason === 'AncestorOfTracked' &&
        e.conflictingPath === '/a/b' &&
        e.message === '/a is an ancestor of tracked path /a/b',
    );
    assert.equal(p.addDirectory(dir('/a/b')), false, 'already tracked is not an error here');
    assert.equal(p.addDirectory(dir('/a/bb')), true);
  });

  it('a path under removal still blocks overlapping adds until it is gone', () => {
    const p = new DirectoryPolicy();
    p.addInstances(['i1']);
    p.addDirectory(dir('/a'));
    drive(p, '/a');
    p.removeDirectory('/a');
    assert.throws(() => p.addDirectory(dir('/a/x')), DirectoryError);
    drive(p, '/a');
    assert.equal(p.addDirectory(dir('/a/x')), true);
  });
});

describe('DirectoryPolicy: start-up', () => {
  it('resumes each loaded directory as the mgr module does', () => {
    const p = new DirectoryPolicy();
    p.init(
      stored([
        ['/mapped', record('i1')],
        ['/new', record('', { lastShuffled: 0 })],
        ['/purging-mapped', record('i1', { purging: true })],
        ['/purging-unmapped', record('', { purging: true })],
      ]),
    );
    assert.deepEqual(p.addInstancesInitial(['i1']), []);
    assert.equal(p.status('/mapped')?.state, 'resolving');
    assert.equal(p.status('/new')?.state, 'mapping');
    assert.deepEqual(drive(p, '/mapped'), ['ACQUIRE']);
    assert.equal(p.status('/mapped')?.lastShuffled, T0 - 1000, 'kept from the map');
    assert.deepEqual(drive(p, '/new'), ['MAP_UPDATE', 'ACQUIRE']);
    assert.deepEqual(drive(p, '/purging-mapped'), ['RELEASE', 'MAP_REMOVE']);
    assert.deepEqual(drive(p, '/purging-unmapped'), ['MAP_REMOVE']);
    assert.deepEqual([...p.paths()].sort(), ['/mapped', '/new']);
    p.checkConsistency();
  });

  it('treats instances named by directories but not listed as dead, and moves their dirs', () => {
    const p = new DirectoryPolicy();
    p.init(
      stored([
        ['/a', record('gone')],
        ['/b', record('gone')],
        ['/c', record('i1')],
        ['/p', record('gone', { purging: true })],
      ]),
    );
    // Busy (INITIALIZING) directories get SHUFFLING queued, so none can start at once.
    assert.deepEqual(p.addInstancesInitial(['i1', 'i2']), []);
    assert.equal(p.isDeadInstance('gone'), true);
    // The acquire to the dead instance fails: that counts as done, then the shuffle runs.
    const dead = (a: ActionType) => (a === 'ACQUIRE' || a === 'RELEASE' ? -110 : 0);
    let first = true;
    const log = drive(p, '/a', T0, (a) => {
      if (first) {
        first = false;
        return dead(a);
      }
      return a === 'RELEASE' ? -110 : 0;
    });
    assert.deepEqual(log, ['ACQUIRE!', 'RELEASE!', 'MAP_UPDATE', 'ACQUIRE']);
    assert.equal(p.status('/a')?.instanceId, 'i2', 'least loaded live instance');
    assert.deepEqual(drive(p, '/p', T0, dead), ['RELEASE!', 'MAP_REMOVE']);
    assert.equal(p.isDeadInstance('gone'), true, 'still holds /b');
    drive(p, '/b', T0, (a, n) => (n < 2 ? dead(a) : 0));
    assert.equal(p.isDeadInstance('gone'), false, 'forgotten once empty');
    assert.equal(
      p.instanceLoads().find((l) => l.id === 'gone'),
      undefined,
    );
    p.checkConsistency();
  });
});

describe('DirectoryPolicy: failover', () => {
  function mapped(n: number, instances: string[]): DirectoryPolicy {
    const p = new DirectoryPolicy();
    p.addInstances(instances);
    for (let i = 0; i < n; i++) {
      p.addDirectory(dir(`/d${i}`));
      drive(p, `/d${i}`);
    }
    return p;
  }

  it('forces every directory of a removed instance to move; releases to it count as done', () => {
    const p = mapped(6, ['i1', 'i2', 'i3']);
    const onI1 = [...p.paths()].filter((d) => p.status(d)?.instanceId === 'i1');
    assert.deepEqual(p.removeInstances(['i1']).sort(), onI1.sort());
    for (const d of onI1) {
      assert.equal(p.status(d)?.state, 'shuffling');
      assert.deepEqual(
        drive(p, d, T0, (a) => (a === 'RELEASE' ? -110 : 0)),
        ['RELEASE!', 'MAP_UPDATE', 'ACQUIRE'],
      );
      assert.notEqual(p.status(d)?.instanceId, 'i1');
    }
    assert.equal(p.isDeadInstance('i1'), false);
    assert.deepEqual(
      p.instanceLoads().map((l) => l.directories),
      [3, 3],
    );
  });

  it('a failure towards a live instance is retried; towards a dead one it is done', () => {
    const p = mapped(1, ['i1', 'i2']);
    p.removeDirectory('/d0');
    assert.equal(p.startAction('/d0', T0), 'RELEASE');
    assert.equal(p.finishAction('/d0', -110), true);
    assert.equal(p.status('/d0')?.instanceId, 'i1', 'retried, not unmapped');
    p.removeInstances(['i1']);
    assert.equal(p.status('/d0')?.state, 'unmapping', 'removal is not turned into a shuffle');
    assert.equal(p.startAction('/d0', T0), 'RELEASE');
    assert.equal(p.finishAction('/d0', -110), true);
    assert.equal(p.status('/d0')?.instanceId, null);
    assert.equal(p.startAction('/d0', T0), 'MAP_REMOVE');
    assert.equal(p.finishAction('/d0', 0), false);
    assert.equal(p.has('/d0'), false);
    assert.equal(p.isDeadInstance('i1'), false);
  });

  it('a busy directory on a dying instance finishes its step, then moves', () => {
    const p = new DirectoryPolicy();
    p.addInstances(['i1', 'i2']);
    p.addDirectory(dir('/d'));
    assert.equal(p.startAction('/d', T0), 'MAP_UPDATE');
    assert.equal(p.finishAction('/d', 0), true);
    assert.deepEqual(p.removeInstances(['i1']), [], 'busy: SHUFFLING queued');
    // Anything addressed to the dead i1 times out; i2 answers.
    const toDead = () => (p.status('/d')?.instanceId === 'i1' ? -110 : 0);
    assert.deepEqual(drive(p, '/d', T0, toDead), ['ACQUIRE!', 'RELEASE!', 'MAP_UPDATE', 'ACQUIRE']);
    assert.equal(p.status('/d')?.instanceId, 'i2');
    assert.equal(p.isDeadInstance('i1'), false);
  });

  it('an instance that held nothing is simply forgotten', () => {
    const p = new DirectoryPolicy();
    p.addInstances(['i1']);
    assert.deepEqual(p.removeInstances(['i1', 'unknown']), []);
    assert.deepEqual(p.instanceLoads(), []);
  });
});

describe('DirectoryPolicy: rebalance', () => {
  function loaded(counts: Record<string, number>, mappedAt = T0 - 1000): DirectoryPolicy {
    const p = new DirectoryPolicy(300);
    const entries: Array<[string, DirMapRecord]> = [];
    for (const [id, n] of Object.entries(counts)) {
      for (let i = 0; i < n; i++)
        entries.push([`/${id}/${i}`, record(id, { lastShuffled: mappedAt })]);
    }
    p.init(stored(entries));
    p.addInstancesInitial(Object.keys(counts));
    for (const [path] of entries) drive(p, path);
    return p;
  }
  const loads = (p: DirectoryPolicy) =>
    Object.fromEntries(p.instanceLoads().map((l) => [l.id, l.directories]));

  it('moves only the excess to a joining instance and ends within one of even', () => {
    const p = loaded({ a: 10 });
    p.addInstances(['b', 'c']);
    const r = p.rebalance(T0);
    assert.equal(r.shuffled.length, 6, 'a keeps 4 = ceil(10/3)');
    for (const d of r.shuffled) drive(p, d, T0);
    assert.deepEqual(loads(p), { a: 4, b: 3, c: 3 });
    p.checkConsistency();
  });

  it('gives the larger shares to the instances already holding most', () => {
    const p = loaded({ a: 5, b: 5 });
    p.addInstances(['c']);
    const r = p.rebalance(T0);
    // 4,3,3 needs three moves; the mgr module's floor target (3 each) would move four.
    assert.equal(r.shuffled.length, 3);
    for (const d of r.shuffled) drive(p, d, T0);
    assert.deepEqual(Object.values(loads(p)).sort(), [3, 3, 4]);
  });

  it('respects the shuffle throttle and says when to look again', () => {
    const p = loaded({ a: 4 }, T0 - 100);
    p.addInstances(['b']);
    const r = p.rebalance(T0);
    assert.deepEqual(r.shuffled, []);
    assert.equal(r.retryAt, T0 + 200);
    const later = p.rebalance(T0 + 200);
    assert.equal(later.shuffled.length, 2);
    assert.equal(later.retryAt, null);
  });

  it('does nothing when balanced, and never moves busy or leaving directories', () => {
    const p = loaded({ a: 3, b: 2 });
    assert.deepEqual(p.rebalance(T0).shuffled, []);
    const q = loaded({ a: 3 });
    q.addInstances(['b']);
    q.removeDirectory('/a/0'); // leaving: counts toward a's excess
    const r = q.rebalance(T0);
    assert.deepEqual(r.shuffled, ['/a/1'], 'shares 1,1 of the 2 that stay: one move');
    assert.deepEqual(q.rebalance(T0).shuffled, [], 'already shuffling counts');
    assert.equal(q.startAction('/a/1', T0), 'RELEASE');
    assert.deepEqual(q.rebalance(T0), { shuffled: [], retryAt: null, waitingForBusy: false });
    drive(q, '/a/0');
    drive(q, '/a/1');
    assert.deepEqual(loads(q), { a: 1, b: 1 });
  });
});
