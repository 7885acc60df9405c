import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  DirectorySettling,
  engineFingerprint,
} from '../../../src/controllers/directory-settling.js';
import type { DirectoryStatus } from '../../../src/reconcile/index.js';

const mapping: DirectoryStatus = {
  state: 'mapping',
  policyState: 'ASSOCIATING',
  instanceId: '4100',
  lastShuffled: 1700000000,
  purging: false,
};
const mapped: DirectoryStatus = { ...mapping, state: 'mapped', policyState: 'ASSOCIATED' };
const moved: DirectoryStatus = { ...mapped, instanceId: '4200', lastShuffled: 1700000300 };

describe('DirectorySettling', () => {
  it('an engine change is wanted only when the status would say something new', () => {
    const s = new DirectorySettling();
    assert.equal(s.wants('ns/d', mapping), true, 'nothing reported yet');
    s.begin('ns/d');
    s.willRead('ns/d');
    assert.equal(s.wants('ns/d', mapping), false, 'the reconcile in flight reads it');
    assert.equal(s.wants('ns/d', mapped), false);
    s.writing('ns/d', engineFingerprint(mapped));
    assert.equal(s.wants('ns/d', mapped), false, 'being written');
    assert.equal(s.wants('ns/d', moved), true, 'changed after it was read');
    s.written('ns/d', engineFingerprint(mapped));
    s.end('ns/d');
    assert.equal(s.wants('ns/d', mapped), false, 'the echo of our own report');
    assert.equal(s.wants('ns/d', moved), true);
    assert.equal(s.wants('ns/d', undefined), true, 'no longer tracked');
    s.begin('ns/d');
    s.end('ns/d');
    assert.equal(s.wants('ns/d', mapped), true, 'a reconcile that reported nothing');
    s.written('ns/d', engineFingerprint(mapped));
    s.forget('ns/d');
    assert.equal(s.wants('ns/d', mapped), true);
  });

  it('a wait ends when the directory settles, not on a passing state; or runs out', async () => {
    const s = new DirectorySettling();
    const settled = s.settle('ns/d', 'ns/m', '/a', 10_000);
    const other = s.settle('ns/e', 'ns/m', '/b', 10_000);
    let done = false;
    void settled.then(() => (done = true));
    s.changed('ns/m', '/a', mapping);
    await Promise.resolve();
    assert.equal(done, false, 'still passing');
    s.changed('ns/m2', '/a', mapped);
    await Promise.resolve();
    assert.equal(done, false, 'another mirror');
    s.changed('ns/m', '/a', mapped);
    assert.equal(await settled, 'settled');
    s.changed('ns/m', '/b', undefined);
    assert.equal(await other, 'settled', 'gone from the engine counts as settled');
    assert.equal(await s.settle('ns/d', 'ns/m', '/a', 5), 'timeout');
  });

  it('a change of the object or its going interrupts its wait', async () => {
    const s = new DirectorySettling();
    const waiting = s.settle('ns/d', 'ns/m', '/a', 10_000);
    s.interrupt('ns/other');
    s.interrupt('ns/d');
    assert.equal(await waiting, 'interrupted');
    const again = s.settle('ns/d', 'ns/m', '/a', 10_000);
    s.forget('ns/d');
    assert.equal(await again, 'interrupted');
  });
});
