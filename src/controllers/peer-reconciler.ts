// MirrorPeer: add the remote site to the mirrored filesystem (bootstrap token or explicit
// settings), replace it when the spec points elsewhere, remove it (FSMap peer, stored
// credentials, claim on the remote root) when the object is deleted.
import { importBootstrapToken } from '../ceph/bootstrap.js';
import { decodeBootstrapToken, peerSpecOf, type BootstrapToken } from '../ceph/bootstrap-token.js';
import { addPeer, removePeer } from '../ceph/peers.js';
import { isCephOpError } from '../ceph/errors.js';
import type { WorkResult } from './work-queue.js';
import { setCondition } from './conditions.js';
import { directoryKeysOf, mirrorKeyOf, type ControllerContext } from './context.js';
import { secretValue } from './kube-api.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { ensureFinalizer, isBeingDeleted, removeFinalizer, writeStatus } from './object-writes.js';
import { KINDS, splitKey, type MirrorPeer, type MirrorPeerStatus } from './resources.js';
import { notReadyStatus, problemOf, readyCondition, type Problem } from './status-helpers.js';

const MIRROR_NOT_READY_RETRY_MS = 3000;

/** What the spec resolves to, with the secret material in hand (never logged or reported). */
interface DesiredPeer {
  spec: string;
  remoteFsName: string | undefined;
  token?: string;
  conf?: { mon_host: string; key: string; fsid?: string };
  remote: NonNullable<MirrorPeerStatus['remote']>;
}

export class PeerReconciler {
  constructor(private readonly ctx: ControllerContext) {}

  async reconcile(key: string): Promise<WorkResult> {
    const { namespace, name } = splitKey(key);
    const cached = this.ctx.peers.get(namespace, name);
    if (!cached) return;
    const mirrorKey = mirrorKeyOf(cached);
    const runtime = this.ctx.runtimes.get(mirrorKey);
    if (isBeingDeleted(cached)) return this.finalize(cached, runtime);
    // Carry on with the object as written: its resourceVersion is the one the status write needs.
    const peer = await ensureFinalizer(this.ctx.api, KINDS.peer, cached);
    if (!peer) return;

    const mirror = this.ctx.mirrors.getByKey(mirrorKey);
    if (!mirror) {
      return this.fail(peer, {
        reason: 'MirrorNotFound',
        message: `CephFSMirror ${peer.spec.mirrorRef.name} does not exist`,
      });
    }
    if (!runtime) {
      await this.fail(peer, {
        reason: 'MirrorNotReady',
        message: `CephFSMirror ${mirror.metadata.name} is not ready yet`,
      });
      return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
    }
    const desired = this.desired(peer, runtime);
    if ('reason' in desired) return this.fail(peer, desired);

    let uuid: string;
    try {
      uuid = await runtime.serial(async () => {
        const id = desired.token
          ? await importBootstrapToken(runtime.rados, runtime.fsName, desired.token)
          : await addPeer(runtime.rados, runtime.fsName, {
              spec: desired.spec,
              ...(desired.remoteFsName ? { remoteFsName: desired.remoteFsName } : {}),
              ...(desired.conf ? { conf: desired.conf } : {}),
            });
        const previous = peer.status?.peerUUID;
        if (previous && previous !== id) {
          // The spec now names another remote: the old peer goes.
          await removePeer(runtime.rados, runtime.fsName, previous);
        }
        return id;
      });
    } catch (e) {
      const problem = problemOf(e, 'PeerAddFailed');
      await this.fail(peer, problem);
      // Refusals (bad token, wrong fsid, a claimed remote) wait for the spec or Secret to change;
      // anything else (an unreachable site) is retried with backoff.
      if (isCephOpError(e) && ['EINVAL', 'EEXIST'].includes(e.code)) return;
      throw e;
    }
    if (peer.status?.peerUUID !== uuid) {
      this.ctx.events.record(
        peer,
        'Normal',
        'PeerAdded',
        `peer ${desired.spec} (${uuid}) added to ${runtime.fsName}`,
      );
      this.syncViewsChanged(peer, runtime);
    }
    const generation = peer.metadata.generation;
    let conditions = readyCondition(
      peer.status?.conditions,
      generation,
      true,
      'PeerAdded',
      `mirroring to ${desired.spec}`,
    );
    conditions = setCondition(conditions, {
      type: 'MirrorInfoSet',
      status: 'True',
      reason: 'Claimed',
      message: `ceph.mirror.info set on the root of ${desired.remote.fsName ?? runtime.fsName}`,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    await writeStatus(this.ctx.api, KINDS.peer, peer, {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      peerUUID: uuid,
      remote: desired.remote,
      conditions,
    });
    return;
  }

  private desired(peer: MirrorPeer, runtime: MirrorRuntime): DesiredPeer | Problem {
    const ns = peer.metadata.namespace;
    const tokenRef = peer.spec.bootstrapTokenSecretRef;
    if (tokenRef) {
      const secret = this.ctx.secrets.get(ns, tokenRef.name);
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
      return {
        spec: peerSpecOf(t),
        remoteFsName: t.filesystem,
        token,
        remote: { fsid: t.fsid, clientName: t.user, siteName: t.siteName, fsName: t.filesystem },
      };
    }
    const remote = peer.spec.remote;
    if (!remote) {
      return {
        reason: 'InvalidSpec',
        message: 'either bootstrapTokenSecretRef or remote must be set',
      };
    }
    const secret = this.ctx.secrets.get(ns, remote.keySecretRef.name);
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
    const fsName = remote.fsName ?? runtime.fsName;
    return {
      spec: `${remote.clientName}@${remote.siteName}`,
      remoteFsName: fsName,
      conf: { mon_host: remote.monHost, key, ...(remote.fsid ? { fsid: remote.fsid } : {}) },
      remote: {
        ...(remote.fsid ? { fsid: remote.fsid } : {}),
        clientName: remote.clientName,
        siteName: remote.siteName,
        fsName,
      },
    };
  }

  private async fail(peer: MirrorPeer, problem: Problem): Promise<WorkResult> {
    await writeStatus(this.ctx.api, KINDS.peer, peer, notReadyStatus(peer, problem));
    this.ctx.events.record(peer, 'Warning', problem.reason, problem.message);
    return;
  }

  private async finalize(
    peer: MirrorPeer,
    runtime: MirrorRuntime | undefined,
  ): Promise<WorkResult> {
    const uuid = peer.status?.peerUUID;
    if (uuid) {
      if (!runtime) {
        if (this.ctx.mirrors.getByKey(mirrorKeyOf(peer))) {
          // The mirror exists but its engine is not running yet (after a restart): wait for it.
          return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
        }
        this.ctx.log.warn('peer deleted after its mirror; Ceph peer left as it is', {
          peer: peer.metadata.name,
        });
      } else {
        await runtime.serial(() => removePeer(runtime.rados, runtime.fsName, uuid));
        this.ctx.events.record(
          peer,
          'Normal',
          'PeerRemoved',
          `peer ${uuid} removed from ${runtime.fsName}`,
        );
        this.syncViewsChanged(peer, runtime);
      }
    }
    await removeFinalizer(this.ctx.api, KINDS.peer, peer);
    return;
  }

  /** The directories' sync views gain or lose a peer: recompute them and update each status. */
  private syncViewsChanged(peer: MirrorPeer, runtime: MirrorRuntime): void {
    runtime.syncViews.peersChanged();
    for (const key of directoryKeysOf(this.ctx.directories, mirrorKeyOf(peer))) {
      this.ctx.enqueue.directory(key);
    }
  }
}
