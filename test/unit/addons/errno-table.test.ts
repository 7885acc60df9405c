// The errno table exists once per language: include/ceph_addon/errno_table.h (C++) and
// lib/errno.ts (TypeScript) in addons/common. These tests keep the two naming the same errnos,
// hold the TypeScript values to the platform's (on Linux), and pin the JavaScript-side error
// shape to the one the C++ side builds (include/ceph_addon/errors.h).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { constants, platform } from 'node:os';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { ERRNO, errnoCode, errnoError, isErrnoError } from 'ceph-addon-common';
import { ERRNO as CEPH_ERRNO, errnoCode as cephErrnoCode } from '../../../src/ceph/errors.js';
import { Errno } from '../../../src/reconcile/errors.js';

const root = resolve(import.meta.dirname, '../../..');

function cppTableNames(): string[] {
  const text = readFileSync(
    resolve(root, 'addons/common/include/ceph_addon/errno_table.h'),
    'utf8',
  );
  return [...text.matchAll(/^\s*X\((E[A-Z0-9]+)\)/gm)].map((m) => m[1] ?? '');
}

test('the C++ and TypeScript errno tables name the same errnos, in the same order', () => {
  const cpp = cppTableNames();
  assert.ok(cpp.length > 100, `found ${cpp.length} names in errno_table.h`);
  assert.deepEqual(cpp, Object.keys(ERRNO));
});

test('the table is ordered by value and has one name per value', () => {
  const values = Object.values(ERRNO);
  assert.deepEqual(
    values,
    [...values].sort((a, b) => a - b),
  );
  assert.equal(new Set(values).size, values.length);
});

test('the values are Linux values (checked against the platform where it is Linux)', (t) => {
  if (platform() !== 'linux') {
    t.skip('not Linux');
    return;
  }
  const platformErrno = constants.errno as Record<string, number>;
  let compared = 0;
  for (const [name, value] of Object.entries(ERRNO)) {
    const expected = platformErrno[name];
    if (expected === undefined) continue; // libuv does not export every Linux errno
    assert.equal(value, expected, name);
    compared += 1;
  }
  assert.ok(compared > 70, `compared ${compared}`);
  // The ones Ceph uses that libuv leaves out.
  assert.equal(ERRNO.ESHUTDOWN, 108);
  assert.equal(ERRNO.EKEYREJECTED, 129);
});

test('the Ceph layer and the policy engine use the same table', () => {
  assert.equal(CEPH_ERRNO, ERRNO);
  assert.equal(Errno, ERRNO);
  assert.equal(cephErrnoCode(-2), 'ENOENT');
});

test('errnoCode names values with or without sign, and E<n> outside the table', () => {
  assert.equal(errnoCode(2), 'ENOENT');
  assert.equal(errnoCode(-108), 'ESHUTDOWN');
  assert.equal(errnoCode(11), 'EAGAIN');
  assert.equal(errnoCode(4242), 'E4242');
});

test('errnoError builds the shape the addons raise from C++', () => {
  const withSubject = errnoError(-107, 'ceph_opendir', '/a', 'the CephFS mount is closed');
  assert.ok(withSubject instanceof Error);
  assert.equal(withSubject.errno, 107);
  assert.equal(withSubject.code, 'ENOTCONN');
  assert.equal(withSubject.syscall, 'ceph_opendir');
  assert.equal(withSubject.message, 'ceph_opendir(/a): the CephFS mount is closed (ENOTCONN)');

  const bare = errnoError(2, 'config-key get x');
  assert.equal(bare.message, 'config-key get x: ENOENT (ENOENT)');
  assert.equal(bare.syscall, 'config-key get x');

  assert.ok(isErrnoError(bare));
  assert.ok(isErrnoError(bare, 'ENOENT'));
  assert.ok(!isErrnoError(bare, 'EEXIST'));
  assert.ok(!isErrnoError(new Error('plain')));
  assert.ok(!isErrnoError({ errno: 2, code: 'ENOENT' }), 'not an Error');
});
