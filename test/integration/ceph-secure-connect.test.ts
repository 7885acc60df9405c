// connectSecure against the real lab: cephx + msgr2 secure mode on every connection (mon, OSD,
// MDS, mgr through a libcephfs mount on the same handle), read from the client's own messenger
// log; a v1-only or ambiguous mon_host refused before anything is sent, and used only when
// allowInsecureV1 says so.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CephFS } from 'cephfs-js';
import { connectSecure, secureConnectOptions, SECURE_CLIENT_CONF } from '../../src/ceph/connect.js';
import { InsecureMonHostError, MonHostParseError } from '../../src/ceph/mon-host.js';
import { useLab, type SiteInfo } from '../../lab/harness/lab.js';

let site: SiteInfo;
let logDir: string;

before(async () => {
  site = (await useLab()).sites.a;
  logDir = mkdtempSync(join(tmpdir(), 'cmo-secure-'));
});

after(() => rmSync(logDir, { recursive: true, force: true }));

/** Settings that make librados log each connection's protocol, state and mode to a file. */
function debugConf(name: string): Record<string, string> {
  return { log_file: join(logDir, `${name}.log`), debug_ms: '10/10', log_to_stderr: 'false' };
}

/**
 * Every peer the client had an established session with, by protocol: msgr2 sessions with the
 * mode the messenger prints (`secure` or `crc`), msgr1 sessions (never encrypted). The client's
 * loopback connection to itself is left out.
 */
function sessions(name: string): { v2: Map<string, Set<string>>; v1: Set<string> } {
  const v2 = new Map<string, Set<string>>();
  const v1 = new Set<string>();
  for (const line of readFileSync(join(logDir, `${name}.log`), 'utf8').split('\n')) {
    const m2 = / --2- (\S+) >> (\S+) conn\(0x\w+ 0x\w+ (\w+) .* s=READY /.exec(line);
    if (m2 && m2[1] !== m2[2]) {
      const modes = v2.get(m2[2] as string) ?? new Set<string>();
      modes.add(m2[3] as string);
      v2.set(m2[2] as string, modes);
    }
    const m1 = / --1- (\S+) >> (\S+) conn\(.* s=(OPENED|STATE_OPEN|READY)/.exec(line);
    if (m1 && m1[1] !== m1[2]) v1.add(m1[2] as string);
  }
  return { v2, v1 };
}

function v1Address(): string {
  // The lab's mon listens for msgr1 on monPort + 1 (lab/ceph-cluster.ts).
  return `v1:127.0.0.1:${site.monPort + 1}`;
}

describe('connectSecure', () => {
  test('the lab accepts cephx + secure mode on every session: mon, OSD, MDS, mgr', async () => {
    const rados = await connectSecure({
      monHost: site.monHost,
      clientId: 'client.admin',
      key: site.adminKey,
      timeoutMs: 30_000,
      conf: debugConf('secure'),
    });
    try {
      assert.equal(await rados.fsid(), site.fsid);
      for (const [name, value] of Object.entries(SECURE_CLIENT_CONF)) {
        assert.equal(await rados.confGet(name), value, name);
      }
      const fs = await CephFS.mount({ rados, fsName: site.fsName });
      try {
        await fs.mkdirs(`/secure-connect-${process.pid}`);
        await fs.rmdir(`/secure-connect-${process.pid}`);
      } finally {
        await fs.close();
      }
    } finally {
      await rados.shutdown();
    }
    const { v2, v1 } = sessions('secure');
    assert.deepEqual([...v1], [], 'no msgr1 session');
    // The mon, the OSD (the mount's data and metadata I/O), the MDS and the mgr at least.
    assert.ok(v2.size >= 3, `sessions with ${[...v2.keys()].join(' ')}`);
    for (const [peer, modes] of v2) assert.deepEqual([...modes], ['secure'], peer);
  });

  test('the caller cannot weaken the security settings', () => {
    const opts = secureConnectOptions({
      monHost: site.monHost,
      clientId: 'admin',
      key: site.adminKey,
      conf: { auth_client_required: 'cephx, none', ms_client_mode: 'crc', client_cache_size: '8' },
    });
    assert.equal(opts.conf?.['auth_client_required'], 'cephx');
    assert.equal(opts.conf?.['ms_client_mode'], 'secure');
    assert.equal(opts.conf?.['client_cache_size'], '8');
  });

  test('a v1-only mon_host is refused before anything is sent', async () => {
    // A listener standing in for the monitor: the refusal must come before any connection.
    let connections = 0;
    const server: Server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      for (const monHost of [
        `v1:127.0.0.1:${port}`,
        `[v1:127.0.0.1:${port},v2:127.0.0.1:${port}]`,
      ]) {
        await assert.rejects(
          connectSecure({ monHost, clientId: 'admin', key: site.adminKey, timeoutMs: 5_000 }),
          (e: unknown) => {
            assert.ok(e instanceof InsecureMonHostError, String(e));
            assert.equal(e.reason, 'InsecureMonHost');
            assert.equal(e.transport, 'v1');
            assert.match(e.message, /monitor 1 is reachable only over the unencrypted v1 protocol/);
            assert.ok(!e.message.includes(String(port)), 'the message does not quote the value');
            return true;
          },
        );
      }
      // No port (Ceph adds a v1:6789 candidate) and an untyped non-IANA port: v1 possible.
      for (const monHost of ['127.0.0.1', `127.0.0.1:${port}`]) {
        await assert.rejects(
          connectSecure({ monHost, clientId: 'admin', key: site.adminKey, timeoutMs: 5_000 }),
          (e: unknown) => e instanceof InsecureMonHostError && e.transport === 'v1-possible',
        );
      }
      await assert.rejects(
        connectSecure({ monHost: 'v2:mon:3300', clientId: 'admin', key: 'x', timeoutMs: 5_000 }),
        (e: unknown) => e instanceof MonHostParseError && e.reason === 'InvalidMonHost',
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal(connections, 0, 'nothing connected to the v1 endpoint');
  });

  test('with allowInsecureV1 a v1-only mon_host is used; later sessions are still secure', async () => {
    // librados fetches the monmap and config over the mon_host it is given (here msgr1, cephx
    // and signed but not encrypted), then opens its sessions from the real monmap: v2, secure.
    const rados = await connectSecure({
      monHost: v1Address(),
      clientId: 'admin',
      key: site.adminKey,
      timeoutMs: 30_000,
      allowInsecureV1: true,
      conf: debugConf('v1'),
    });
    try {
      assert.equal(await rados.fsid(), site.fsid);
    } finally {
      await rados.shutdown();
    }
    const { v2 } = sessions('v1');
    assert.ok(v2.size >= 1);
    for (const [peer, modes] of v2) assert.deepEqual([...modes], ['secure'], peer);
  });

  test('a ceph.conf naming only a v1 monitor is refused right after connecting', async () => {
    const { writeFileSync } = await import('node:fs');
    const confPath = join(logDir, 'v1-only.conf');
    writeFileSync(confPath, `[global]\nmon_host = ${v1Address()}\nkeyring = ${site.keyringPath}\n`);
    await assert.rejects(
      connectSecure({ confPath, clientId: 'admin', timeoutMs: 30_000 }),
      (e: unknown) => e instanceof InsecureMonHostError && e.transport === 'v1',
    );
  });
});
