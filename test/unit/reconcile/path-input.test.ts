// Hostile directory paths: each is refused with InvalidPath before it can become a dir-map key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DirectoryError, normalizeDirectoryPath } from '../../../src/reconcile/index.js';
import { MAX_COMPONENT_BYTES, MAX_PATH_BYTES } from '../../../src/reconcile/paths.js';

function refused(input: string, message: RegExp): void {
  assert.throws(
    () => normalizeDirectoryPath(input),
    (e: unknown) => {
      assert.ok(e instanceof DirectoryError, String(e));
      assert.equal(e.reason, 'InvalidPath');
      assert.equal(e.code, 'EINVAL');
      assert.match(e.message, message);
      // The message is bounded and carries no raw control character.
      assert.ok(e.message.length < 200, `message of ${e.message.length} characters`);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(e.message, /[\u0000-\u001f\u007f-\u009f]/);
      return true;
    },
  );
}

describe('normalizeDirectoryPath on hostile input', () => {
  it('refuses a NUL byte: /a\\0x is not another key than /a', () => {
    refused('/a\0x', /contains a NUL byte at offset 2/);
    refused('/\0', /NUL byte at offset 1/);
  });

  it('refuses every C0 control character, DEL and the C1 controls', () => {
    for (let c = 1; c < 0x20; c++) refused(`/a${String.fromCharCode(c)}b`, /control character/);
    refused('/a\u007fb', /U\+007F/);
    refused('/a\u0085b', /U\+0085/);
    refused('/a\u009fb', /U\+009F/);
    refused('/a\nb', /\(U\+000A\) at offset 2/);
  });

  it('refuses a control character even in a relative path (not echoed by RelativePath)', () => {
    refused('a\nb', /control character/);
  });

  it('refuses a lone surrogate', () => {
    refused('/a\ud800', /not valid Unicode/);
    refused('/\udc00b', /not valid Unicode/);
  });

  it('refuses paths longer than 4096 bytes, counted in UTF-8', () => {
    const parts = Array.from({ length: 50 }, () => 'x'.repeat(99));
    const long = '/' + parts.join('/'); // 5,000 bytes
    assert.equal(Buffer.byteLength(long), 5000);
    refused(long, /is 5000 bytes long \(at most 4096\)/);
    // 2,049 two-byte characters in components of 100: fewer than 4,096 characters, more bytes.
    const wide =
      '/' + Array.from({ length: 21 }, (_, i) => 'é'.repeat(i < 20 ? 100 : 48)).join('/');
    assert.ok(wide.length <= MAX_PATH_BYTES && Buffer.byteLength(wide) > MAX_PATH_BYTES);
    refused(wide, /bytes long \(at most 4096\)/);
  });

  it('accepts exactly 4096 bytes and components of exactly 255 bytes', () => {
    const parts = Array.from({ length: 16 }, () => 'y'.repeat(255)); // 16 * 256 = 4096
    const max = '/' + parts.join('/');
    assert.equal(Buffer.byteLength(max), MAX_PATH_BYTES);
    assert.equal(normalizeDirectoryPath(max), max);
    // 85 three-byte characters: 255 bytes.
    assert.equal(normalizeDirectoryPath(`/${'€'.repeat(85)}`), `/${'€'.repeat(85)}`);
  });

  it('refuses a component of 256 bytes, also when it is made of multi-byte characters', () => {
    refused(`/ok/${'z'.repeat(MAX_COMPONENT_BYTES + 1)}`, /component 2 is 256 bytes long/);
    refused(`/${'ü'.repeat(128)}`, /component 1 is 256 bytes long \(at most 255\)/);
    // A too-long component is refused even when `..` would remove it.
    refused(`/${'z'.repeat(300)}/..`, /component 1 is 300 bytes/);
  });

  it('quotes at most a short escaped prefix of the path', () => {
    try {
      normalizeDirectoryPath(`/${'q'.repeat(300)}\u0001`);
      assert.fail('accepted');
    } catch (e) {
      assert.ok(e instanceof DirectoryError);
      assert.ok(e.message.includes('…'));
      assert.ok(!e.message.includes('q'.repeat(100)));
    }
  });

  it('still accepts ordinary Unicode names, spaces and punctuation', () => {
    for (const p of ['/ä/ü b', '/a-b_c.d', '/日本/語', '/emoji 🙂', "/it's/[x]"]) {
      assert.equal(normalizeDirectoryPath(p), p);
    }
  });
});
