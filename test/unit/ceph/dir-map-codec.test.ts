import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  decodeDirMapRecord,
  decodeInstanceRecord,
  dirMapKey,
  encodeDirMapRecord,
  encodeInstanceRecord,
  instanceIdFromKey,
  instanceKey,
  instanceObjectName,
  MalformedOmapValueError,
  MIRROR_OBJECT_NAME,
  pathFromDirMapKey,
  type DirMapRecord,
} from '../../../src/ceph/dir-map-codec.js';
import { CephOpError } from '../../../src/ceph/errors.js';
import { encodePickle, type PickleValue } from '../../../src/ceph/pickle/index.js';
import { loadVectors } from './pickle-fixtures.js';

const vectors = new Map(loadVectors().accepted.map((v) => [v.name, Buffer.from(v.hex, 'hex')]));
function vector(name: string): Buffer {
  const v = vectors.get(name);
  assert.ok(v, `vector ${name}`);
  return v;
}

const pickled = (entries: [string, PickleValue][]): Buffer => encodePickle(new Map(entries));

describe('omap keys', () => {
  it('builds and splits keys like the mgr module', () => {
    assert.equal(dirMapKey('/d1'), 'dir_map_/d1');
    assert.equal(instanceKey('4123'), 'instance_4123');
    assert.equal(pathFromDirMapKey('dir_map_/a/b é'), '/a/b é');
    assert.equal(instanceIdFromKey('instance_4123'), '4123');
    assert.equal(instanceObjectName('4123'), 'cephfs_mirror.4123');
    assert.equal(MIRROR_OBJECT_NAME, 'cephfs_mirror');
  });

  it('refuses keys with the wrong prefix, naming the key', () => {
    assert.throws(() => pathFromDirMapKey('instance_1'), /"instance_1".*dir_map_/);
    assert.throws(() => instanceIdFromKey('dir_map_/x'), /"dir_map_\/x".*instance_/);
    assert.throws(() => instanceObjectName(''), CephOpError);
  });
});

describe('directory records', () => {
  const cases: [string, DirMapRecord][] = [
    ['doc-example', { version: 1, instanceId: '4123', lastShuffled: 1700000000.5 }],
    ['new-directory', { version: 1, instanceId: '', lastShuffled: 0 }],
    ['purging', { version: 1, instanceId: '4123', lastShuffled: 1700000000.5, purging: true }],
    ['purging-unmapped', { version: 1, instanceId: '', lastShuffled: 0, purging: true }],
    ['realistic-time', { version: 1, instanceId: '14235', lastShuffled: 1732561234.1234567 }],
    ['long-instance-id', { version: 1, instanceId: 'i'.repeat(300), lastShuffled: 1.5 }],
    [
      'non-ascii-instance-id',
      { version: 1, instanceId: 'répertoire/データ/😀', lastShuffled: 2.25 },
    ],
  ];
  for (const [name, record] of cases) {
    it(`${name}: encodes to CPython's bytes and decodes back`, () => {
      assert.equal(encodeDirMapRecord(record).toString('hex'), vector(name).toString('hex'));
      assert.deepStrictEqual(decodeDirMapRecord(dirMapKey('/d'), vector(name)), record);
    });
  }

  it('reads protocol 2/3/5 values too', () => {
    for (const name of ['doc-example-p2', 'doc-example-p3', 'doc-example-p5']) {
      assert.deepStrictEqual(decodeDirMapRecord('dir_map_/d', vector(name)), cases[0]?.[1]);
    }
  });

  it('reads the None fields the module writes when removing a stalled directory as unmapped', () => {
    assert.deepStrictEqual(decodeDirMapRecord('dir_map_/d', vector('purging-stalled-none')), {
      version: 1,
      instanceId: '',
      lastShuffled: 0,
      purging: true,
    });
  });

  it('treats purging like the module: truthy int or bool, absent/0/False/None means not purging', () => {
    const base: [string, PickleValue][] = [
      ['version', 1n],
      ['instance_id', '1'],
      ['last_shuffled', 5.5],
    ];
    assert.equal(decodeDirMapRecord('k', pickled([...base, ['purging', 1n]])).purging, true);
    assert.equal(decodeDirMapRecord('k', pickled([...base, ['purging', true]])).purging, true);
    for (const falsy of [0n, false, null] as PickleValue[]) {
      assert.equal(
        decodeDirMapRecord('k', pickled([...base, ['purging', falsy]])).purging,
        undefined,
      );
    }
  });

  it('accepts an int last_shuffled', () => {
    const r = decodeDirMapRecord(
      'k',
      pickled([
        ['version', 1n],
        ['instance_id', '1'],
        ['last_shuffled', 1700000000n],
      ]),
    );
    assert.equal(r.lastShuffled, 1700000000);
  });

  it('writes purging only when true, and false like absent', () => {
    const a = encodeDirMapRecord({ version: 1, instanceId: '1', lastShuffled: 2, purging: false });
    const b = encodeDirMapRecord({ version: 1, instanceId: '1', lastShuffled: 2 });
    assert.deepEqual(a, b);
  });

  const bad: [string, Buffer, RegExp][] = [
    ['not a pickle', Buffer.from('garbage'), /protocol/],
    ['a list', Buffer.from('80045d942e', 'hex'), /EMPTY_LIST/],
    [
      'missing key',
      pickled([
        ['version', 1n],
        ['instance_id', '1'],
      ]),
      /missing "last_shuffled"/,
    ],
    [
      'version 2',
      pickled([
        ['version', 2n],
        ['instance_id', '1'],
        ['last_shuffled', 1.0],
      ]),
      /unsupported version 2/,
    ],
    [
      'version float',
      pickled([
        ['version', 1.0],
        ['instance_id', '1'],
        ['last_shuffled', 1.0],
      ]),
      /"version" is float/,
    ],
    [
      'instance_id int',
      pickled([
        ['version', 1n],
        ['instance_id', 1n],
        ['last_shuffled', 1.0],
      ]),
      /"instance_id" is int/,
    ],
    [
      'last_shuffled str',
      pickled([
        ['version', 1n],
        ['instance_id', '1'],
        ['last_shuffled', 'x'],
      ]),
      /"last_shuffled" is str/,
    ],
    [
      'last_shuffled nan',
      pickled([
        ['version', 1n],
        ['instance_id', '1'],
        ['last_shuffled', NaN],
      ]),
      /finite/,
    ],
    [
      'purging str',
      pickled([
        ['version', 1n],
        ['instance_id', '1'],
        ['last_shuffled', 1.0],
        ['purging', 'yes'],
      ]),
      /"purging" is str/,
    ],
    [
      'unknown key',
      pickled([
        ['version', 1n],
        ['instance_id', '1'],
        ['last_shuffled', 1.0],
        ['extra', 1n],
      ]),
      /unexpected key "extra"/,
    ],
  ];
  for (const [name, value, message] of bad) {
    it(`refuses ${name}, naming the key`, () => {
      assert.throws(
        () => decodeDirMapRecord('dir_map_/some/dir', value),
        (e: unknown) =>
          e instanceof MalformedOmapValueError &&
          e.key === 'dir_map_/some/dir' &&
          e.message.includes('"dir_map_/some/dir"') &&
          message.test(e.message) &&
          e.code === 'EINVAL' &&
          e.reason === 'MalformedMirrorMap',
      );
    });
  }

  it('refuses to encode invalid records', () => {
    assert.throws(
      () => encodeDirMapRecord({ version: 1, instanceId: '1', lastShuffled: Infinity }),
      /finite/,
    );
    assert.throws(
      () =>
        encodeDirMapRecord({
          version: 2,
          instanceId: '1',
          lastShuffled: 1,
        } as unknown as DirMapRecord),
      /version must be 1/,
    );
  });
});

describe('instance records', () => {
  it('encodes to CPython bytes and decodes back', () => {
    for (const [name, addr] of [
      ['instance-record', '127.0.0.1:0/3214567890'],
      ['instance-record-v2', 'v2:10.0.0.5:0/1234567'],
      ['instance-record-long-addr', 'a'.repeat(256)],
    ] as const) {
      assert.equal(
        encodeInstanceRecord({ version: 1, addr }).toString('hex'),
        vector(name).toString('hex'),
      );
      assert.deepStrictEqual(decodeInstanceRecord('instance_1', vector(name)), {
        version: 1,
        addr,
      });
    }
  });

  it('refuses malformed values, naming the key', () => {
    assert.throws(
      () => decodeInstanceRecord('instance_9', vector('doc-example')),
      /"instance_9".*unexpected key "instance_id"|"instance_9".*missing "addr"/,
    );
    assert.throws(
      () =>
        decodeInstanceRecord(
          'instance_9',
          pickled([
            ['version', 1n],
            ['addr', null],
          ]),
        ),
      /"instance_9".*"addr" is None/,
    );
  });
});
