// Property-based cross-check of the pickle codec against CPython's pickle module.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import {
  decodePickle,
  encodePickle,
  type PickleDict,
  type PickleValue,
} from '../../../src/ceph/pickle/index.js';
import { untag, type Tagged } from './pickle-fixtures.js';
import { havePython, PY_TAG, runPython } from './python.js';

// For each hex pickle: what CPython loads from it, and what CPython dumps for that value.
const ROUND_TRIP = `
import json, pickle, sys
${PY_TAG}
out = []
for h in json.load(sys.stdin):
    v = pickle.loads(bytes.fromhex(h))
    out.append({'value': tag(v), 'redump': pickle.dumps(v).hex()})
print(json.dumps(out))
`;

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 4 }),
  fc.string({ unit: 'binary', minLength: 200, maxLength: 300 }),
);
const pyInt = fc.oneof(
  fc.bigInt({ min: -300n, max: 70000n }),
  fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n }),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
);
const scalar: fc.Arbitrary<PickleValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  text,
  pyInt,
  fc.double(),
);
const flatDict = fc
  .uniqueArray(fc.tuple(text, scalar), { selector: ([k]) => k, maxLength: 8 })
  .map((entries) => new Map(entries) as PickleDict);
const nestedDict = fc
  .uniqueArray(fc.tuple(text, fc.oneof(scalar, flatDict)), { selector: ([k]) => k, maxLength: 6 })
  .map((entries) => new Map(entries) as PickleDict);
const dirMapValue = fc
  .record({
    instanceId: fc.oneof(fc.constant(''), fc.bigInt({ min: 1n, max: 2n ** 63n }).map(String), text),
    lastShuffled: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 4e9, noNaN: true })),
    purging: fc.boolean(),
  })
  .map(({ instanceId, lastShuffled, purging }) => {
    const d: PickleDict = new Map<string, PickleValue>([
      ['version', 1n],
      ['instance_id', instanceId],
      ['last_shuffled', lastShuffled],
    ]);
    if (purging) d.set('purging', 1n);
    return d;
  });

function checkAgainstPython(dicts: PickleDict[]): void {
  const encoded = dicts.map((d) => encodePickle(d).toString('hex'));
  const results = runPython<{ value: Tagged; redump: string }[]>(ROUND_TRIP, encoded);
  dicts.forEach((d, i) => {
    const r = results[i];
    assert.ok(r);
    // CPython reads back exactly the value we encoded ...
    assert.deepStrictEqual(untag(r.value), d);
    // ... and writes exactly the bytes we wrote ...
    assert.equal(r.redump, encoded[i]);
    // ... and we read CPython's bytes back to the same value.
    assert.deepStrictEqual(decodePickle(Buffer.from(r.redump, 'hex')), d);
  });
}

describe(
  'pickle codec against CPython',
  { skip: havePython ? false : 'python3 not available' },
  () => {
    it('dir-map shaped dicts round-trip byte-for-byte', () => {
      fc.assert(
        fc.property(fc.array(dirMapValue, { minLength: 1, maxLength: 40 }), checkAgainstPython),
        { numRuns: 8, endOnFailure: true },
      );
    });

    it('arbitrary dicts of str/int/float/bool/None (and nested dicts) round-trip byte-for-byte', () => {
      fc.assert(
        fc.property(fc.array(nestedDict, { minLength: 1, maxLength: 40 }), checkAgainstPython),
        { numRuns: 10, endOnFailure: true },
      );
    });

    it('decodes multi-frame pickles of large values', () => {
      const program = `
import json, pickle, sys
${PY_TAG}
v = {'a': 'x' * 70000, 'b': 1.5, 'c': '\\u00e9' * 40000, 'd': 7}
print(json.dumps({'hex': pickle.dumps(v).hex(), 'value': tag(v)}))
`;
      const r = runPython<{ hex: string; value: Tagged }>(program, null);
      const bytes = Buffer.from(r.hex, 'hex');
      assert.ok(bytes.length > 65536);
      assert.deepStrictEqual(decodePickle(bytes), untag(r.value));
    });
  },
);
