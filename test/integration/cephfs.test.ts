// cephfs-js against the real lab: mounting (own connection, rados-js handle, bad credentials),
// xattrs (including the root `ceph.mirror.info` the mirroring protocol uses), directories, files,
// snapshots and the closed-mount behaviour.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CephFS, isCephFSError, type MountOptions, type RadosHandleProvider } from 'cephfs-js';
import { Rados } from 'rados-js';
import { useLab, type LabState } from '../../lab/harness/lab.js';

// A hung call fails its test instead of stalling the whole run.
const LIMIT = { timeout: 60_000 };

let lab: LabState;
let fsA: CephFS;

before(async () => {
  lab = await useLab();
  fsA = await CephFS.mount({
    confPath: lab.sites.a.confPath,
    fsName: lab.sites.a.fsName,
    timeoutMs: 30_000,
  });
});

after(async () => {
  await fsA?.close();
});

/** A fresh top-level directory name, unique across tests, processes and runs. */
function uniqueDir(label: string): string {
  return `/cephfs-test-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Matcher for assert.rejects: a CephFSError with this code naming this call and subject. */
function cephError(code: string, errno: number, syscall: string, subject: string) {
  return (error: unknown): boolean => {
    assert.ok(isCephFSError(error), `expected a CephFSError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.errno, errno);
    assert.equal(error.syscall, syscall);
    assert.ok(
      error.message.startsWith(`${syscall}(${subject})`),
      `message "${error.message}" should name ${syscall}(${subject})`,
    );
    return true;
  };
}

/** A syntactically valid cephx secret that no cluster knows. */
function randomCephxKey(): string {
  const header = Buffer.alloc(12);
  header.writeUInt16LE(1, 0); // CEPH_CRYPTO_AES
  header.writeUInt32LE(Math.floor(Date.now() / 1000), 2);
  header.writeUInt32LE(0, 6);
  header.writeUInt16LE(16, 10);
  return Buffer.concat([header, randomBytes(16)]).toString('base64');
}

/** A loopback port with nothing listening on it. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

describe('mounting', () => {
  test('mounts site-a fs `a` from its ceph.conf and reports its fscid', LIMIT, async () => {
    const fscid = await fsA.fscid();
    assert.ok(Number.isInteger(fscid) && fscid >= 0, `fscid ${fscid}`);
    assert.equal(fsA.fsName, 'a');
    assert.equal(fsA.closed, false);
    const root = await fsA.stat('/');
    assert.equal(root.isDirectory, true);
    assert.equal(root.ino, 1n, 'the root inode of a CephFS is 1');
  });

  test('mounts site-b fs `b` by name with monHost, clientId and key only', LIMIT, async () => {
    const b = lab.sites.b;
    const fsB = await CephFS.mount({
      monHost: b.monHost,
      clientId: 'admin',
      key: b.adminKey,
      fsName: b.fsName,
      timeoutMs: 30_000,
    });
    try {
      assert.equal(fsB.fsName, 'b');
      assert.ok((await fsB.fscid()) >= 0);
      // A directory made through site-b's mount exists there and not on site-a.
      const dir = uniqueDir('siteb');
      await fsB.mkdir(dir);
      assert.ok((await fsB.readdir('/')).includes(dir.slice(1)));
      assert.ok(!(await fsA.readdir('/')).includes(dir.slice(1)));
      await fsB.rmdir(dir);
    } finally {
      await fsB.close();
    }
  });

  test('naming a filesystem the cluster does not have fails with ENOENT', LIMIT, async () => {
    await assert.rejects(
      CephFS.mount({ confPath: lab.sites.a.confPath, fsName: 'no-such-fs', timeoutMs: 10_000 }),
      cephError('ENOENT', 2, 'ceph_mount', 'no-such-fs'),
    );
  });

  test('a wrong monitor address fails with ETIMEDOUT within the timeout', LIMIT, async () => {
    const port = await unusedPort();
    const started = Date.now();
    await assert.rejects(
      CephFS.mount({
        monHost: `127.0.0.1:${port}`,
        clientId: 'admin',
        key: lab.sites.a.adminKey,
        fsName: 'a',
        timeoutMs: 2_000,
      }),
      cephError('ETIMEDOUT', 110, 'ceph_mount', 'a'),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1_500 && elapsed < 8_000, `took ${elapsed} ms`);
  });

  test('a key the cluster does not know is refused within the timeout', LIMIT, async () => {
    const started = Date.now();
    await assert.rejects(
      CephFS.mount({
        monHost: lab.sites.a.monHost,
        clientId: 'admin',
        key: randomCephxKey(),
        fsName: 'a',
        timeoutMs: 5_000,
      }),
      cephError('EACCES', 13, 'ceph_mount', 'a'),
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
  });

  test('the JS thread keeps running while a mount waits on the network', LIMIT, async () => {
    const port = await unusedPort();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    try {
      await assert.rejects(
        CephFS.mount({
          monHost: `127.0.0.1:${port}`,
          clientId: 'admin',
          key: lab.sites.a.adminKey,
          fsName: 'a',
          timeoutMs: 1_000,
        }),
        { code: 'ETIMEDOUT' },
      );
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks >= 10, `only ${ticks} timer ticks during a ~1 s mount`);
  });

  test('mounts fs `a` on a rados-js connection and pins it until closed', LIMIT, async () => {
    const rados = await Rados.connect({ confPath: lab.sites.a.confPath });
    let acquired = 0;
    let released = 0;
    // Count the pin/unpin calls the mount makes, delegating to the real Rados.
    const counted: RadosHandleProvider = {
      acquireNativeHandle: () => (acquired++, rados.acquireNativeHandle()),
      releaseNativeHandle: () => (released++, rados.releaseNativeHandle()),
    };
    try {
      const fs = await CephFS.mount({ rados: counted, fsName: 'a' });
      assert.equal(acquired, 1);
      assert.equal(released, 0);
      assert.equal(await fs.fscid(), await fsA.fscid());
      await assert.rejects(rados.shutdown(), { code: 'EBUSY' }, 'the mount pins the Rados');
      const dir = uniqueDir('rados');
      await fs.mkdir(dir);
      assert.equal((await fsA.stat(dir)).isDirectory, true, 'visible through the other mount');
      await fs.rmdir(dir);
      await fs.close();
      assert.equal(released, 1, 'close() unpins the Rados');
      await fs.close();
      assert.equal(released, 1, 'a second close() does not unpin again');

      // A failed mount gives the pin back too.
      await assert.rejects(CephFS.mount({ rados: counted, fsName: 'no-such-fs' }), {
        code: 'ENOENT',
      });
      assert.equal(acquired, 2);
      assert.equal(released, 2);
    } finally {
      await rados.shutdown();
    }
  });
});

describe('xattrs', () => {
  test(
    'set/get/replace/remove a user xattr on a directory, with create/replace semantics',
    LIMIT,
    async () => {
      const dir = uniqueDir('xattr');
      await fsA.mkdir(dir);
      try {
        const name = 'user.cephfs-js.test';
        await assert.rejects(
          fsA.getxattr(dir, name),
          cephError('ENODATA', 61, 'ceph_getxattr', `${dir}, ${name}`),
        );
        await assert.rejects(fsA.setxattr(dir, name, 'x', { replace: true }), { code: 'ENODATA' });
        await fsA.setxattr(dir, name, Buffer.from([0, 1, 2, 255]), { create: true });
        assert.deepEqual(await fsA.getxattr(dir, name), Buffer.from([0, 1, 2, 255]));
        await assert.rejects(
          fsA.setxattr(dir, name, 'again', { create: true }),
          cephError('EEXIST', 17, 'ceph_setxattr', `${dir}, ${name}`),
        );
        await fsA.setxattr(dir, name, 'replaced', { replace: true });
        assert.equal((await fsA.getxattr(dir, name)).toString(), 'replaced');
        await fsA.setxattr(dir, name, ''); // no flags: upsert, empty value allowed
        assert.equal((await fsA.getxattr(dir, name)).length, 0);
        await fsA.removexattr(dir, name);
        await assert.rejects(fsA.getxattr(dir, name), { code: 'ENODATA' });
        await assert.rejects(fsA.removexattr(dir, name), { code: 'ENODATA' });
        await assert.rejects(
          fsA.setxattr(dir, name, 'x', { create: true, replace: true }),
          TypeError,
        );
      } finally {
        await fsA.rmdir(dir);
      }
    },
  );

  test(
    'ceph.mirror.info on the root: create, EEXIST, replace, remove, ENODATA',
    LIMIT,
    async () => {
      const name = 'ceph.mirror.info';
      // Other tests and the lab's mirroring may rely on this attribute: keep what was there and
      // put it back at the end.
      const before = await fsA.getxattr('/', name).catch((error: unknown) => {
        if (isCephFSError(error) && error.code === 'ENODATA') return undefined;
        throw error;
      });
      if (before !== undefined) await fsA.removexattr('/', name);
      try {
        const fscid = await fsA.fscid();
        const first = `cluster_id=${lab.sites.a.fsid} fs_id=${fscid}`;
        const second = `cluster_id=${lab.sites.b.fsid} fs_id=${fscid}`;
        await fsA.setxattr('/', name, first, { create: true });
        assert.equal((await fsA.getxattr('/', name)).toString(), first);
        await assert.rejects(
          fsA.setxattr('/', name, second, { create: true }),
          cephError('EEXIST', 17, 'ceph_setxattr', `/, ${name}`),
        );
        assert.equal((await fsA.getxattr('/', name)).toString(), first, 'unchanged by the failure');
        await fsA.setxattr('/', name, second, { replace: true });
        assert.equal((await fsA.getxattr('/', name)).toString(), second);
        await fsA.removexattr('/', name);
        await assert.rejects(
          fsA.getxattr('/', name),
          cephError('ENODATA', 61, 'ceph_getxattr', `/, ${name}`),
        );
      } finally {
        await fsA.removexattr('/', name).catch(() => undefined);
        if (before !== undefined) await fsA.setxattr('/', name, before, { create: true });
      }
    },
  );
});

describe('directories and files', () => {
  test(
    'mkdir, mkdirs, stat and readdir, with their EEXIST/ENOENT/ENOTDIR paths',
    LIMIT,
    async () => {
      const dir = uniqueDir('dirs');
      const startedMs = Date.now();
      await fsA.mkdir(dir, 0o750);
      await assert.rejects(fsA.mkdir(dir), cephError('EEXIST', 17, 'ceph_mkdir', dir));
      await assert.rejects(
        fsA.mkdir(`${dir}/missing/child`),
        cephError('ENOENT', 2, 'ceph_mkdir', `${dir}/missing/child`),
      );

      const st = await fsA.stat(dir);
      assert.equal(st.isDirectory, true);
      assert.equal(st.isFile, false);
      assert.equal(st.mode & 0o777, 0o750);
      assert.equal(typeof st.ino, 'bigint');
      assert.ok(
        Math.abs(st.mtime.getTime() - startedMs) < 60_000,
        `mtime ${st.mtime.toISOString()}`,
      );

      await fsA.mkdirs(`${dir}/p/q/r`);
      await fsA.mkdirs(`${dir}/p/q/r`); // existing directory: fine, like mkdir -p
      await fsA.mkdirs(`${dir}/p/q/s`);
      assert.deepEqual(await fsA.readdir(dir), ['p']);
      assert.deepEqual((await fsA.readdir(`${dir}/p/q`)).sort(), ['r', 's']);
      assert.deepEqual(await fsA.readdir(`${dir}/p/q/r`), [], 'no . or .. entries');

      await fsA.writeFile(`${dir}/file`, 'x');
      await assert.rejects(fsA.mkdirs(`${dir}/file`), { code: 'EEXIST' });
      await assert.rejects(fsA.mkdirs(`${dir}/file/sub`), { code: 'ENOTDIR' });
      await assert.rejects(fsA.readdir(`${dir}/file`), { code: 'ENOTDIR' });
      await assert.rejects(
        fsA.readdir(`${dir}/nope`),
        cephError('ENOENT', 2, 'ceph_opendir', `${dir}/nope`),
      );
      await assert.rejects(
        fsA.stat(`${dir}/nope`),
        cephError('ENOENT', 2, 'ceph_statx', `${dir}/nope`),
      );

      await assert.rejects(
        fsA.rmdir(`${dir}/p`),
        cephError('ENOTEMPTY', 39, 'ceph_rmdir', `${dir}/p`),
      );
      for (const d of ['p/q/r', 'p/q/s', 'p/q', 'p']) await fsA.rmdir(`${dir}/${d}`);
      await fsA.unlink(`${dir}/file`);
      await fsA.rmdir(dir);
      await assert.rejects(fsA.rmdir(dir), cephError('ENOENT', 2, 'ceph_rmdir', dir));
      await assert.rejects(fsA.stat(dir), { code: 'ENOENT' });
    },
  );

  test(
    'writeFile/readFile round-trip text and binary data, truncate on rewrite',
    LIMIT,
    async () => {
      const dir = uniqueDir('files');
      await fsA.mkdir(dir);
      try {
        const text = `${dir}/hello.txt`;
        await fsA.writeFile(text, 'héllo wörld\n');
        assert.equal((await fsA.readFile(text)).toString('utf8'), 'héllo wörld\n');
        const st = await fsA.stat(text);
        assert.equal(st.isFile, true);
        assert.equal(st.isDirectory, false);
        assert.equal(st.size, Buffer.byteLength('héllo wörld\n'));
        assert.equal(st.mode & 0o777, 0o644);

        // Larger than the 1 MiB read chunk, so reading takes several calls.
        const big = randomBytes(2.5 * 1024 * 1024);
        const bin = `${dir}/blob.bin`;
        await fsA.writeFile(bin, big);
        assert.ok((await fsA.readFile(bin)).equals(big));
        assert.equal((await fsA.stat(bin)).size, big.length);

        await fsA.writeFile(bin, 'short');
        assert.equal((await fsA.readFile(bin)).toString(), 'short', 'rewrite truncates');
        await fsA.writeFile(`${dir}/empty`, Buffer.alloc(0));
        assert.equal((await fsA.readFile(`${dir}/empty`)).length, 0);

        assert.deepEqual((await fsA.readdir(dir)).sort(), ['blob.bin', 'empty', 'hello.txt']);
        await assert.rejects(
          fsA.readFile(`${dir}/nope`),
          cephError('ENOENT', 2, 'ceph_open', `${dir}/nope`),
        );
        await assert.rejects(
          fsA.writeFile(`${dir}/nope/x`, 'x'),
          cephError('ENOENT', 2, 'ceph_open', `${dir}/nope/x`),
        );
        await assert.rejects(fsA.readFile(dir), { code: 'EISDIR' });
        await assert.rejects(fsA.unlink(dir), { code: 'EISDIR' });

        for (const f of ['hello.txt', 'blob.bin', 'empty']) await fsA.unlink(`${dir}/${f}`);
        await assert.rejects(
          fsA.unlink(`${dir}/hello.txt`),
          cephError('ENOENT', 2, 'ceph_unlink', `${dir}/hello.txt`),
        );
        assert.deepEqual(await fsA.readdir(dir), []);
      } finally {
        await fsA.rmdir(dir);
      }
    },
  );
});

describe('snapshots', () => {
  test('mksnap, listSnaps, read through .snap, rmsnap', LIMIT, async () => {
    const dir = uniqueDir('snaps');
    await fsA.mkdirs(`${dir}/child`);
    try {
      await fsA.writeFile(`${dir}/f`, 'v1');
      await fsA.mksnap(dir, 's1');
      await fsA.writeFile(`${dir}/f`, 'version 2');
      await fsA.mksnap(dir, 's2');
      assert.deepEqual((await fsA.listSnaps(dir)).sort(), ['s1', 's2']);
      assert.deepEqual((await fsA.listSnaps(`${dir}/`)).sort(), ['s1', 's2'], 'trailing slash');

      // A snapshot is a frozen copy of the directory.
      assert.equal((await fsA.readFile(`${dir}/.snap/s1/f`)).toString(), 'v1');
      assert.equal((await fsA.readFile(`${dir}/.snap/s2/f`)).toString(), 'version 2');
      assert.equal((await fsA.readFile(`${dir}/f`)).toString(), 'version 2');

      await assert.rejects(
        fsA.mksnap(dir, 's1'),
        cephError('EEXIST', 17, 'ceph_mksnap', `${dir}, s1`),
      );
      // The MDS refuses names starting with `_`, which is what makes listSnaps' filter exact.
      await assert.rejects(fsA.mksnap(dir, '_s3'), { code: 'EINVAL' });

      // The parent's snapshots show up in the child's .snap as `_<name>_<parent ino>` only.
      const parentIno = (await fsA.stat(dir)).ino;
      assert.deepEqual(await fsA.listSnaps(`${dir}/child`), []);
      assert.deepEqual((await fsA.listSnaps(`${dir}/child`, { includeInherited: true })).sort(), [
        `_s1_${parentIno}`,
        `_s2_${parentIno}`,
      ]);

      await fsA.rmsnap(dir, 's1');
      assert.deepEqual(await fsA.listSnaps(dir), ['s2']);
      await assert.rejects(
        fsA.rmsnap(dir, 's1'),
        cephError('ENOENT', 2, 'ceph_rmsnap', `${dir}, s1`),
      );
      await assert.rejects(fsA.listSnaps(`${dir}/nope`), { code: 'ENOENT' });
      await fsA.rmsnap(dir, 's2');
      assert.deepEqual(await fsA.listSnaps(dir), []);
    } finally {
      for (const snap of await fsA.listSnaps(dir).catch(() => [])) await fsA.rmsnap(dir, snap);
      await fsA.unlink(`${dir}/f`).catch(() => undefined);
      await fsA.rmdir(`${dir}/child`);
      await fsA.rmdir(dir);
    }
  });
});

describe('closing', () => {
  test('calls after close() reject with ENOTCONN; close() is idempotent', LIMIT, async () => {
    const fs = await CephFS.mount({ confPath: lab.sites.a.confPath, fsName: 'a' });
    await fs.close();
    assert.equal(fs.closed, true);
    await assert.rejects(fs.readdir('/'), cephError('ENOTCONN', 107, 'ceph_opendir', '/'));
    await assert.rejects(fs.fscid(), { code: 'ENOTCONN' });
    await assert.rejects(fs.getxattr('/', 'ceph.mirror.info'), { code: 'ENOTCONN' });
    await assert.rejects(fs.writeFile('/x', 'x'), { code: 'ENOTCONN' });
    await fs.close();
  });

  test('calls started before close() complete on a live mount', LIMIT, async () => {
    const fs = await CephFS.mount({ confPath: lab.sites.a.confPath, fsName: 'a' });
    const dir = uniqueDir('inflight');
    await fs.mkdir(dir);
    const data = randomBytes(256 * 1024);
    const pending = [
      fs.writeFile(`${dir}/a`, data),
      fs.writeFile(`${dir}/b`, data),
      fs.readdir('/'),
      fs.stat(dir),
      fs.fscid(),
    ];
    const closing = fs.close(); // while all of the above are in flight
    // Made after close(): refused. The assertion is attached now so the rejection is handled.
    const late = assert.rejects(fs.stat(dir), { code: 'ENOTCONN' });
    const results = await Promise.allSettled(pending);
    await closing;
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
    await late;
    // The writes really happened.
    assert.ok((await fsA.readFile(`${dir}/a`)).equals(data));
    assert.ok((await fsA.readFile(`${dir}/b`)).equals(data));
    await fsA.unlink(`${dir}/a`);
    await fsA.unlink(`${dir}/b`);
    await fsA.rmdir(dir);
  });

  test('bad arguments reject with TypeError instead of crashing', LIMIT, async () => {
    // Callers outside TypeScript can pass anything; the checks live in the addon.
    const untyped = fsA as unknown as {
      stat(path: unknown): Promise<unknown>;
      readdir(path: unknown): Promise<unknown>;
      setxattr(path: unknown, name: unknown, value: unknown): Promise<unknown>;
    };
    await assert.rejects(untyped.stat(42), TypeError);
    await assert.rejects(untyped.readdir('a\0b'), TypeError);
    await assert.rejects(untyped.setxattr('/', 'user.x', 42), TypeError);
    const noFsName = { confPath: lab.sites.a.confPath } as unknown as MountOptions;
    await assert.rejects(CephFS.mount(noFsName), TypeError);
  });
});
