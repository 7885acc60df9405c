import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatMonHost, MonHostParseError, parseMonHost } from '../../../src/ceph/mon-host.js';

describe('parseMonHost', () => {
  it('reads addrvecs as the lab and cephadm write them', () => {
    assert.deepStrictEqual(parseMonHost('[v2:127.0.0.1:22131,v1:127.0.0.1:22132]'), [
      [
        { type: 'v2', host: '127.0.0.1', port: 22131 },
        { type: 'v1', host: '127.0.0.1', port: 22132 },
      ],
    ]);
    assert.deepStrictEqual(
      parseMonHost(
        '[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0] [v2:10.0.0.2:3300/0,v1:10.0.0.2:6789/0]',
      ).map((m) => m.map((a) => `${a.type}:${a.host}:${a.port}`)),
      [
        ['v2:10.0.0.1:3300', 'v1:10.0.0.1:6789'],
        ['v2:10.0.0.2:3300', 'v1:10.0.0.2:6789'],
      ],
    );
  });

  it('reads plain lists with any separator, with or without ports', () => {
    const expected = [
      [{ host: '10.0.0.1', port: 6789 }],
      [{ host: '10.0.0.2' }],
      [{ host: '10.0.0.3', port: 3300 }],
    ];
    assert.deepStrictEqual(parseMonHost('10.0.0.1:6789,10.0.0.2,10.0.0.3:3300'), expected);
    assert.deepStrictEqual(parseMonHost('10.0.0.1:6789 10.0.0.2  10.0.0.3:3300\n'), expected);
    assert.deepStrictEqual(parseMonHost('10.0.0.1:6789; 10.0.0.2;10.0.0.3:3300'), expected);
  });

  it('reads IPv6 and DNS names', () => {
    assert.deepStrictEqual(parseMonHost('[::1]:6789'), [[{ host: '::1', port: 6789 }]]);
    assert.deepStrictEqual(parseMonHost('[v2:[fd00::1]:3300,v1:[fd00::1]:6789]'), [
      [
        { type: 'v2', host: 'fd00::1', port: 3300 },
        { type: 'v1', host: 'fd00::1', port: 6789 },
      ],
    ]);
    assert.deepStrictEqual(parseMonHost('fd00::2'), [[{ host: 'fd00::2' }]]);
    assert.deepStrictEqual(parseMonHost('mon-a.example.com:6789,mon-b'), [
      [{ host: 'mon-a.example.com', port: 6789 }],
      [{ host: 'mon-b' }],
    ]);
  });

  const bad: [string, string, RegExp][] = [
    ['empty', '', /no monitor/],
    ['only separators', ' , ; ', /no monitor/],
    ['port out of range', '10.0.0.1:70000', /monitor 1: invalid port/],
    ['port zero', '10.0.0.1:0', /invalid port/],
    ['non-numeric port', '10.0.0.1:abc', /invalid port/],
    ['bad IPv4', '10.0.0.256:6789', /invalid IPv4/],
    ['unbalanced addrvec', '[v2:10.0.0.1:3300,v1:10.0.0.1:6789', /unbalanced/],
    ['empty addrvec entry', '[v2:10.0.0.1:3300,]', /address 2: empty/],
    ['typed host name', 'v2:mon-a:3300', /needs an IP/],
    ['garbage', 'not a host!', /monitor 3: invalid host name/],
    ['bracketed non-IPv6', '[foo]:6789', /not an IPv6/],
    ['text after group', '[v2:10.0.0.1:3300]x', /after "\]"/],
    ['bad nonce', '10.0.0.1:6789/x', /nonce/],
  ];
  for (const [name, text, message] of bad) {
    it(`refuses ${name}`, () => {
      assert.throws(
        () => parseMonHost(text),
        (e: unknown) =>
          e instanceof MonHostParseError &&
          message.test(e.message) &&
          e.reason === 'InvalidMonHost',
      );
    });
  }
});

describe('formatMonHost', () => {
  it('round-trips the canonical forms', () => {
    for (const text of [
      '[v2:127.0.0.1:3300,v1:127.0.0.1:6789],[v2:[::1]:3300,v1:[::1]:6789]',
      '10.0.0.1:6789,mon-b',
    ]) {
      assert.equal(formatMonHost(parseMonHost(text)), text);
    }
  });
});
