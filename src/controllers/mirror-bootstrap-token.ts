// The bootstrap token a CephFSMirror publishes when asked (spec.bootstrapTokenSecret): the peer
// user created in Ceph (src/ceph/bootstrap.ts, as the mgr module's `peer_bootstrap create`) and
// its token written to a Secret this CephFSMirror owns, once per generation.
import type { V1Secret } from '@kubernetes/client-node';
import { createBootstrapToken } from '../ceph/bootstrap.js';
import { isCephOpError } from '../ceph/errors.js';
import { SecretNotOwnedError, isOwnedBy } from '../kube/kube-api.js';
import { objectKey, type CephFSMirror } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import type { Problem } from './status-helpers.js';

/**
 * A Secret owned only by a CephFSMirror of this name with another uid: an earlier object of the
 * same name, since deleted (names are unique in a namespace), wrote it. The garbage collector
 * deletes a Secret whose owners are all gone, so this one is waited for, not refused: the
 * operator cannot delete Secrets (docs/security.md) and taking it over would race the collector.
 */
function isPredecessorsSecret(secret: V1Secret, mirror: CephFSMirror): boolean {
  const refs = secret.metadata?.ownerReferences ?? [];
  return (
    refs.length > 0 &&
    refs.every(
      (r) =>
        r.apiVersion === mirror.apiVersion &&
        r.kind === mirror.kind &&
        r.name === mirror.metadata.name &&
        r.uid !== mirror.metadata.uid,
    )
  );
}

/** createBootstrapToken refusals that need a person (src/ceph/bootstrap.ts, bootstrap-token.ts). */
const REFUSED_TOKEN_USERS = new Set(['ClientCapsMismatch', 'InvalidClientName']);

export class BootstrapTokens {
  /** Mirror key → generation whose bootstrap token Secret is written. */
  private readonly tokensWritten = new Map<string, number>();

  constructor(private readonly ctx: ControllerContext) {}

  forget(key: string): void {
    this.tokensWritten.delete(key);
  }

  /**
   * Writes the bootstrap token Secret, if the spec asks for one and it was not written for this
   * generation yet. Returns the problem (SecretNotOwned) when a Secret of that name exists that
   * this CephFSMirror did not create, or WaitingForGarbageCollection when an earlier CephFSMirror
   * of this name created it: nothing is written then.
   */
  async publish(mirror: CephFSMirror, runtime: MirrorRuntime): Promise<Problem | undefined> {
    const want = mirror.spec.bootstrapTokenSecret;
    const key = objectKey(mirror.metadata);
    if (!want || this.tokensWritten.get(key) === mirror.metadata.generation) return;
    if (this.ctx.runtimes.get(key) !== runtime) return;
    const ns = mirror.metadata.namespace;
    const owner = {
      apiVersion: mirror.apiVersion,
      kind: mirror.kind,
      name: mirror.metadata.name,
      uid: mirror.metadata.uid ?? '',
      controller: true,
    };
    // Checked before the peer user is touched in Ceph (upsertSecret checks again when writing).
    const existing = await this.ctx.api.getSecret(ns, want.name);
    if (existing && !isOwnedBy(existing, owner)) {
      if (isPredecessorsSecret(existing, mirror)) {
        return {
          reason: 'WaitingForGarbageCollection',
          message:
            `Secret ${want.name} belongs to an earlier CephFSMirror ${mirror.metadata.name} ` +
            "(deleted); Kubernetes' garbage collector deletes it, then the token is written",
        };
      }
      const e = new SecretNotOwnedError(ns, want.name, owner);
      return { reason: e.reason, message: e.message };
    }
    let token: string;
    try {
      token = await runtime.serial(() =>
        createBootstrapToken(
          runtime.rados,
          runtime.fsName,
          want.clientName ?? 'client.mirror_remote',
          want.siteName ?? mirror.metadata.name,
        ),
      );
    } catch (e) {
      // The user is not one whose key may be published: a person has to act, mirroring goes on.
      if (isCephOpError(e) && REFUSED_TOKEN_USERS.has(e.reason)) {
        return { reason: e.reason, message: e.message };
      }
      throw e;
    }
    let written: boolean;
    try {
      written = await this.ctx.api.upsertSecret(ns, want.name, { token }, owner);
    } catch (e) {
      if (e instanceof SecretNotOwnedError) return { reason: e.reason, message: e.message };
      throw e;
    }
    this.tokensWritten.set(key, mirror.metadata.generation ?? 0);
    // The MirrorPeers reading this Secret learn of it now rather than at the next resync.
    if (written) this.ctx.secrets.invalidate({ namespace: ns, name: want.name });
    // After an operator restart the Secret usually holds this very token: nothing new to say.
    if (!written) return;
    this.ctx.events.record(
      mirror,
      'Normal',
      'BootstrapTokenPublished',
      `bootstrap token written to Secret ${want.name}`,
    );
  }
}
