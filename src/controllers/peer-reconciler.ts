// MirrorPeer: keeps the remote site a peer of the mirrored filesystem (bootstrap token or explicit
// settings), as Ceph shows it now, not as it was once added: every reconcile (at least every
// RESYNC_MS) reads the FSMap and the stored credentials, and puts back what went missing behind
// the operator's back under the recorded uuid (Warning Event DriftCorrected, a metric, and
// Ready=False PeerMissing while it lasts). One MirrorPeer owns each Ceph peer (peer-ownership.ts);
// the others say DuplicatePeer and never touch Ceph. Deleting the owner removes the peer (FSMap
// entry, credentials, claim on the remote root), unless another MirrorPeer declares it too: then
// it is handed over.
import { sameIdentity, type PeerIdentity } from '../ceph/peer-drift.js';
import { ensurePeer, removePeer, type EnsurePeerResult } from '../ceph/peers.js';
import type { WorkResult } from '../kube/work-queue.js';
import { setCondition } from '../api/conditions.js';
import { mirrorKeyOf, type ControllerContext } from './context.js';
import { directoryKeysOf } from './watches.js';
import { describeApiError } from '../kube/kube-api.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { isBeingDeleted, writeStatus } from '../kube/object-writes.js';
import { FINALIZED, reconcileWith, type FinalizeResult } from './reconcile-skeleton.js';
import { TerminalError, isCephRefusal } from './terminal-error.js';
import { ownerOf, sameObject } from './peer-ownership.js';
import { desiredPeer, statusIdentity, type DesiredPeer } from './peer-desired.js';
import { reportConverge } from './peer-report.js';
import { KINDS, objectKey, type MirrorPeer } from '../api/resources.js';
import { notReadyStatus, problemOf, readyCondition, type Problem } from './status-helpers.js';

const MIRROR_NOT_READY_RETRY_MS = 3000;
/** An owner reads the FSMap at least this often: Ready=True says what was seen that recently. */
const RESYNC_MS = 10_000;
/**
 * Without a change to the spec or Secret, the remote's fsid and the claim on its root are read
 * again after this long: each check is a connection and a mount on the remote site.
 */
const REMOTE_RECHECK_MS = 60_000;
/** A refused peer (wrong fsid, claimed remote, mirroring off) is looked at again this often. */
const REFUSED_RETRY_MS = 15_000;
/** A duplicate looks at its owner again this often (caches only, nothing in Ceph). */
const DUPLICATE_RECHECK_MS = 15_000;

export class PeerReconciler {
  /** Object key → when its remote was last checked, and for which spec and Secret. */
  private readonly remoteChecked = new Map<string, { fingerprint: string; at: number }>();

  constructor(private readonly ctx: ControllerContext) {}

  reconcile(key: string): Promise<WorkResult> {
    return reconcileWith<MirrorPeer, MirrorRuntime | undefined>(key, {
      api: this.ctx.api,
      kind: KINDS.peer,
      get: (namespace, name) => this.ctx.peers.get(namespace, name),
      gone: (k) => void this.remoteChecked.delete(k),
      prepare: async (peer) => {
        await this.readSecrets(peer);
        return this.ctx.runtimes.get(mirrorKeyOf(peer));
      },
      finalize: (k, peer, runtime) => this.finalize(k, peer, runtime),
      apply: (k, peer, runtime) => this.apply(k, peer, runtime),
      fail: (peer, problem) => this.fail(peer, problem),
    });
  }

  private async apply(
    key: string,
    peer: MirrorPeer,
    runtime: MirrorRuntime | undefined,
  ): Promise<WorkResult> {
    const mirror = this.ctx.mirrors.getByKey(mirrorKeyOf(peer));
    if (!mirror) {
      throw new TerminalError({
        reason: 'MirrorNotFound',
        message: `CephFSMirror ${peer.spec.mirrorRef.name} does not exist`,
      });
    }
    // A bad spec or a Secret missing or invalid: nothing to retry until one of them changes.
    const desired = desiredPeer(this.ctx.secrets, peer, mirror.spec.filesystem);
    if ('reason' in desired) throw new TerminalError(desired);
    // Ownership is decided from the Kubernetes objects alone, before anything is read from or
    // written to Ceph: a duplicate must not depend on (or disturb) the sites.
    const owner = ownerOf(this.candidates(peer, mirror.spec.filesystem), desired.identity);
    if (owner && !sameObject(owner, peer)) return this.duplicate(peer, owner, desired, runtime);
    if (!runtime) {
      const why = this.ctx.runtimes.whyNotRunning(mirrorKeyOf(peer));
      await this.fail(peer, {
        reason: 'MirrorNotReady',
        message:
          `CephFSMirror ${mirror.metadata.name} is not ready yet` +
          (why ? ` (${why.reason}: ${why.message})` : ''),
      });
      return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
    }
    return this.converge(key, peer, desired, runtime);
  }

  /** The owner's pass: make Ceph show the declared peer, and say what was seen. */
  private async converge(
    key: string,
    peer: MirrorPeer,
    desired: DesiredPeer,
    runtime: MirrorRuntime,
  ): Promise<WorkResult> {
    const { spec, remoteFsName } = desired.identity;
    const previousUuid = peer.status?.peerUUID;
    const previousIdentity = statusIdentity(peer);
    const sameAsBefore =
      previousIdentity !== undefined && sameIdentity(previousIdentity, desired.identity);
    const recorded = sameAsBefore ? previousUuid : undefined;
    // The spec named another remote before: that peer goes (or passes to whoever declares it).
    const replaced =
      previousUuid !== undefined && !sameAsBefore && previousIdentity !== undefined
        ? { uuid: previousUuid, identity: previousIdentity }
        : undefined;
    const checked = this.remoteChecked.get(key);
    const verifyRemote =
      checked?.fingerprint !== desired.fingerprint || Date.now() - checked.at >= REMOTE_RECHECK_MS;

    let current = peer;
    let missing: string | undefined;
    let result: EnsurePeerResult;
    try {
      result = await runtime.serial(async () => {
        const r = await ensurePeer(runtime.rados, runtime.fsName, {
          ...runtime.remote,
          spec,
          remoteFsName,
          conf: desired.conf,
          allowInsecureV1: peer.spec.allowInsecureV1 === true,
          ...(recorded !== undefined ? { uuid: recorded } : {}),
          verifyRemote,
          onMissing: async (uuid, epoch) => {
            // Said before the re-add: if it fails or hangs, the status already tells the truth.
            missing = `peer ${spec} (${uuid}) is missing from the FSMap of ${runtime.fsName} (epoch ${epoch})`;
            const status = notReadyStatus(current, {
              reason: 'PeerMissing',
              message: `${missing}; re-adding it`,
            });
            await writeStatus(this.ctx.api, KINDS.peer, current, status);
            current = { ...current, status };
          },
        });
        if (replaced) await this.release(peer, runtime, replaced.uuid, replaced.identity);
        return r;
      });
    } catch (e) {
      this.remoteChecked.delete(key);
      let problem = problemOf(e, 'PeerAddFailed');
      if (missing !== undefined) {
        problem = {
          reason: 'PeerMissing',
          message: `${missing}; re-adding it failed: ${problem.message}`,
        };
      }
      // Refusals (wrong fsid, a claimed remote, mirroring off, a bad spec) change nothing until
      // something else does, and are looked at again now and then; anything else (an
      // unreachable site) is retried with backoff.
      if (isCephRefusal(e)) {
        // Mirroring switched off behind the operator: the mirror turns it back on, and the peer
        // follows at the next pass.
        const local = e.reason === 'MirroringNotEnabled';
        throw new TerminalError(problem, {
          recheckAfterMs: local ? RESYNC_MS : REFUSED_RETRY_MS,
          object: current,
          cause: e,
        });
      }
      await this.fail(current, problem);
      throw e;
    }
    if (result.remote) {
      this.remoteChecked.set(key, { fingerprint: desired.fingerprint, at: Date.now() });
    }
    reportConverge(this.ctx, peer, desired, runtime, result, previousUuid, (p) =>
      this.syncViewsChanged(p),
    );

    const generation = peer.metadata.generation;
    let conditions = readyCondition(
      current.status?.conditions,
      generation,
      true,
      'PeerAdded',
      `mirroring to ${spec} (filesystem ${remoteFsName}); peer ${result.uuid} is in the FSMap`,
    );
    if (result.remote) {
      conditions = setCondition(conditions, {
        type: 'MirrorInfoSet',
        status: 'True',
        reason: 'Claimed',
        message: `ceph.mirror.info set on the root of ${remoteFsName}`,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
      });
    }
    const before = sameAsBefore ? peer.status?.remote : undefined;
    const fsid = result.remote?.fsid ?? before?.fsid ?? desired.remote.fsid;
    const fscid = result.remote?.fscid ?? before?.fscid;
    await writeStatus(this.ctx.api, KINDS.peer, current, {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      peerUUID: result.uuid,
      remote: {
        ...(fsid !== undefined ? { fsid } : {}),
        ...(fscid !== undefined ? { fscid } : {}),
        clientName: desired.remote.clientName,
        siteName: desired.remote.siteName,
        fsName: desired.remote.fsName,
      },
      conditions,
    });
    return { requeueAfterMs: RESYNC_MS };
  }

  /** A MirrorPeer that declares a peer another one owns: say so, touch nothing in Ceph. */
  private async duplicate(
    peer: MirrorPeer,
    owner: MirrorPeer,
    desired: DesiredPeer,
    runtime: MirrorRuntime | undefined,
  ): Promise<WorkResult> {
    const previousUuid = peer.status?.peerUUID;
    const previousIdentity = statusIdentity(peer);
    if (
      previousUuid !== undefined &&
      previousIdentity !== undefined &&
      !sameIdentity(previousIdentity, desired.identity)
    ) {
      // Its spec named another remote, whose peer it owned: that one is still its to let go.
      if (!runtime) return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
      await runtime.serial(() => this.release(peer, runtime, previousUuid, previousIdentity));
    }
    const { spec, remoteFsName } = desired.identity;
    const problem: Problem = {
      reason: 'DuplicatePeer',
      message:
        `peer ${spec} (filesystem ${remoteFsName}) of CephFSMirror ${peer.spec.mirrorRef.name} ` +
        `is owned by MirrorPeer ${objectKey(owner.metadata)}; this one changes nothing in Ceph`,
    };
    const generation = peer.metadata.generation;
    // No peerUUID: the uuid is the owner's, and what a MirrorPeer records is what its deletion
    // removes. No MirrorInfoSet either: this object claimed nothing.
    const { peerUUID: _notOurs, ...rest } = peer.status ?? {};
    const conditions = readyCondition(
      rest.conditions?.filter((c) => c.type !== 'MirrorInfoSet'),
      generation,
      false,
      problem.reason,
      problem.message,
    );
    await writeStatus(this.ctx.api, KINDS.peer, peer, {
      ...rest,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      remote: desired.remote,
      conditions,
    });
    this.ctx.events.record(peer, 'Warning', problem.reason, problem.message);
    return { requeueAfterMs: DUPLICATE_RECHECK_MS };
  }

  /**
   * Lets go of peer `uuid` (`identity`), which `peer` owned: handed over when another MirrorPeer
   * of the mirror declares it (that one adopts it under the same uuid), removed otherwise.
   * Called inside the mirror's serial section, so the decision sees every object an earlier
   * pass of another MirrorPeer acted on.
   */
  private async release(
    peer: MirrorPeer,
    runtime: MirrorRuntime,
    uuid: string,
    identity: PeerIdentity,
  ): Promise<void> {
    const heir = ownerOf(
      this.candidates(peer, runtime.fsName).filter((c) => !sameObject(c.object, peer)),
      identity,
    );
    if (heir) {
      this.ctx.events.record(
        peer,
        'Normal',
        'PeerHandedOver',
        `peer ${identity.spec} (${uuid}) left in Ceph: MirrorPeer ${objectKey(heir.metadata)} declares it too and owns it now`,
      );
      this.ctx.enqueue.peer(objectKey(heir.metadata));
      return;
    }
    await this.removeCephPeer(peer, runtime, uuid, `peer ${identity.spec} (${uuid})`);
  }

  /** Removes the peer from the FSMap (with its claim and credentials) and says so. */
  private async removeCephPeer(
    peer: MirrorPeer,
    runtime: MirrorRuntime,
    uuid: string,
    what: string,
  ): Promise<void> {
    await removePeer(runtime.rados, runtime.fsName, uuid, {
      ...runtime.remote,
      allowInsecureV1: peer.spec.allowInsecureV1 === true,
    });
    this.ctx.events.record(peer, 'Normal', 'PeerRemoved', `${what} removed from ${runtime.fsName}`);
    this.syncViewsChanged(peer);
    runtime.syncViews.peersChanged();
  }

  /**
   * Reads this peer's Secret again (the last read may be up to a resync period old) and those of
   * the other MirrorPeers of its mirror not read yet (duplicates are decided from them). A Secret
   * that cannot be read (e.g. 403) is said in Ready (reason SecretUnreadable) and retried.
   */
  private async readSecrets(peer: MirrorPeer): Promise<void> {
    const ns = peer.metadata.namespace;
    const refOf = (p: MirrorPeer): Array<{ namespace: string; name: string }> => {
      const name = p.spec.bootstrapTokenSecretRef?.name ?? p.spec.remote?.keySecretRef?.name;
      return name ? [{ namespace: ns, name }] : [];
    };
    const others = this.ctx.peers
      .list(ns)
      .filter((p) => p.spec.mirrorRef?.name === peer.spec.mirrorRef.name)
      .flatMap(refOf);
    try {
      await this.ctx.secrets.read(refOf(peer), others);
    } catch (e) {
      if (!isBeingDeleted(peer)) {
        await this.fail(peer, {
          reason: 'SecretUnreadable',
          message: `a Secret this MirrorPeer depends on could not be read: ${describeApiError(e)}`,
        });
      }
      throw e;
    }
  }

  /** The MirrorPeers of the same mirror (this one included) with the peer each resolves to. */
  private candidates(
    peer: MirrorPeer,
    fsName: string,
  ): Array<{ object: MirrorPeer; identity: PeerIdentity | undefined }> {
    const mirrorName = peer.spec.mirrorRef.name;
    const others = this.ctx.peers
      .list(peer.metadata.namespace)
      .filter((p) => p.spec.mirrorRef?.name === mirrorName && !sameObject(p, peer));
    return [peer, ...others].map((p) => {
      const d = desiredPeer(this.ctx.secrets, p, fsName);
      return { object: p, identity: 'reason' in d ? undefined : d.identity };
    });
  }

  private async fail(peer: MirrorPeer, problem: Problem): Promise<void> {
    await writeStatus(this.ctx.api, KINDS.peer, peer, notReadyStatus(peer, problem));
    this.ctx.events.record(peer, 'Warning', problem.reason, problem.message);
  }

  private async finalize(
    key: string,
    peer: MirrorPeer,
    runtime: MirrorRuntime | undefined,
  ): Promise<FinalizeResult> {
    this.remoteChecked.delete(key);
    const uuid = peer.status?.peerUUID;
    const mirror = this.ctx.mirrors.getByKey(mirrorKeyOf(peer));
    const fsName = runtime?.fsName ?? mirror?.spec.filesystem;
    const identity = fsName === undefined ? undefined : this.identityToRelease(peer, fsName);
    if (uuid !== undefined && fsName !== undefined && identity !== undefined) {
      // Another MirrorPeer declaring the same peer takes it over: nothing in Ceph to undo, and
      // the mirror's engine is not needed to decide that.
      const heir = ownerOf(this.candidates(peer, fsName), identity);
      if (heir) {
        this.ctx.events.record(
          peer,
          'Normal',
          'PeerHandedOver',
          `peer ${identity.spec} (${uuid}) left in Ceph: MirrorPeer ${objectKey(heir.metadata)} declares it too and owns it now`,
        );
        this.ctx.enqueue.peer(objectKey(heir.metadata));
        return FINALIZED;
      }
    }
    if (uuid !== undefined) {
      if (!runtime) {
        const refused =
          this.ctx.runtimes.whyNotRunning(mirrorKeyOf(peer))?.reason === 'FilesystemOwnedByOther';
        if (mirror && !refused) {
          // The mirror exists but its engine is not running yet (after a restart): wait for it.
          return { requeueAfterMs: MIRROR_NOT_READY_RETRY_MS };
        }
        this.ctx.log.warn(
          refused
            ? 'peer of a mirror refused for another owner deleted; Ceph peer left as it is'
            : 'peer deleted after its mirror; Ceph peer left as it is',
          { peer: peer.metadata.name },
        );
      } else {
        await runtime.serial(async () => {
          if (identity !== undefined) {
            // Decided again in the serial section: a MirrorPeer created meanwhile may have
            // adopted the peer.
            await this.release(peer, runtime, uuid, identity);
            return;
          }
          await this.removeCephPeer(peer, runtime, uuid, `peer ${uuid}`);
        });
      }
    }
    return FINALIZED;
  }

  /** The peer a MirrorPeer being deleted holds: what it recorded, else what its spec says. */
  private identityToRelease(peer: MirrorPeer, fsName: string): PeerIdentity | undefined {
    const recorded = statusIdentity(peer);
    if (recorded) return recorded;
    const d = desiredPeer(this.ctx.secrets, peer, fsName);
    return 'reason' in d ? undefined : d.identity;
  }

  /** The directories' sync views gain or lose a peer: update each directory's status. */
  private syncViewsChanged(peer: MirrorPeer): void {
    for (const key of directoryKeysOf(this.ctx.directories, mirrorKeyOf(peer))) {
      this.ctx.enqueue.directory(key);
    }
  }
}
