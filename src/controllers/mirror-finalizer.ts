// Deleting a CephFSMirror: a mirror refused for another owner undoes nothing; otherwise its
// engine is started when not running (its peers and directories need it to finalize), the
// deletion waits for its MirrorPeers and MirroredDirectories to go, removes the daemons it runs,
// and disables mirroring unless another CephFSMirror naming the filesystem takes it over (or the
// mgr module holds it, or Ceph cannot be reached: then it is said and left as it is).
import { disableMirroring, isMgrModuleConflict } from '../ceph/filesystem.js';
import { isBeingDeleted } from '../kube/object-writes.js';
import type { CephFSMirror } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { IdentityInput } from './filesystem-identities.js';
import type { MirrorDaemonSync } from './mirror-daemon-sync.js';
import {
  CLAIM_WAIT_MS,
  SETTLED_FAILURES,
  type MirrorOwnership,
  type Ownership,
} from './mirror-ownership.js';
import type { ConnectionSettings, RuntimeSpec } from './mirror-runtimes.js';
import { describeIdentity, successors } from './ownership.js';
import type { FinalizeResult } from './reconcile-skeleton.js';
import type { Problem } from './status-helpers.js';
import { dependentsOfMirror } from './watches.js';

/** What deletion uses of the mirror reconciler. */
export interface FinalizeDeps {
  ctx: ControllerContext;
  owners: MirrorOwnership;
  daemonSync: MirrorDaemonSync;
  runtimeSpec(mirror: CephFSMirror, connection: ConnectionSettings): RuntimeSpec;
  enqueueDependents(mirror: CephFSMirror): void;
  fail(mirror: CephFSMirror, problem: Problem): Promise<void>;
  /** Forget what is kept for the mirror; FINALIZED. */
  release(key: string): FinalizeResult;
}

export async function finalizeMirror(
  d: FinalizeDeps,
  key: string,
  mirror: CephFSMirror,
  input: IdentityInput,
): Promise<FinalizeResult> {
  let runtime = d.ctx.runtimes.get(key);
  let ownership: Ownership | undefined;
  let unreachable: Problem | undefined = 'reason' in input ? input : undefined;
  if (!('reason' in input)) {
    ownership = await d.owners.ownership(key, mirror, input);
    const { own, decision } = ownership;
    if (decision.kind === 'refused') {
      // It never drove the filesystem (or no longer does): nothing in Ceph is its to undo, and
      // its dependents touched nothing either (they do not wait for it).
      await d.ctx.runtimes.forget(key);
      d.ctx.events.record(
        mirror,
        'Normal',
        'DeletedWithoutChanges',
        `CephFSMirror ${decision.owner} drives ${
          own.state === 'resolved' ? describeIdentity(own.identity) : mirror.spec.filesystem
        }: nothing in Ceph was changed`,
      );
      return d.release(key);
    }
    if (decision.kind === 'wait') return { requeueAfterMs: CLAIM_WAIT_MS };
    if (own.state === 'failed' && !runtime) {
      // No filesystem by that name (any more), or another cluster: there is nothing to undo.
      if (!SETTLED_FAILURES.has(own.reason)) throw new Error(`${own.reason}: ${own.message}`);
      unreachable = own;
    }
  }
  // After a restart the engine may not run yet: start it, since the mirror's peers and
  // directories need it to finalize too. If the Secret is gone nothing can be done in Ceph,
  // and the object must not hang forever.
  if (!runtime && !unreachable && !('reason' in input) && ownership?.own.state === 'resolved') {
    try {
      runtime = await d.ctx.runtimes.ensure(
        key,
        d.runtimeSpec(mirror, input.settings),
        d.owners.claim(key, ownership.own.identity),
      );
    } catch (e) {
      if (!isMgrModuleConflict(e)) throw e;
      // The module drives the filesystem and the mirror was refused (or the module has taken it
      // back): nothing in Ceph is the operator's to undo, and the directories' finalizers wait
      // for this object to go (they cannot release anything without an engine either).
      d.ctx.events.record(
        mirror,
        'Warning',
        'MirroringLeftToMgrModule',
        `the Ceph mgr "mirroring" module is enabled: mirroring of ${mirror.spec.filesystem} ` +
          'and its directory map are left to it',
      );
      return d.release(key);
    }
    d.enqueueDependents(mirror);
  }
  const dependents = dependentsOfMirror(d.ctx, key);
  const waiting = dependents.peer.length + dependents.directory.length;
  if (waiting > 0) {
    await d.fail(mirror, {
      reason: 'WaitingForDependents',
      message: `deleting: waiting for ${waiting} MirrorPeer/MirroredDirectory object(s) of this mirror to go`,
    });
    return { requeueAfterMs: 2000 };
  }
  // The daemons go before mirroring is disabled: Deployments and Secret, then their users.
  if (!(await d.daemonSync.remove(mirror, runtime?.rados))) return { requeueAfterMs: 2000 };
  if (runtime) {
    await runtime.engine.stop();
    // Another CephFSMirror names the same filesystem: it carries on from here, with the dir
    // map as it is (this mirror's own directories are gone with their objects).
    const next = successors(key, ownership?.claimants ?? []).find((c) => {
      const m = d.ctx.mirrors.getByKey(c.key);
      return m !== undefined && !isBeingDeleted(m);
    });
    if (next) {
      d.ctx.events.record(
        mirror,
        'Normal',
        'OwnershipHandedOver',
        `mirroring of ${runtime.fsName} left enabled: CephFSMirror ${next.key} drives it next`,
      );
    } else {
      await disableMirroring(runtime.rados, runtime.fsName);
      d.ctx.events.record(
        mirror,
        'Normal',
        'MirroringDisabled',
        `mirroring disabled on ${runtime.fsName}`,
      );
    }
  } else if (unreachable) {
    d.ctx.events.record(
      mirror,
      'Warning',
      'MirroringLeftEnabled',
      `cannot reach Ceph to disable mirroring: ${unreachable.message}`,
    );
  }
  await d.ctx.runtimes.forget(key);
  return d.release(key);
}
