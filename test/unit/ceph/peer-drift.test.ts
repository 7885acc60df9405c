import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CephFilesystem } from '../../../src/ceph/fsmap.js';
import {
  compareCredentials,
  identityKey,
  locatePeer,
  sameIdentity,
} from '../../../src/ceph/peer-drift.js';

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const B = { spec: 'client.mirror_remote@site-b', remoteFsName: 'b' };

function fs(peers: CephFilesystem['mirrorInfo']['peers']): CephFilesystem {
  return {
    name: 'a',
    fscid: 1,
    metadataPool: 1,
    dataPools: [2],
    mirrorInfo: { enabled: true, peers },
  };
}

const peerB = { clientName: 'client.mirror_remote', clusterName: 'site-b', fsName: 'b' };

describe('locatePeer', () => {
  it('finds the peer under its recorded uuid', () => {
    assert.deepEqual(locatePeer(fs({ [U1]: peerB }), B, U1), { state: 'present', uuid: U1 });
  });

  it('adopts an existing peer when nothing is recorded', () => {
    assert.deepEqual(locatePeer(fs({ [U2]: peerB }), B), { state: 'present', uuid: U2 });
  });

  it('says missing when the recorded uuid is gone from the FSMap', () => {
    assert.deepEqual(locatePeer(fs({}), B, U1), { state: 'missing', uuid: U1 });
  });

  it('says moved when the peer is there under another uuid than recorded', () => {
    assert.deepEqual(locatePeer(fs({ [U2]: peerB }), B, U1), {
      state: 'moved',
      uuid: U2,
      recorded: U1,
    });
  });

  it('says absent when nothing is recorded and nothing is there', () => {
    assert.deepEqual(locatePeer(fs({}), B), { state: 'absent' });
  });

  it('does not reuse a recorded uuid that now names another peer', () => {
    const other = { clientName: 'client.other', clusterName: 'site-c', fsName: 'c' };
    assert.deepEqual(locatePeer(fs({ [U1]: other }), B, U1), { state: 'absent' });
  });

  it('tells peers apart by remote filesystem too', () => {
    const otherFs = { ...peerB, fsName: 'b2' };
    assert.deepEqual(locatePeer(fs({ [U1]: otherFs }), B), { state: 'absent' });
    assert.deepEqual(locatePeer(fs({ [U1]: otherFs, [U2]: peerB }), B, U1), {
      state: 'moved',
      uuid: U2,
      recorded: U1,
    });
  });
});

describe('peer identities', () => {
  it('compare spec and remote filesystem', () => {
    assert.ok(sameIdentity(B, { ...B }));
    assert.ok(!sameIdentity(B, { ...B, remoteFsName: 'c' }));
    assert.ok(!sameIdentity(B, { ...B, spec: 'client.mirror_remote@site-c' }));
    assert.notEqual(
      identityKey(B),
      identityKey({ spec: 'client.mirror_remote@site-', remoteFsName: 'bb' }),
    );
  });
});

describe('compareCredentials', () => {
  const desired = { fsid: 'f', key: 'k', mon_host: 'm' };

  it('no config-key is missing', () => {
    assert.equal(compareCredentials(undefined, desired), 'missing');
  });

  it('the same fields in another order are the same', () => {
    assert.equal(compareCredentials({ mon_host: 'm', key: 'k', fsid: 'f' }, desired), 'same');
  });

  it('a changed key, mon_host or fsid is different', () => {
    assert.equal(compareCredentials({ ...desired, key: 'k2' }, desired), 'different');
    assert.equal(compareCredentials({ ...desired, mon_host: 'm2' }, desired), 'different');
    assert.equal(compareCredentials({ key: 'k', mon_host: 'm' }, desired), 'different');
    assert.equal(compareCredentials({}, desired), 'different');
  });

  it('an fsid stored but not declared is different', () => {
    assert.equal(compareCredentials(desired, { key: 'k', mon_host: 'm' }), 'different');
  });
});
