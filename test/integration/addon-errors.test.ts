// Both addons against the real lab: one error shape (ceph-addon-common's ErrnoError: `errno`
// positive, symbolic `code`, `syscall` naming the call, message "<syscall>(<subject>): <text>
// (<code>)"), whether the error is raised in C++ or in TypeScript, and one argument rule: a
// string with an embedded NUL is refused with a TypeError naming the argument instead of reaching
// librados or libcephfs cut short at the NUL.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { CephFS, isCephFSError } from 'cephfs-js';
import { checkCommand, isRadosError, Rados, type IoCtx } from 'rados-js';
import { useLab, type LabState } from '../../lab/harness/lab.js';
import { assertNoDaemonAborted } from '../support/daemon-logs.js';

const LIMIT = { timeout: 60_000 };

let lab: LabState;
let rados: Rados;
let io: IoCtx;
let fs: CephFS;

before(async () => {
  lab = await useLab();
  const site = lab.sites.a;
  rados = await Rados.connect({ confPath: site.confPath, timeoutMs: 30_000 });
  io = await rados.openIoCtx(site.metadataPool);
  fs = await CephFS.mount({ confPath: site.confPath, fsName: site.fsName, timeoutMs: 30_000 });
});

after(async () => {
  await fs?.close();
  await rados?.shutdown();
});

function unique(label: string): string {
  return `addon-errors-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Matcher for assert.rejects: the one error shape, with exactly these fields and message. */
function errnoShape(errno: number, code: string, syscall: string, message: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof Error, `expected an Error, got ${String(error)}`);
    const e = error as Error & Record<string, unknown>;
    assert.deepEqual(
      { errno: e['errno'], code: e['code'], syscall: e['syscall'], message: e.message },
      { errno, code, syscall, message },
    );
    assert.ok(isRadosError(error, code) && isCephFSError(error, code));
    return true;
  };
}

/** Matcher for assert.rejects: the NUL refusal, naming the argument. */
function nulRefused(argument: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof TypeError, `expected a TypeError, got ${String(error)}`);
    assert.equal(error.message, `${argument} must not contain NUL bytes`);
    return true;
  };
}

describe('rados-js', () => {
  test('a failed object call: errno, code, syscall and message', LIMIT, async () => {
    const oid = unique('missing');
    await assert.rejects(
      io.stat(oid),
      errnoShape(2, 'ENOENT', 'stat', `stat(${oid}): No such file or directory (ENOENT)`),
    );
    await assert.rejects(
      io.omapGetVals(oid, { max: 1 }),
      errnoShape(
        2,
        'ENOENT',
        'omapGetVals',
        `omapGetVals(${oid}): No such file or directory (ENOENT)`,
      ),
    );
  });

  test('a failed cluster call without a subject in the message', LIMIT, async () => {
    await assert.rejects(
      rados.confGet('no_such_option_here'),
      errnoShape(
        2,
        'ENOENT',
        'confGet',
        'confGet(no_such_option_here): No such file or directory (ENOENT)',
      ),
    );
    // Built in TypeScript (checkCommand), same shape.
    const result = await rados.monCommand({
      prefix: 'osd pool get',
      pool: unique('pool'),
      var: 'size',
    });
    assert.throws(
      () => checkCommand(result, 'osd pool get'),
      errnoShape(
        -result.rc,
        result.rc === -2 ? 'ENOENT' : `E${-result.rc}`,
        'osd pool get',
        `osd pool get: ${result.outs} (${result.rc === -2 ? 'ENOENT' : `E${-result.rc}`})`,
      ),
    );
  });

  test('NUL in a string argument is refused before librados sees it', LIMIT, async () => {
    const oid = unique('nul');
    await assert.rejects(io.createObject(`${oid}\0tail`), nulRefused('oid'));
    // Nothing was created under the name cut short at the NUL.
    await assert.rejects(io.stat(oid), { code: 'ENOENT' });
    await assert.rejects(io.stat(`${oid}\0`), nulRefused('oid'));
    await assert.rejects(io.omapGetVals(oid, { prefix: 'a\0b', max: 1 }), nulRefused('prefix'));
    await assert.rejects(rados.monCommand('{"prefix": "fsid"}\0junk'), nulRefused('cmd'));
    await assert.rejects(
      rados.monCommandTarget('a\0b', '{"prefix": "sessions"}'),
      nulRefused('mon'),
    );
    await assert.rejects(
      rados.monCommandTarget('a', '{"prefix": "sessions"}\0'),
      nulRefused('cmd'),
    );
    await assert.rejects(rados.poolLookup('a\0b'), nulRefused('name'));
    await assert.rejects(
      Rados.connect({ confPath: lab.sites.a.confPath, conf: { log_file: '/tmp/x\0y' } }),
      nulRefused('conf value'),
    );
  });

  test(
    'omap keys travel with their length, so NUL in a key is kept, not refused',
    LIMIT,
    async () => {
      const oid = unique('omap-nul');
      await io.omapWrite(oid, { set: [['k\0v', Buffer.from('x')]] });
      try {
        const page = await io.omapGetVals(oid, { max: 10 });
        assert.deepEqual(
          page.entries.map(([k]) => k),
          ['k\0v'],
        );
      } finally {
        await io.remove(oid);
      }
    },
  );
});

describe('cephfs-js', () => {
  test('a failed call: errno, code, syscall and message', LIMIT, async () => {
    const path = `/${unique('missing')}`;
    await assert.rejects(
      fs.stat(path),
      errnoShape(
        2,
        'ENOENT',
        'ceph_statx',
        `ceph_statx(${path}): No such file or directory (ENOENT)`,
      ),
    );
    await assert.rejects(
      fs.mkdir('/'),
      errnoShape(17, 'EEXIST', 'ceph_mkdir', 'ceph_mkdir(/): File exists (EEXIST)'),
    );
  });

  test('NUL in a string argument is refused before libcephfs sees it', LIMIT, async () => {
    const dir = `/${unique('nul')}`;
    await assert.rejects(fs.mkdir(`${dir}\0tail`), nulRefused('path'));
    // Nothing was created under the path cut short at the NUL.
    await assert.rejects(fs.stat(dir), { code: 'ENOENT' });
    await assert.rejects(fs.stat('/a\0x'), nulRefused('path'));
    await assert.rejects(fs.getxattr('/', 'ceph.mirror.info\0x'), nulRefused('name'));
    await assert.rejects(
      CephFS.mount({ confPath: lab.sites.a.confPath, fsName: `${lab.sites.a.fsName}\0x` }),
      nulRefused('fsName'),
    );
  });

  test('a closed mount rejects with the same shape, built in TypeScript', LIMIT, async () => {
    const closed = await CephFS.mount({
      confPath: lab.sites.a.confPath,
      fsName: lab.sites.a.fsName,
    });
    await closed.close();
    await assert.rejects(
      closed.stat('/'),
      errnoShape(
        107,
        'ENOTCONN',
        'ceph_statx',
        'ceph_statx(/): the CephFS mount is closed (ENOTCONN)',
      ),
    );
  });
});

test('no cephfs-mirror daemon aborted', () => {
  assertNoDaemonAborted(lab);
});
