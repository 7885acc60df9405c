import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CephOpError } from '../../../src/ceph/errors.js';
import {
  authGet,
  configKeyGet,
  configKeyRm,
  configKeySet,
  fsAuthorize,
  fsDump,
  fsMirrorDisable,
  fsMirrorEnable,
  fsMirrorPeerAdd,
  fsMirrorPeerRemove,
  mgrModuleDisable,
  mgrModuleEnable,
  mgrModuleLs,
  osdBlocklistAdd,
  peerConfigKey,
  serviceDump,
  serviceStatus,
} from '../../../src/ceph/mon-commands.js';

const UUID = 'fd39a096-4fbf-44e8-8289-86ee37c46f7b';

/** Same JSON text: same keys, values and key order (what the monitor receives). */
function sameJson(actual: unknown, expected: unknown): void {
  assert.equal(JSON.stringify(actual), JSON.stringify(expected));
}

describe('mon command builders produce the mgr module’s commands', () => {
  const cases: [string, unknown, unknown][] = [
    ['fs mirror enable', fsMirrorEnable('a'), { prefix: 'fs mirror enable', fs_name: 'a' }],
    ['fs mirror disable', fsMirrorDisable('a'), { prefix: 'fs mirror disable', fs_name: 'a' }],
    [
      'fs mirror peer_add',
      fsMirrorPeerAdd({
        fsName: 'a',
        uuid: UUID,
        remoteClusterSpec: 'client.mirror_remote@site-b',
        remoteFsName: 'b',
      }),
      {
        prefix: 'fs mirror peer_add',
        fs_name: 'a',
        uuid: UUID,
        remote_cluster_spec: 'client.mirror_remote@site-b',
        remote_fs_name: 'b',
      },
    ],
    [
      'fs mirror peer_remove',
      fsMirrorPeerRemove('a', UUID),
      { prefix: 'fs mirror peer_remove', fs_name: 'a', uuid: UUID },
    ],
    ['fs dump', fsDump(), { prefix: 'fs dump', format: 'json' }],
    [
      'config-key set',
      configKeySet('cephfs/mirror/peer/a/u', '{"k": "v"}'),
      { prefix: 'config-key set', key: 'cephfs/mirror/peer/a/u', val: '{"k": "v"}' },
    ],
    ['config-key get', configKeyGet('k1'), { prefix: 'config-key get', key: 'k1' }],
    ['config-key rm', configKeyRm('k1'), { prefix: 'config-key rm', key: 'k1' }],
    [
      'osd blocklist add',
      osdBlocklistAdd('127.0.0.1:0/3106258685'),
      { prefix: 'osd blocklist', blocklistop: 'add', addr: '127.0.0.1:0/3106258685' },
    ],
    [
      'fs authorize',
      fsAuthorize('b', 'client.mirror_remote'),
      {
        prefix: 'fs authorize',
        filesystem: 'b',
        entity: 'client.mirror_remote',
        caps: ['/', 'rwps'],
      },
    ],
    [
      'auth get',
      authGet('client.mirror_remote'),
      { prefix: 'auth get', entity: 'client.mirror_remote', format: 'json' },
    ],
    ['mgr module ls', mgrModuleLs(), { prefix: 'mgr module ls', format: 'json' }],
    [
      'mgr module enable',
      mgrModuleEnable('mirroring'),
      { prefix: 'mgr module enable', module: 'mirroring' },
    ],
    [
      'mgr module disable',
      mgrModuleDisable('mirroring'),
      { prefix: 'mgr module disable', module: 'mirroring' },
    ],
    ['service dump (mgr)', serviceDump(), { prefix: 'service dump', format: 'json' }],
    ['service status (mgr)', serviceStatus(), { prefix: 'service status', format: 'json' }],
  ];
  for (const [name, actual, expected] of cases) {
    it(name, () => sameJson(actual, expected));
  }

  it('names the peer config key like the mgr module', () => {
    assert.equal(peerConfigKey('a', UUID), `cephfs/mirror/peer/a/${UUID}`);
  });
});

describe('mon command builders refuse bad arguments', () => {
  const bad: [string, () => unknown, RegExp][] = [
    ['empty fs name', () => fsMirrorEnable(''), /fs_name must be a non-empty string/],
    ['blank fs name', () => fsMirrorDisable('  '), /fs_name/],
    ['peer uuid not a uuid', () => fsMirrorPeerRemove('a', 'peer-1'), /peer uuid/],
    ['uppercase uuid', () => peerConfigKey('a', UUID.toUpperCase()), /lowercase UUID/],
    [
      'spec without site',
      () =>
        fsMirrorPeerAdd({
          fsName: 'a',
          uuid: UUID,
          remoteClusterSpec: 'client.x',
          remoteFsName: 'b',
        }),
      /invalid cluster spec client\.x/,
    ],
    [
      'spec with a dotted id (the mgr module cannot split it)',
      () =>
        fsMirrorPeerAdd({
          fsName: 'a',
          uuid: UUID,
          remoteClusterSpec: 'client.a.b@s',
          remoteFsName: 'b',
        }),
      /invalid cluster spec/,
    ],
    [
      'spec with two @',
      () =>
        fsMirrorPeerAdd({
          fsName: 'a',
          uuid: UUID,
          remoteClusterSpec: 'client.a@s@t',
          remoteFsName: 'b',
        }),
      /invalid cluster spec/,
    ],
    ['entity not a client', () => fsAuthorize('b', 'osd.0'), /invalid entity osd\.0/],
    ['empty addr', () => osdBlocklistAdd(''), /addr/],
    ['empty config key', () => configKeyGet(''), /key/],
  ];
  for (const [name, build, message] of bad) {
    it(name, () => {
      assert.throws(
        build,
        (e: unknown) => e instanceof CephOpError && e.code === 'EINVAL' && message.test(e.message),
      );
    });
  }
});
