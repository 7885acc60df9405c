import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, it } from 'node:test';

import {
  CephOpError,
  cephOpError,
  defaultReason,
  ERRNO,
  errnoCode,
  fromReturnCode,
  isCephOpError,
} from '../../../src/ceph/errors.js';

describe('CephOpError', () => {
  it('stores a positive errno, its code and a default reason', () => {
    const e = new CephOpError(-2, 'filesystem x does not exist');
    assert.equal(e.errno, 2);
    assert.equal(e.code, 'ENOENT');
    assert.equal(e.reason, 'NotFound');
    assert.equal(e.returnCode, -2);
    assert.equal(e.message, 'filesystem x does not exist');
    assert.equal(e.name, 'CephOpError');
    assert.ok(e instanceof Error);
  });

  it('takes an explicit CamelCase reason and refuses others', () => {
    assert.equal(cephOpError('EINVAL', 'x', 'FsidMismatch').reason, 'FsidMismatch');
    assert.throws(() => cephOpError('EINVAL', 'x', 'not camel'), TypeError);
    assert.throws(() => cephOpError('EINVAL', 'x', 'lowerStart'), TypeError);
    assert.throws(() => new CephOpError(0, 'x'), TypeError);
    assert.throws(() => new CephOpError(1.5, 'x'), TypeError);
  });

  it('keeps the cause', () => {
    const cause = new Error('inner');
    assert.equal(cephOpError('EIO', 'outer', undefined, cause).cause, cause);
  });

  it('builds messages from return codes', () => {
    const e = fromReturnCode(-110, 'notify cephfs_mirror.4123');
    assert.equal(e.message, 'notify cephfs_mirror.4123: ETIMEDOUT');
    assert.equal(e.reason, 'Timeout');
    const f = fromReturnCode(-22, 'fs mirror enable a', 'Error EINVAL: bad', 'EnableFailed');
    assert.equal(f.message, 'fs mirror enable a: EINVAL: Error EINVAL: bad');
    assert.equal(f.reason, 'EnableFailed');
    assert.equal(fromReturnCode(-4095, 'op').code, 'E4095');
    assert.equal(fromReturnCode(-4095, 'op').reason, 'CephError');
  });

  it('is recognised by isCephOpError, optionally by code', () => {
    const e = cephOpError('EEXIST', 'x');
    assert.ok(isCephOpError(e));
    assert.ok(isCephOpError(e, 'EEXIST'));
    assert.ok(!isCephOpError(e, 'ENOENT'));
    assert.ok(!isCephOpError(new Error('x')));
  });
});

describe('errno table', () => {
  it('maps both ways', () => {
    assert.equal(errnoCode(-108), 'ESHUTDOWN');
    assert.equal(errnoCode(61), 'ENODATA');
    assert.equal(defaultReason('ESHUTDOWN'), 'Blocklisted');
  });

  it(
    'matches the Linux errno values',
    { skip: process.platform !== 'linux' && 'not Linux' },
    () => {
      const linux = constants.errno as Record<string, number>;
      for (const [code, n] of Object.entries(ERRNO)) {
        if (code in linux) assert.equal(n, linux[code], code);
      }
      assert.ok(Object.keys(ERRNO).filter((c) => c in linux).length > 40);
    },
  );
});
