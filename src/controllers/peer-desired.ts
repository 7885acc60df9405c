// What a MirrorPeer's spec resolves to: the peer (client@site, remote filesystem), the credentials
// from its bootstrap token or key Secret, and a fingerprint of both; or why it resolves to none.
import { createHash } from 'node:crypto';
import { decodeBootstrapToken, peerSpecOf, type BootstrapToken } from '../ceph/bootstrap-token.js';
import type { PeerCredentials } from '../ceph/config-key.js';
import type { PeerIdentity } from '../ceph/peer-drift.js';
import { secretValue } from '../kube/kube-api.js';
import type { SecretReader } from '../kube/secret-reader.js';
import type { MirrorPeer, MirrorPeerStatus } from '../api/resources.js';
import { problemOf, type Problem } from './status-helpers.js';

/** What the spec resolves to, with the secret material in hand (never logged or reported). */
export interface DesiredPeer {
  identity: PeerIdentity;
  conf: PeerCredentials & { mon_host: string; key: string };
  remote: NonNullable<MirrorPeerStatus['remote']>;
  /** Hash of identity and credentials: a change means the remote must be checked again. */
  fingerprint: string;
}

export function desiredPeer(
  secrets: SecretReader,
  peer: MirrorPeer,
  localFsName: string,
): DesiredPeer | Problem {
  const ns = peer.metadata.namespace;
  const tokenRef = peer.spec.bootstrapTokenSecretRef;
  if (tokenRef) {
    const secret = secrets.get(ns, tokenRef.name);
    if (!secret)
      return { reason: 'SecretNotFound', message: `Secret ${tokenRef.name} does not exist` };
    const field = tokenRef.key ?? 'token';
    const token = secretValue(secret, field);
    if (!token)
      return { reason: 'SecretInvalid', message: `Secret ${tokenRef.name} has no ${field}` };
    let t: BootstrapToken;
    try {
      t = decodeBootstrapToken(token);
    } catch (e) {
      return { reason: 'InvalidBootstrapToken', message: problemOf(e).message };
    }
    // In the order the mgr module stores them (the token minus user, site_name, filesystem).
    return withFingerprint(peer, {
      identity: { spec: peerSpecOf(t), remoteFsName: t.filesystem },
      conf: { fsid: t.fsid, key: t.key, mon_host: t.monHost },
      remote: { fsid: t.fsid, clientName: t.user, siteName: t.siteName, fsName: t.filesystem },
    });
  }
  const remote = peer.spec.remote;
  if (!remote) {
    return {
      reason: 'InvalidSpec',
      message: 'either bootstrapTokenSecretRef or remote must be set',
    };
  }
  const secret = secrets.get(ns, remote.keySecretRef.name);
  if (!secret)
    return {
      reason: 'SecretNotFound',
      message: `Secret ${remote.keySecretRef.name} does not exist`,
    };
  const field = remote.keySecretRef.key ?? 'key';
  const key = secretValue(secret, field);
  if (!key)
    return {
      reason: 'SecretInvalid',
      message: `Secret ${remote.keySecretRef.name} has no ${field}`,
    };
  const fsName = remote.fsName ?? localFsName;
  return withFingerprint(peer, {
    identity: { spec: `${remote.clientName}@${remote.siteName}`, remoteFsName: fsName },
    conf: { mon_host: remote.monHost, key, ...(remote.fsid ? { fsid: remote.fsid } : {}) },
    remote: {
      ...(remote.fsid ? { fsid: remote.fsid } : {}),
      clientName: remote.clientName,
      siteName: remote.siteName,
      fsName,
    },
  });
}

/** The peer a MirrorPeer's status says it was added as (status.remote). */
export function statusIdentity(peer: MirrorPeer): PeerIdentity | undefined {
  const r = peer.status?.remote;
  if (!r?.clientName || !r.siteName || !r.fsName) return undefined;
  return { spec: `${r.clientName}@${r.siteName}`, remoteFsName: r.fsName };
}

function withFingerprint(peer: MirrorPeer, d: Omit<DesiredPeer, 'fingerprint'>): DesiredPeer {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([peer.metadata.uid ?? '', d.identity, d.conf]))
    .digest('hex');
  return { ...d, fingerprint };
}
