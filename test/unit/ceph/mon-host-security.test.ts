// Which protocol Ceph's client will speak to each monitor of a mon_host, and the refusal of
// anything that may fall back to the unencrypted v1 protocol.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InsecureMonHostError,
  MAX_MON_HOST_LENGTH,
  MonHostParseError,
  monitorTransport,
  parseMonHost,
  parseSecureMonHost,
} from '../../../src/ceph/mon-host.js';

function transports(text: string): string[] {
  return parseMonHost(text).map(monitorTransport);
}

describe('monitorTransport', () => {
  it('groups: the first typed v1/v2 address is the one dialled', () => {
    assert.deepEqual(transports('[v2:10.0.0.1:3300,v1:10.0.0.1:6789]'), ['v2']);
    assert.deepEqual(transports('[v1:10.0.0.1:6789,v2:10.0.0.1:3300]'), ['v1']);
    assert.deepEqual(transports('[v2:[fd00::1]:3300,v1:[fd00::1]:6789]'), ['v2']);
    assert.deepEqual(transports('[any:10.0.0.1:3300,v2:10.0.0.1:3300]'), ['v2']);
    assert.deepEqual(transports('[any:10.0.0.1:3300,any:10.0.0.2:3300]'), ['v1-possible']);
  });

  it('single addresses: typed, or inferred from the IANA (3300) and legacy (6789) ports', () => {
    assert.deepEqual(transports('v2:10.0.0.1:3300 v2:10.0.0.2:4000'), ['v2', 'v2']);
    assert.deepEqual(transports('v1:10.0.0.1:6789'), ['v1']);
    assert.deepEqual(transports('10.0.0.1:3300,mon-b.example.com:3300,[::1]:3300'), [
      'v2',
      'v2',
      'v2',
    ]);
    assert.deepEqual(transports('10.0.0.1:6789'), ['v1']);
    // No port: Ceph adds both v2:3300 and v1:6789; another port: Ceph may try v1 on it.
    assert.deepEqual(transports('10.0.0.1,10.0.0.2:4000,any:10.0.0.3:3300'), [
      'v1-possible',
      'v1-possible',
      'v1-possible',
    ]);
  });
});

describe('parseSecureMonHost', () => {
  it('accepts v2-first monitors, as the lab, cephadm and Rook write them', () => {
    assert.equal(parseSecureMonHost('[v2:127.0.0.1:22131,v1:127.0.0.1:22132]', false).length, 1);
    assert.equal(
      parseSecureMonHost('[v2:10.0.0.1:3300,v1:10.0.0.1:6789],[v2:10.0.0.2:3300]', false).length,
      2,
    );
    assert.equal(parseSecureMonHost('mon-a.example.com:3300,mon-b:3300', false).length, 2);
  });

  it('refuses a mon_host with any monitor reachable over v1, naming the monitor, not the value', () => {
    const cases: [string, number, string][] = [
      ['v1:10.9.8.7:6789', 1, 'v1'],
      ['[v2:10.0.0.1:3300],10.9.8.7:6789', 2, 'v1'],
      ['[v2:10.0.0.1:3300],[v2:10.0.0.2:3300],10.9.8.7', 3, 'v1-possible'],
      ['[v1:10.9.8.7:6789,v2:10.9.8.7:3300]', 1, 'v1'],
    ];
    for (const [text, monitor, transport] of cases) {
      assert.throws(
        () => parseSecureMonHost(text, false),
        (e: unknown) => {
          assert.ok(e instanceof InsecureMonHostError);
          assert.equal(e.reason, 'InsecureMonHost');
          assert.equal(e.errno, 22);
          assert.equal(e.monitor, monitor);
          assert.equal(e.transport, transport);
          assert.match(e.message, new RegExp(`monitor ${monitor} `));
          assert.match(e.message, /allowInsecureV1/);
          assert.ok(!e.message.includes('10.9.8.7'));
          return true;
        },
        text,
      );
      assert.doesNotThrow(() => parseSecureMonHost(text, true));
    }
  });

  it('refuses mon_host values longer than the limit, and malformed ones, whatever allowInsecureV1', () => {
    const long = Array.from({ length: 400 }, (_, i) => `10.0.${i % 250}.1:3300`).join(',');
    assert.ok(long.length > MAX_MON_HOST_LENGTH);
    for (const allow of [false, true]) {
      assert.throws(
        () => parseSecureMonHost(long, allow),
        (e: unknown) =>
          e instanceof MonHostParseError &&
          e.reason === 'InvalidMonHost' &&
          /characters long \(at most 4096\)/.test(e.message),
      );
      assert.throws(
        () => parseSecureMonHost('10.0.0.1:3300\u0000', allow),
        (e: unknown) => e instanceof MonHostParseError,
      );
    }
  });
});
