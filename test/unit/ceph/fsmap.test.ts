import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { CephOpError } from '../../../src/ceph/errors.js';
import {
  findFilesystem,
  findPeer,
  FsMapParseError,
  parseFsDump,
  requireFilesystem,
  requireMirrored,
} from '../../../src/ceph/fsmap.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/ceph/${name}`, import.meta.url), 'utf8');

describe('parseFsDump on captured Ceph 16.2.15 output', () => {
  it('reads a mirrored filesystem with a peer', () => {
    const map = parseFsDump(fixture('fs-dump-mirrored-peer.json'));
    assert.equal(map.epoch, 6);
    assert.deepStrictEqual(map.filesystems, [
      {
        name: 'a',
        fscid: 1,
        metadataPool: 1,
        dataPools: [2],
        mirrorInfo: {
          enabled: true,
          peers: {
            'fd39a096-4fbf-44e8-8289-86ee37c46f7b': {
              clientName: 'client.mirror_remote',
              clusterName: 'site-b',
              fsName: 'b',
            },
          },
        },
      },
    ]);
  });

  it('reads a filesystem without mirroring', () => {
    const map = parseFsDump(fixture('fs-dump-not-mirrored.json'));
    const b = requireFilesystem(map, 'b');
    assert.deepStrictEqual(b.mirrorInfo, { enabled: false, peers: {} });
    assert.throws(
      () => requireMirrored(map, 'b'),
      (e: unknown) =>
        e instanceof CephOpError &&
        e.code === 'EINVAL' &&
        e.message === 'filesystem b is not mirrored' &&
        e.reason === 'MirroringNotEnabled',
    );
  });

  it('reads several filesystems and accepts an already-parsed value', () => {
    const map = parseFsDump(JSON.parse(fixture('fs-dump-multi.json')) as unknown);
    assert.deepEqual(
      map.filesystems.map((f) => [
        f.name,
        f.fscid,
        f.metadataPool,
        f.dataPools,
        f.mirrorInfo.enabled,
      ]),
      [
        ['a', 1, 1, [2], true],
        ['second', 2, 3, [4, 5], false],
        ['mirrored-no-peers', 3, 6, [7], true],
      ],
    );
    const a = requireMirrored(map, 'a');
    assert.equal(Object.keys(a.mirrorInfo.peers).length, 2);
    assert.deepEqual(requireMirrored(map, 'mirrored-no-peers').mirrorInfo.peers, {});
  });
});

describe('lookups', () => {
  const map = parseFsDump(fixture('fs-dump-multi.json'));

  it('finds filesystems by name, or fails like the mgr module', () => {
    assert.equal(findFilesystem(map, 'second')?.fscid, 2);
    assert.equal(findFilesystem(map, 'nope'), undefined);
    assert.throws(
      () => requireFilesystem(map, 'nope'),
      (e: unknown) =>
        e instanceof CephOpError &&
        e.code === 'ENOENT' &&
        e.message === 'filesystem nope does not exist' &&
        e.reason === 'FilesystemNotFound',
    );
  });

  it('finds an existing peer by spec and remote fs name', () => {
    const a = requireFilesystem(map, 'a');
    assert.equal(
      findPeer(a, 'client.mirror_remote@site-b', 'b'),
      'fd39a096-4fbf-44e8-8289-86ee37c46f7b',
    );
    assert.equal(findPeer(a, 'client.mirror2@site-c', 'c'), '0b6c5e9e-3f7b-4c1a-9d2e-6f1e2a3b4c5d');
    assert.equal(findPeer(a, 'client.mirror_remote@site-b', 'other'), undefined);
    assert.equal(findPeer(a, 'client.x@site-b', 'b'), undefined);
  });
});

describe('parseFsDump refuses unexpected shapes, naming the path', () => {
  const base = (): Record<string, unknown> =>
    JSON.parse(fixture('fs-dump-mirrored-peer.json')) as Record<string, unknown>;
  const fs0 = (m: Record<string, unknown>): Record<string, unknown> =>
    (m['filesystems'] as Record<string, unknown>[])[0] as Record<string, unknown>;
  const mdsmap = (m: Record<string, unknown>): Record<string, unknown> =>
    fs0(m)['mdsmap'] as Record<string, unknown>;

  const cases: [string, (m: Record<string, unknown>) => unknown, RegExp][] = [
    ['not JSON text', () => '{nope', /\$: not JSON/],
    ['not an object', () => [], /\$: expected an object, got an array/],
    [
      'no filesystems',
      (m) => ({ ...m, filesystems: undefined }),
      /\$\.filesystems: expected an array/,
    ],
    ['missing epoch', (m) => ({ ...m, epoch: 'x' }), /\$\.epoch: expected a non-negative integer/],
    [
      'metadata_pool as a string',
      (m) => ((mdsmap(m)['metadata_pool'] = 'a_metadata'), m),
      /\$\.filesystems\[0\]\.mdsmap\.metadata_pool/,
    ],
    ['negative fscid', (m) => ((fs0(m)['id'] = -1), m), /\$\.filesystems\[0\]\.id: .*number -1/],
    ['empty fs_name', (m) => ((mdsmap(m)['fs_name'] = ''), m), /fs_name: .*empty string/],
    ['data pool not a number', (m) => ((mdsmap(m)['data_pools'] = [2, '3']), m), /data_pools\[1\]/],
    [
      'mirror_info not an object',
      (m) => ((fs0(m)['mirror_info'] = true), m),
      /mirror_info: expected an object/,
    ],
    [
      'peers missing',
      (m) => ((fs0(m)['mirror_info'] = {}), m),
      /mirror_info\.peers: expected an object/,
    ],
    [
      'peer without remote',
      (m) => ((fs0(m)['mirror_info'] = { peers: { u1: {} } }), m),
      /peers\["u1"\]\.remote: expected an object/,
    ],
    [
      'peer remote without fs_name',
      (m) => (
        (fs0(m)['mirror_info'] = {
          peers: { u1: { remote: { client_name: 'client.x', cluster_name: 's' } } },
        }),
        m
      ),
      /peers\["u1"\]\.remote\.fs_name/,
    ],
    [
      'duplicate filesystem names',
      (m) => ({ ...m, filesystems: [fs0(m), fs0(m)] }),
      /filesystems\[1\]: duplicate fs_name "a"/,
    ],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const input = mutate(base());
      assert.throws(
        () => parseFsDump(input),
        (e: unknown) =>
          e instanceof FsMapParseError && message.test(e.message) && e.reason === 'UnexpectedFsMap',
      );
    });
  }
});
