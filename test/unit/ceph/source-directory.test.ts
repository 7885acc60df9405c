import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CephStat } from 'cephfs-js';
import { checkSourceDirectory, type StatMount } from '../../../src/ceph/source-directory.js';

function stat(isDirectory: boolean): CephStat {
  return {
    mode: isDirectory ? 0o040755 : 0o100644,
    size: 0,
    isDirectory,
    isFile: !isDirectory,
    isSymbolicLink: false,
    mtime: new Date(0),
    ino: 1n,
    uid: 0,
    gid: 0,
    nlink: 1,
  };
}

function failing(code: string): StatMount {
  return {
    stat: (path) =>
      Promise.reject(Object.assign(new Error(`ceph_statx(${path}): ${code}`), { code })),
  };
}

test('a directory is present; a file in its place is missing, naming path and filesystem', async () => {
  const calls: string[] = [];
  const dir: StatMount = {
    stat: (p) => {
      calls.push(p);
      return Promise.resolve(stat(true));
    },
  };
  assert.deepEqual(await checkSourceDirectory(dir, 'a', '/x'), { state: 'present' });
  assert.deepEqual(calls, ['/x'], 'one stat per check');
  assert.deepEqual(
    await checkSourceDirectory({ stat: () => Promise.resolve(stat(false)) }, 'a', '/x'),
    { state: 'missing', message: '/x on filesystem a is not a directory' },
  );
});

test('ENOENT and ENOTDIR are missing; any other failure is unknown, never missing', async () => {
  assert.deepEqual(await checkSourceDirectory(failing('ENOENT'), 'a', '/p/q'), {
    state: 'missing',
    message: '/p/q does not exist on filesystem a',
  });
  assert.equal((await checkSourceDirectory(failing('ENOTDIR'), 'a', '/f/q')).state, 'missing');
  const denied = await checkSourceDirectory(failing('EACCES'), 'a', '/p');
  assert.equal(denied.state, 'unknown');
  assert.match((denied as { message: string }).message, /could not check \/p on filesystem a/);
  const noMount = await checkSourceDirectory(Promise.reject(new Error('mount failed')), 'a', '/p');
  assert.deepEqual(noMount, {
    state: 'unknown',
    message: 'could not check /p on filesystem a: mount failed',
  });
});

test('a stat that does not answer is unknown after the deadline', async () => {
  const hung: StatMount = { stat: () => new Promise<CephStat>(() => undefined) };
  const r = await checkSourceDirectory(hung, 'a', '/slow', 20);
  assert.equal(r.state, 'unknown');
  assert.match((r as { message: string }).message, /timed out/);
});
