// The quick path of decodeDirMapRecord (the layout the module and this codec write) must read
// exactly what the general pickle decoder reads, and leave everything else to it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  decodeDirMapRecord,
  decodeDirMapRecordQuick,
  encodeDirMapRecord,
  type DirMapRecord,
} from '../../../src/ceph/dir-map-codec.js';
import { decodePickle, type PickleValue } from '../../../src/ceph/pickle/index.js';
import { loadVectors } from './pickle-fixtures.js';

// Written by Python 3.11 `pickle.dumps(record, protocol=p)`.
const QUICK: Array<[string, string, DirMapRecord]> = [
  [
    'doc-example',
    '8004953f000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0434313233948c0d6c6173745f73687566666c6564944741d954fc40200000752e',
    { version: 1, instanceId: '4123', lastShuffled: 1700000000.5 },
  ],
  [
    'empty-id',
    '8004953b000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c00948c0d6c6173745f73687566666c656494470000000000000000752e',
    { version: 1, instanceId: '', lastShuffled: 0.0 },
  ],
  [
    'long-id',
    '8004954f000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c143138343436373434303733373039353531363135948c0d6c6173745f73687566666c6564944741d9d1325487e6b7752e',
    { version: 1, instanceId: '18446744073709551615', lastShuffled: 1732561234.1234567 },
  ],
  [
    'purging',
    '8004954b000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0434313233948c0d6c6173745f73687566666c6564944741d954fc402000008c0770757267696e67944b01752e',
    { version: 1, instanceId: '4123', lastShuffled: 1700000000.5, purging: true },
  ],
  [
    'purging-empty',
    '80049547000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c00948c0d6c6173745f73687566666c6564944700000000000000008c0770757267696e67944b01752e',
    { version: 1, instanceId: '', lastShuffled: 0.0, purging: true },
  ],
  [
    'negative-time',
    '8004953c000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0137948c0d6c6173745f73687566666c65649447bff8000000000000752e',
    { version: 1, instanceId: '7', lastShuffled: -1.5 },
  ],
  [
    'huge-time',
    '8004953c000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0137948c0d6c6173745f73687566666c656494477fe1ccf385ebc8a0752e',
    { version: 1, instanceId: '7', lastShuffled: 1e308 },
  ],
  [
    'protocol-5',
    '80059540000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c053134323335948c0d6c6173745f73687566666c656494474028800000000000752e',
    { version: 1, instanceId: '14235', lastShuffled: 12.25 },
  ],
  [
    'protocol-5-purging',
    '8005954c000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c053134323335948c0d6c6173745f73687566666c6564944740288000000000008c0770757267696e67944b01752e',
    { version: 1, instanceId: '14235', lastShuffled: 12.25, purging: true },
  ],
];

// Readable (or refused) only by the general decoder: other protocols, other types, other values.
const GENERAL: Array<[string, string]> = [
  [
    'protocol-2',
    '80027d710028580700000076657273696f6e71014b01580b000000696e7374616e63655f696471025804000000343132337103580d0000006c6173745f73687566666c65647104473ff8000000000000752e',
  ],
  [
    'protocol-3',
    '80037d710028580700000076657273696f6e71014b01580b000000696e7374616e63655f696471025804000000343132337103580d0000006c6173745f73687566666c65647104473ff8000000000000752e',
  ],
  [
    'non-digit-id',
    '8004953e000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c03616263948c0d6c6173745f73687566666c656494473ff8000000000000752e',
  ],
  [
    'int-time',
    '8004953b000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0434313233948c0d6c6173745f73687566666c6564944a00f15365752e',
  ],
  [
    'none-id',
    '80049539000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964944e8c0d6c6173745f73687566666c656494470000000000000000752e',
  ],
  [
    'none-time',
    '80049533000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c00948c0d6c6173745f73687566666c6564944e752e',
  ],
  [
    'purging-zero',
    '8004954b000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0434313233948c0d6c6173745f73687566666c656494473ff80000000000008c0770757267696e67944b00752e',
  ],
  [
    'purging-true',
    '8004954a000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0434313233948c0d6c6173745f73687566666c656494473ff80000000000008c0770757267696e679488752e',
  ],
  [
    'purging-two',
    '8004954b000000000000007d94288c0776657273696f6e944b018c0b696e7374616e63655f6964948c0434313233948c0d6c6173745f73687566666c656494473ff80000000000008c0770757267696e67944b02752e',
  ],
];

/** The general decoder's reading of `bytes`, as the record the quick path claims it holds. */
function expectedDict(r: DirMapRecord): Map<string, PickleValue> {
  const d = new Map<string, PickleValue>([
    ['version', 1n],
    ['instance_id', r.instanceId],
    ['last_shuffled', r.lastShuffled],
  ]);
  if (r.purging) d.set('purging', 1n);
  return d;
}

describe('dir-map record quick path', () => {
  for (const [name, hex, want] of QUICK) {
    it(`reads Python's ${name} like the general decoder`, () => {
      const bytes = Buffer.from(hex, 'hex');
      assert.deepEqual(decodeDirMapRecordQuick(bytes), want);
      assert.deepEqual(decodePickle(bytes), expectedDict(want));
      assert.deepEqual(decodeDirMapRecord('dir_map_/d', bytes), want);
    });
  }

  for (const [name, hex] of GENERAL) {
    it(`leaves Python's ${name} to the general decoder`, () => {
      assert.equal(decodeDirMapRecordQuick(Buffer.from(hex, 'hex')), undefined);
    });
  }

  it('reads every record this codec writes', () => {
    const records: DirMapRecord[] = [
      { version: 1, instanceId: '', lastShuffled: 0 },
      { version: 1, instanceId: '4123', lastShuffled: 1700000000.5 },
      { version: 1, instanceId: '99999999999', lastShuffled: 1732561234.1234567, purging: true },
      { version: 1, instanceId: '', lastShuffled: 0, purging: true },
    ];
    for (const r of records) assert.deepEqual(decodeDirMapRecordQuick(encodeDirMapRecord(r)), r);
  });

  it('agrees with the general decoder on every fixture vector it accepts', () => {
    for (const v of loadVectors().accepted) {
      const bytes = Buffer.from(v.hex, 'hex');
      const quick = decodeDirMapRecordQuick(bytes);
      if (quick) assert.deepEqual(decodePickle(bytes), expectedDict(quick), v.name);
    }
  });

  it('never reads a corrupted record differently from the general decoder', () => {
    // Every single-byte change of each Python record, to a few values: what the quick path still
    // accepts, the general decoder must read as the same dict.
    let accepted = 0;
    for (const [, hex] of QUICK) {
      const good = Buffer.from(hex, 'hex');
      for (let i = 0; i < good.length; i++) {
        for (const b of [0x00, 0x01, 0x30, 0x39, 0x3a, 0x75, 0x94, 0xff, (good[i] as number) ^ 1]) {
          const bytes = Buffer.from(good);
          bytes[i] = b;
          const quick = decodeDirMapRecordQuick(bytes);
          if (!quick) continue;
          accepted++;
          assert.deepEqual(decodePickle(bytes), expectedDict(quick), `byte ${i} = ${b}`);
        }
      }
      // Truncated and extended records are never taken.
      for (let len = 0; len < good.length; len++) {
        assert.equal(decodeDirMapRecordQuick(good.subarray(0, len)), undefined);
      }
      assert.equal(decodeDirMapRecordQuick(Buffer.concat([good, Buffer.from([0x2e])])), undefined);
    }
    // Changed digits of the id and of the float stay on the quick path.
    assert.ok(accepted > 0);
  });

  it('reads a record inside a larger buffer (an omap page) at its offset', () => {
    const r: DirMapRecord = { version: 1, instanceId: '4123', lastShuffled: 1700000000.5 };
    const page = Buffer.concat([Buffer.from([1, 2, 3]), encodeDirMapRecord(r), Buffer.from([4])]);
    const slice = page.subarray(3, page.length - 1);
    assert.deepEqual(decodeDirMapRecordQuick(slice), r);
  });
});
