// Hostile bootstrap tokens: oversized, deeply nested, not an object, fields of the wrong type or
// absurd length. Each is refused with one precise problem, quickly, without echoing the token.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BootstrapTokenError,
  checkBootstrapClientName,
  decodeBootstrapToken,
  MAX_TOKEN_LENGTH,
  type BootstrapTokenProblem,
} from '../../../src/ceph/bootstrap-token.js';
import { CephOpError } from '../../../src/ceph/errors.js';

// A random cephx-shaped key (ceph-authtool --gen-print-key); not used by any cluster.
const KEY = 'AQCIigdrAI74EhAA/RAdkSkR4Uzd8dLBg79p+w==';
const FIELDS = {
  fsid: '12284e80-ea34-4d41-b2fb-7e0aeabe56e3',
  filesystem: 'b',
  user: 'client.mirror_remote',
  site_name: 'site-b',
  key: KEY,
  mon_host: '[v2:127.0.0.1:28534,v1:127.0.0.1:28535]',
};
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const tokenOf = (fields: unknown): string => b64(JSON.stringify(fields));

function refused(token: string, problem: BootstrapTokenProblem, message: RegExp, field?: string) {
  assert.throws(
    () => decodeBootstrapToken(token),
    (e: unknown) => {
      assert.ok(e instanceof BootstrapTokenError, String(e));
      assert.equal(e.problem, problem);
      assert.equal(e.field, field);
      assert.equal(e.reason, 'InvalidBootstrapToken');
      assert.match(e.message, message);
      assert.ok(e.message.length < 200, e.message);
      assert.ok(!e.message.includes(KEY));
      return true;
    },
  );
}

describe('hostile bootstrap tokens', () => {
  it('refuses a 1 MiB token before decoding it', () => {
    const huge = 'A'.repeat(1024 * 1024);
    refused(huge, 'TooLarge', /1048576 characters long \(at most 65536\)/);
    // A valid token padded with whitespace past the limit is refused as well.
    refused(tokenOf(FIELDS) + ' '.repeat(MAX_TOKEN_LENGTH), 'TooLarge', /at most 65536/);
  });

  it('accepts a token just under the limit (long extra field ignored)', () => {
    const padded = { ...FIELDS, padding: 'x'.repeat(40_000) };
    const token = tokenOf(padded);
    assert.ok(token.length < MAX_TOKEN_LENGTH);
    assert.equal(decodeBootstrapToken(token).user, 'client.mirror_remote');
  });

  it('refuses deeply nested JSON with a precise message, inside the size limit', () => {
    const depth = 20_000;
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    assert.ok(b64(nested).length < MAX_TOKEN_LENGTH);
    refused(b64(nested), 'TooDeep', /nests JSON more than 4 levels deep/);
    refused(
      tokenOf({ ...FIELDS, extra: { a: { b: { c: { d: 1 } } } } }),
      'TooDeep',
      /more than 4 levels/,
    );
  });

  it('does not count brackets inside strings as nesting', () => {
    const fields = { ...FIELDS, note: '[[[[[[{{{{{{ "\\" ]]' };
    assert.equal(decodeBootstrapToken(tokenOf(fields)).siteName, 'site-b');
  });

  it('refuses JSON that is not an object', () => {
    for (const value of [[FIELDS], 'a string', 42, null, true]) {
      refused(tokenOf(value), 'NotObject', /not a JSON object/);
    }
  });

  it('refuses fields that are not strings, naming the field', () => {
    for (const bad of [42, null, true, ['x'], { k: 'v' }]) {
      refused(
        tokenOf({ ...FIELDS, key: bad }),
        'FieldNotString',
        /field "key" is not a string/,
        'key',
      );
      refused(
        tokenOf({ ...FIELDS, mon_host: bad }),
        'FieldNotString',
        /field "mon_host" is not a string/,
        'mon_host',
      );
    }
  });

  it('refuses name fields longer than 255 characters', () => {
    refused(
      tokenOf({ ...FIELDS, site_name: 's'.repeat(256) }),
      'FieldTooLong',
      /field "site_name" is 256 characters long \(at most 255\)/,
      'site_name',
    );
    refused(
      tokenOf({ ...FIELDS, filesystem: 'f'.repeat(1000) }),
      'FieldTooLong',
      /"filesystem" is 1000/,
      'filesystem',
    );
  });

  it('refuses an overlong or control-character mon_host through the one mon_host parser', () => {
    const long = Array.from({ length: 400 }, (_, i) => `10.0.${i % 250}.1:3300`).join(',');
    refused(
      tokenOf({ ...FIELDS, mon_host: long }),
      'InvalidMonHost',
      /characters long \(at most 4096\)/,
      'mon_host',
    );
    refused(
      tokenOf({ ...FIELDS, mon_host: '10.0.0.1:3300\u0000' }),
      'InvalidMonHost',
      /mon_host/,
      'mon_host',
    );
  });

  it('refuses decoded bytes that are not UTF-8', () => {
    refused(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'), 'NotJson', /not UTF-8/);
  });
});

describe('bootstrap client names', () => {
  it('only client.mirror_<id> users are created for tokens', () => {
    for (const ok of ['client.mirror_remote', 'client.mirror_b-2', 'client.mirror_x_y']) {
      assert.doesNotThrow(() => checkBootstrapClientName(ok), ok);
    }
    for (const bad of [
      'client.admin',
      'client.mirror_',
      'client.mirror_a.b',
      'client.mirror_a@b',
      'mirror_remote',
      'client.mirror_a\nb',
      `client.mirror_${'x'.repeat(300)}`,
      'client.mirrorx',
    ]) {
      assert.throws(
        () => checkBootstrapClientName(bad),
        (e: unknown) =>
          e instanceof CephOpError &&
          e.reason === 'InvalidClientName' &&
          e.errno === 22 &&
          /not of the form client\.mirror_<id>/.test(e.message) &&
          !/\n/.test(e.message) &&
          e.message.length < 250,
        bad,
      );
    }
  });
});
