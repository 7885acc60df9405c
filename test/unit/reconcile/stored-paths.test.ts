// Dir-map keys written by the mgr module (or an older operator) that the current input rules
// refuse: they are driven, released and removed by their exact key, never re-validated.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectoryError } from '../../../src/reconcile/index.js';
import { checkDriverConsistency } from '../../../src/reconcile/testing.js';
import { dirRecord, instanceRecord, makeWorld, runUntilQuiet } from './world.js';

const reason = (r: string) => (e: unknown) => e instanceof DirectoryError && e.reason === r;

/** Keys the input rules refuse: a control character, a 300-byte component, 5,001 bytes. */
const CONTROL = '/legacy/a\u0001b';
const LONG_COMPONENT = `/legacy/${'n'.repeat(300)}`;
const LONG_PATH = `/legacy${`/${'p'.repeat(199)}`.repeat(25)}`;
const REFUSED = [CONTROL, LONG_COMPONENT, LONG_PATH];

describe('FilesystemMirrorDriver: stored keys the input rules refuse', () => {
  it('loads, re-acquires and removes them by their exact key, purging each record', async () => {
    assert.ok(Buffer.byteLength(LONG_PATH) > 4096);
    const w = makeWorld({
      start: {
        instances: [instanceRecord('i1')],
        directories: [...REFUSED, '/fine'].map((k) => [k, dirRecord('i1')] as const),
      },
    });
    // The module that wrote the map had acquired them on i1.
    w.notifier.held.set('i1', new Set([...REFUSED, '/fine']));
    await runUntilQuiet(w);
    assert.deepEqual(w.driver.trackedPaths().sort(), [...REFUSED, '/fine'].sort());
    for (const key of REFUSED) {
      assert.equal(w.driver.status(key)?.state, 'mapped', 'status by the exact key');
      // New input still goes through the strict rules.
      await assert.rejects(w.driver.addDirectory(key), reason('InvalidPath'));
    }

    // What a Prune does: status, then removal, by the key trackedPaths() gave.
    for (const key of w.driver.trackedPaths().filter((p) => p !== '/fine')) {
      assert.equal(w.driver.status(key)?.purging, false);
      assert.equal(await w.driver.removeDirectory(key), key);
      assert.equal(w.store.dirMap.get(key)?.purging, true, 'purge mark under the same key');
      await assert.rejects(w.driver.removeDirectory(key), reason('UnderRemoval'));
    }
    await runUntilQuiet(w);
    assert.deepEqual([...w.store.dirMap.keys()], ['/fine'], 'records purged');
    assert.deepEqual([...w.notifier.holdings('i1')], ['/fine'], 'released');
    for (const key of REFUSED) assert.equal(w.driver.status(key), undefined);
    assert.deepEqual(w.notifier.duplicateAcquires, []);
    checkDriverConsistency(w.driver);
  });

  it('finishes a removal the earlier writer had marked (purging) at start-up', async () => {
    const w = makeWorld({
      start: {
        instances: [instanceRecord('i1')],
        directories: [[CONTROL, dirRecord('i1', undefined, true)]],
      },
    });
    w.notifier.held.set('i1', new Set([CONTROL]));
    await runUntilQuiet(w);
    assert.equal(w.store.dirMap.size, 0);
    assert.equal(w.notifier.holdings('i1').size, 0);
    assert.deepEqual(w.driver.trackedPaths(), []);
  });

  it('still refuses a path the rules reject when no such key is tracked', async () => {
    const w = makeWorld({ start: { instances: [instanceRecord('i1')] } });
    await assert.rejects(w.driver.removeDirectory(CONTROL), reason('InvalidPath'));
    assert.equal(w.driver.status(LONG_COMPONENT), undefined, 'not tracked, no throw');
    assert.equal(w.driver.status('relative'), undefined);
    // A tracked key is matched exactly; another spelling of a valid path is normalised.
    await w.driver.addDirectory('/d');
    assert.equal(w.driver.status('/d/./')?.state, 'mapping');
    assert.equal(await w.driver.removeDirectory('//d/'), '/d');
  });
});
