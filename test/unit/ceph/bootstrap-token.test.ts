import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  BootstrapTokenError,
  decodeBootstrapToken,
  encodeBootstrapToken,
  peerCredentialsJson,
  peerSpecOf,
  type BootstrapToken,
  type BootstrapTokenProblem,
} from '../../../src/ceph/bootstrap-token.js';
import { havePython, runPython } from './python.js';

// A random cephx-shaped key (ceph-authtool --gen-print-key); not used by any cluster.
const KEY = 'AQCIigdrAI74EhAA/RAdkSkR4Uzd8dLBg79p+w==';
const TOKEN: BootstrapToken = {
  fsid: '12284e80-ea34-4d41-b2fb-7e0aeabe56e3',
  filesystem: 'b',
  user: 'client.mirror_remote',
  siteName: 'site-b',
  key: KEY,
  monHost: '[v2:127.0.0.1:28534,v1:127.0.0.1:28535]',
};
const JSON_FIELDS = {
  fsid: TOKEN.fsid,
  filesystem: TOKEN.filesystem,
  user: TOKEN.user,
  site_name: TOKEN.siteName,
  key: KEY,
  mon_host: TOKEN.monHost,
};
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const tokenOf = (fields: unknown): string => b64(JSON.stringify(fields));

function assertRefused(
  token: string,
  problem: BootstrapTokenProblem,
  message: RegExp,
  field?: string,
): void {
  assert.throws(
    () => decodeBootstrapToken(token),
    (e: unknown) => {
      assert.ok(e instanceof BootstrapTokenError, String(e));
      assert.equal(e.problem, problem);
      assert.equal(e.field, field);
      assert.match(e.message, message);
      assert.equal(e.code, 'EINVAL');
      assert.equal(e.reason, 'InvalidBootstrapToken');
      // Never leak the secret or the token, in any form the error can be printed or serialised.
      const shown = [
        e.message,
        String(e),
        e.stack ?? '',
        JSON.stringify(e),
        String(e.cause ?? ''),
      ].join('\n');
      assert.ok(!shown.includes(KEY), 'key leaked');
      if (token.length > 8) assert.ok(!shown.includes(token.trim().slice(0, 24)), 'token leaked');
      return true;
    },
  );
}

describe('bootstrap tokens', () => {
  it('decode what encode produces', () => {
    assert.deepStrictEqual(decodeBootstrapToken(encodeBootstrapToken(TOKEN)), TOKEN);
  });

  it('encode like the mgr module (Python json.dumps, base64)', () => {
    const json = Buffer.from(encodeBootstrapToken(TOKEN), 'base64').toString('utf8');
    assert.equal(
      json,
      `{"fsid": "${TOKEN.fsid}", "filesystem": "b", "user": "client.mirror_remote", "site_name": "site-b", ` +
        `"key": "${KEY}", "mon_host": "[v2:127.0.0.1:28534,v1:127.0.0.1:28535]"}`,
    );
  });

  it('accept whitespace around and inside the base64, and extra fields', () => {
    const token = encodeBootstrapToken(TOKEN);
    const wrapped = `  ${token.slice(0, 40)}\n${token.slice(40)}\n`;
    assert.deepStrictEqual(decodeBootstrapToken(wrapped), TOKEN);
    assert.deepStrictEqual(decodeBootstrapToken(tokenOf({ ...JSON_FIELDS, extra: 1 })), TOKEN);
  });

  it('lowercase the fsid', () => {
    assert.equal(
      decodeBootstrapToken(tokenOf({ ...JSON_FIELDS, fsid: TOKEN.fsid.toUpperCase() })).fsid,
      TOKEN.fsid,
    );
  });

  it('give the peer spec and the config-key credentials the mgr module stores', () => {
    assert.equal(peerSpecOf(TOKEN), 'client.mirror_remote@site-b');
    assert.equal(
      peerCredentialsJson(TOKEN),
      `{"fsid": "${TOKEN.fsid}", "key": "${KEY}", "mon_host": "${TOKEN.monHost}"}`,
    );
  });

  describe('refuse, saying what is wrong and never showing the key', () => {
    it('not base64', () => assertRefused('not base64 at all!', 'NotBase64', /not base64/));
    it('empty', () => assertRefused('  \n', 'NotBase64', /not base64/));
    it('bad padding', () =>
      assertRefused(tokenOf(JSON_FIELDS).replace(/=+$/, '') + '=', 'NotBase64', /not base64/));
    it('not JSON', () => assertRefused(b64(`{"key": "${KEY}", oops`), 'NotJson', /not JSON/));
    it('not UTF-8', () =>
      assertRefused(
        Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64'),
        'NotJson',
        /not JSON/,
      ));
    it('not an object', () => assertRefused(tokenOf([KEY]), 'NotObject', /not a JSON object/));
    it('null', () => assertRefused(tokenOf(null), 'NotObject', /not a JSON object/));
    for (const field of ['fsid', 'filesystem', 'user', 'site_name', 'key', 'mon_host']) {
      it(`missing ${field}`, () => {
        const fields = Object.fromEntries(Object.entries(JSON_FIELDS).filter(([k]) => k !== field));
        assertRefused(
          tokenOf(fields),
          'MissingField',
          new RegExp(`missing field "${field}"`),
          field,
        );
      });
      it(`${field} not a string`, () =>
        assertRefused(
          tokenOf({ ...JSON_FIELDS, [field]: 42 }),
          'FieldNotString',
          /is not a string/,
          field,
        ));
      it(`${field} empty`, () =>
        assertRefused(tokenOf({ ...JSON_FIELDS, [field]: ' ' }), 'FieldEmpty', /is empty/, field));
    }
    it('fsid not a UUID', () =>
      assertRefused(
        tokenOf({ ...JSON_FIELDS, fsid: 'site-b' }),
        'InvalidFsid',
        /fsid is not a UUID/,
        'fsid',
      ));
    for (const user of ['mirror', 'client.', 'client.a.b', 'client.a@b', 'osd.1', 'client.a b']) {
      it(`user ${JSON.stringify(user)}`, () =>
        assertRefused(tokenOf({ ...JSON_FIELDS, user }), 'InvalidUser', /client\.<id>/, 'user'));
    }
    it('site_name with "@"', () =>
      assertRefused(
        tokenOf({ ...JSON_FIELDS, site_name: 'a@b' }),
        'InvalidSiteName',
        /site_name/,
        'site_name',
      ));
    it('filesystem with "/"', () =>
      assertRefused(
        tokenOf({ ...JSON_FIELDS, filesystem: 'a/b' }),
        'InvalidFilesystem',
        /filesystem/,
        'filesystem',
      ));
    it('key not base64', () =>
      assertRefused(
        tokenOf({ ...JSON_FIELDS, key: `${KEY.slice(0, 20)}!!` }),
        'InvalidKey',
        /not a cephx key/,
        'key',
      ));
    it('key of the wrong length', () =>
      assertRefused(
        tokenOf({ ...JSON_FIELDS, key: b64('short') }),
        'InvalidKey',
        /not a cephx key/,
        'key',
      ));
    for (const monHost of ['[v2:127.0.0.1:3300', '127.0.0.1:99999', 'v2:mon-a:3300', '[bad]:1']) {
      it(`mon_host ${JSON.stringify(monHost)}`, () =>
        assertRefused(
          tokenOf({ ...JSON_FIELDS, mon_host: monHost }),
          'InvalidMonHost',
          /mon_host is not a monitor address list \(monitor 1/,
          'mon_host',
        ));
    }
  });

  it('refuse to encode invalid tokens', () => {
    assert.throws(() => encodeBootstrapToken({ ...TOKEN, user: 'mirror' }), BootstrapTokenError);
    assert.throws(() => encodeBootstrapToken({ ...TOKEN, key: '' }), BootstrapTokenError);
  });
});

describe(
  'bootstrap tokens against Python',
  { skip: havePython ? false : 'python3 not available' },
  () => {
    it('match what the mgr module writes (json.dumps + b64encode), including non-ASCII', () => {
      const token = { ...TOKEN, siteName: 'sité-ü-データ', filesystem: 'fs\u007f😀' };
      const program = `
import base64, json, sys
d = json.load(sys.stdin)
print(json.dumps({'token': base64.b64encode(json.dumps(d).encode('utf-8')).decode('utf-8')}))
`;
      const fromPython = runPython<{ token: string }>(program, {
        fsid: token.fsid,
        filesystem: token.filesystem,
        user: token.user,
        site_name: token.siteName,
        key: token.key,
        mon_host: token.monHost,
      });
      assert.equal(encodeBootstrapToken(token), fromPython.token);
      assert.deepStrictEqual(decodeBootstrapToken(fromPython.token), token);
    });

    it('are read by the mgr module’s import code (b64decode + json.loads)', () => {
      const program = `
import base64, json, sys
t = json.load(sys.stdin)
d = json.loads(base64.b64decode(t).decode('utf-8'))
print(json.dumps({'spec': d.pop('user') + '@' + d.pop('site_name'), 'fs': d.pop('filesystem'), 'conf': d}))
`;
      const r = runPython<{ spec: string; fs: string; conf: Record<string, string> }>(
        program,
        encodeBootstrapToken(TOKEN),
      );
      assert.equal(r.spec, peerSpecOf(TOKEN));
      assert.equal(r.fs, 'b');
      assert.deepStrictEqual(r.conf, JSON.parse(peerCredentialsJson(TOKEN)));
    });
  },
);
