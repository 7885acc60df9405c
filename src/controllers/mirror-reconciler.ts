// CephFSMirror: find out which filesystem (cluster fsid, fscid) it names and whether it owns it,
// connect to the cluster, make sure mirroring is enabled on the filesystem, run its engine, publish
// a bootstrap token when asked, apply the unmanaged-directories policy, and report instances and
// directory counts; on every status refresh, stop at once if the mgr `mirroring` module was
// enabled behind its back. A mirror refused because an older one owns its filesystem changes
// nothing in Ceph. Deletion waits for the mirror's peers and directories to be gone, then
// disables mirroring (unless the mgr module holds the filesystem, or another CephFSMirror takes
// it over: then it undoes nothing).
import type { WorkResult } from '../kube/work-queue.js';
import { setCondition } from '../api/conditions.js';
import { BootstrapTokens } from './mirror-bootstrap-token.js';
import { observeMirroringFlag } from './mirror-drift.js';
import { EngineGuard, STATUS_REFRESH_MS } from './mirror-engine-guard.js';
import { finalizeMirror } from './mirror-finalizer.js';
import {
  CLAIM_WAIT_MS,
  MirrorOwnership,
  SETTLED_FAILURES,
  ownedByOther,
  waitingProblem,
} from './mirror-ownership.js';
import { MirrorStatusReporter } from './mirror-status.js';
import { applyUnmanagedPolicy } from './mirror-unmanaged.js';
import { dependentsOfMirror } from './watches.js';
import type { ControllerContext } from './context.js';
import { FilesystemIdentities, type IdentityInput } from './filesystem-identities.js';
import { MirrorDaemonSync, withDaemons, type DaemonsOutcome } from './mirror-daemon-sync.js';
import { describeApiError } from '../kube/kube-api.js';
import type { ConnectionSettings, MirrorRuntime, RuntimeSpec } from './mirror-runtimes.js';
import { isBeingDeleted, writeStatus } from '../kube/object-writes.js';
import { FINALIZED, reconcileWith, type FinalizeResult } from './reconcile-skeleton.js';
import { TerminalError } from './terminal-error.js';
import type { FilesystemIdentity } from './ownership.js';
import { KINDS, objectKey, splitKey, type CephFSMirror } from '../api/resources.js';
import { notReadyStatus, problemOf, readyCondition, type Problem } from './status-helpers.js';

/** A refused mirror looks again now and then (its owner's deletion also enqueues it at once). */
const OWNERSHIP_RECHECK_MS = 30_000;

export { OWNED_BY_OTHER } from './mirror-ownership.js';
export { restartDelayMs } from './mirror-engine-guard.js';
export { adoptedName } from './mirror-unmanaged.js';

export class MirrorReconciler {
  /** Which filesystem each mirror names, and whether it owns it. */
  private readonly owners: MirrorOwnership;
  /** Daemons seen, status and metrics of running mirrors. */
  private readonly statusReporter: MirrorStatusReporter;
  /** Bootstrap token Secrets written (spec.bootstrapTokenSecret). */
  private readonly tokens: BootstrapTokens;
  /** The mgr module check, engine restarts and failed starts. */
  private readonly guard: EngineGuard;
  /** The cephfs-mirror daemons the operator runs for a mirror (spec.daemons). */
  private readonly daemonSync: MirrorDaemonSync;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly identities = new FilesystemIdentities(),
  ) {
    this.daemonSync = new MirrorDaemonSync(ctx);
    this.owners = new MirrorOwnership(ctx, identities);
    this.statusReporter = new MirrorStatusReporter(ctx);
    this.tokens = new BootstrapTokens(ctx);
    this.guard = new EngineGuard({
      ctx,
      identities,
      enqueueDependents: (m) => this.enqueueDependents(m),
      fail: (m, problem, event) => this.fail(m, problem, event),
    });
    // An engine that stopped by itself (fenced, or displaced by an older claimant): say so now,
    // and reconcile the mirror (it reports the stop, then starts afresh after a backoff) and its
    // dependents (their runtime is gone).
    ctx.runtimes.onEngineStopped((key, stop) => {
      const mirror = ctx.mirrors.getByKey(key);
      if (!mirror) return;
      ctx.events.record(mirror, 'Warning', stop.reason, stop.message);
      ctx.enqueue.mirror(key);
      this.enqueueDependents(mirror);
    });
  }

  reconcile(key: string): Promise<WorkResult> {
    return reconcileWith<CephFSMirror, IdentityInput>(key, {
      api: this.ctx.api,
      kind: KINDS.mirror,
      get: (namespace, name) => this.ctx.mirrors.get(namespace, name),
      gone: (k) => this.gone(k),
      prepare: async (mirror) => {
        await this.readSecrets(mirror);
        return this.owners.identityInput(mirror);
      },
      finalize: (k, mirror, input) => this.finalize(k, mirror, input),
      finalized: (k) => {
        // Whoever claims the same filesystem next decides again at once.
        for (const m of this.ctx.mirrors.list()) {
          const other = objectKey(m.metadata);
          if (other !== k) this.ctx.enqueue.mirror(other);
        }
      },
      apply: (k, mirror, input) => this.apply(k, mirror, input),
      fail: (mirror, problem, event) => this.fail(mirror, problem, event),
    });
  }

  private async gone(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    await this.ctx.runtimes.forget(key);
    this.identities.forget(key);
    this.guard.forget(key);
    this.tokens.forget(key);
    this.daemonSync.forget(key);
    this.statusReporter.forgetMetrics(namespace, name);
  }

  private async apply(
    key: string,
    mirror: CephFSMirror,
    input: IdentityInput,
  ): Promise<WorkResult> {
    if ('reason' in input) {
      // Others deciding ownership learn that this one claims nothing (until its Secret changes).
      await this.identities.resolve(key, input, true);
      throw new TerminalError(input);
    }
    const spec = this.runtimeSpec(mirror, input.settings);
    const ownership = await this.owners.ownership(key, mirror, input);
    const { own, decision } = ownership;
    if (own.state !== 'resolved' || decision.kind === 'unresolved') {
      const problem: Problem =
        own.state === 'failed'
          ? own
          : { reason: 'ResolutionFailed', message: 'the filesystem could not be identified' };
      // Whatever ran before ran for a spec that no longer resolves: it must not go on.
      await this.ctx.runtimes.stop(key);
      this.ctx.runtimes.setNotRunning(key, problem);
      // No such filesystem, or another cluster: only a change (of the spec, or in Ceph) helps.
      if (SETTLED_FAILURES.has(problem.reason)) {
        throw new TerminalError(problem, { recheckAfterMs: OWNERSHIP_RECHECK_MS });
      }
      await this.fail(mirror, problem);
      throw new Error(`${problem.reason}: ${problem.message}`);
    }
    if (decision.kind === 'refused') return this.refuse(key, mirror, decision.owner, own.identity);
    if (decision.kind === 'wait') {
      await this.fail(mirror, waitingProblem(decision.for), false);
      return { requeueAfterMs: CLAIM_WAIT_MS };
    }

    const previous = this.ctx.runtimes.get(key);
    if (previous) {
      const stopped = await this.guard.checkMgrModule(key, mirror, previous);
      if (stopped) return stopped;
    }
    const backoff = this.guard.restartBackoff(key);
    if (backoff) {
      await this.fail(mirror, backoff.problem, false);
      return { requeueAfterMs: backoff.waitMs };
    }
    let runtime: MirrorRuntime;
    try {
      runtime = await this.ctx.runtimes.ensure(key, spec, this.owners.claim(key, own.identity));
    } catch (e) {
      return this.guard.startFailed(key, mirror, e);
    }
    if (runtime !== this.ctx.runtimes.get(key)) {
      // Displaced by an older claimant while starting: its reconcile has taken over.
      return { requeueAfterMs: CLAIM_WAIT_MS };
    }
    if (runtime !== previous) {
      this.guard.started(key);
      // Said once per transition: an operator restart finds the condition already True.
      const wasEnabled = mirror.status?.conditions?.some(
        (c) => c.type === 'MirroringEnabled' && c.status === 'True',
      );
      if (!wasEnabled) {
        this.ctx.events.record(
          mirror,
          'Normal',
          'MirroringEnabled',
          `mirroring enabled on filesystem ${spec.fsName}`,
        );
      }
      if (runtime.tookOverFromMgrModule) {
        const n = runtime.engine.trackedPaths().length;
        this.ctx.events.record(
          mirror,
          'Normal',
          'MgrModuleDisabled',
          `disabled the Ceph mgr "mirroring" module and took over filesystem ${spec.fsName} ` +
            `with the ${n} director${n === 1 ? 'y' : 'ies'} of its directory map`,
        );
      }
      this.enqueueDependents(mirror);
    }
    let tokenProblem: Problem | undefined;
    let daemons: DaemonsOutcome = {};
    try {
      tokenProblem = await this.tokens.publish(mirror, runtime);
      await applyUnmanagedPolicy(this.ctx, mirror, runtime);
      daemons = await this.daemonSync.apply(mirror, runtime.rados, spec.connection.monHost);
    } catch (e) {
      await this.fail(mirror, problemOf(e));
      throw e;
    }
    if (runtime !== this.ctx.runtimes.get(key)) return { requeueAfterMs: CLAIM_WAIT_MS };
    const drift = await observeMirroringFlag(this.ctx, mirror, runtime, (m) =>
      this.enqueueDependents(m),
    );
    if (drift) return drift;
    this.statusReporter.reportDaemonChanges(mirror, runtime);
    // The MDS is not in the FSMap's view of a hang: ask it (bounded; the answer shows next time).
    runtime.sourceProbe.poke();
    const healthy = withDaemons(
      this.statusReporter.healthyStatus(mirror, runtime),
      daemons,
      mirror.metadata.generation,
    );
    if (tokenProblem) {
      // Mirroring runs; only the token cannot be published. Said in Ready (a person has to act),
      // with everything else observed kept up to date.
      await writeStatus(
        this.ctx.api,
        KINDS.mirror,
        mirror,
        notReadyStatus({ ...mirror, status: healthy }, tokenProblem),
      );
      this.ctx.events.record(mirror, 'Warning', tokenProblem.reason, tokenProblem.message);
      return { requeueAfterMs: STATUS_REFRESH_MS };
    }
    await writeStatus(this.ctx.api, KINDS.mirror, mirror, healthy);
    return { requeueAfterMs: STATUS_REFRESH_MS };
  }

  /**
   * Reads this mirror's connection Secret again (the last read may be up to a resync period old)
   * and the connection Secrets of the other mirrors not read yet (ownership compares their
   * filesystems). A Secret that cannot be read (e.g. 403: its namespace is not granted) is said
   * in Ready (reason SecretUnreadable) and retried.
   */
  private async readSecrets(mirror: CephFSMirror): Promise<void> {
    const ref = { namespace: mirror.metadata.namespace, name: mirror.spec.cluster.secretRef.name };
    const others = this.ctx.mirrors
      .list()
      .map((m) => ({ namespace: m.metadata.namespace, name: m.spec.cluster?.secretRef?.name }))
      .filter((r): r is { namespace: string; name: string } => Boolean(r.name));
    try {
      await this.ctx.secrets.read([ref], others);
    } catch (e) {
      if (!isBeingDeleted(mirror)) {
        await this.fail(mirror, {
          reason: 'SecretUnreadable',
          message: `a Secret this CephFSMirror depends on could not be read: ${describeApiError(e)}`,
        });
      }
      throw e;
    }
  }

  /** Another CephFSMirror owns the filesystem: run nothing, write nothing in Ceph, say who. */
  private async refuse(
    key: string,
    mirror: CephFSMirror,
    owner: string,
    identity: FilesystemIdentity,
  ): Promise<WorkResult> {
    const wasRunning = this.ctx.runtimes.get(key) !== undefined;
    await this.ctx.runtimes.stop(key);
    const problem = ownedByOther(identity, owner);
    this.ctx.runtimes.setNotRunning(key, problem);
    if (wasRunning) this.enqueueDependents(mirror);
    this.statusReporter.forgetMetrics(mirror.metadata.namespace, mirror.metadata.name);
    const generation = mirror.metadata.generation;
    let conditions = readyCondition(
      mirror.status?.conditions,
      generation,
      false,
      problem.reason,
      problem.message,
    );
    conditions = setCondition(conditions, {
      type: 'MirroringEnabled',
      status: 'Unknown',
      reason: problem.reason,
      message: `not driven by this CephFSMirror: see ${owner}`,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    // Only what is true of this object: no instances or counts of an engine it does not run.
    await writeStatus(this.ctx.api, KINDS.mirror, mirror, {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      state: 'Refused',
      fscid: identity.fscid,
      conditions,
    });
    this.ctx.events.record(mirror, 'Warning', problem.reason, problem.message);
    return { requeueAfterMs: OWNERSHIP_RECHECK_MS };
  }

  private runtimeSpec(mirror: CephFSMirror, connection: ConnectionSettings): RuntimeSpec {
    const policy = mirror.spec.policy;
    return {
      connection,
      fsName: mirror.spec.filesystem,
      tunables: {
        ...(policy?.shuffleThrottleSeconds !== undefined
          ? { shuffleThrottleSeconds: policy.shuffleThrottleSeconds }
          : {}),
        ...(policy?.instanceTimeoutSeconds !== undefined
          ? { instanceTimeoutSeconds: policy.instanceTimeoutSeconds }
          : {}),
        ...(policy?.tickSeconds !== undefined ? { tickSeconds: policy.tickSeconds } : {}),
      },
      takeOverFromMgrModule: mirror.spec.takeOverFromMgrModule === true,
    };
  }

  private async fail(mirror: CephFSMirror, problem: Problem, event = true): Promise<void> {
    await writeStatus(this.ctx.api, KINDS.mirror, mirror, {
      ...notReadyStatus(mirror, problem),
      state: 'Error',
    });
    if (event) this.ctx.events.record(mirror, 'Warning', problem.reason, problem.message);
  }

  /** Every MirrorPeer and MirroredDirectory of this mirror reconciles again (watches.ts). */
  private enqueueDependents(mirror: CephFSMirror): void {
    const { peer, directory } = dependentsOfMirror(this.ctx, objectKey(mirror.metadata));
    for (const key of peer) this.ctx.enqueue.peer(key);
    for (const key of directory) this.ctx.enqueue.directory(key);
  }

  private finalize(
    key: string,
    mirror: CephFSMirror,
    input: IdentityInput,
  ): Promise<FinalizeResult> {
    return finalizeMirror(
      {
        ctx: this.ctx,
        owners: this.owners,
        daemonSync: this.daemonSync,
        runtimeSpec: (m, settings) => this.runtimeSpec(m, settings),
        enqueueDependents: (m) => this.enqueueDependents(m),
        fail: (m, problem) => this.fail(m, problem),
        release: (k) => this.release(k),
      },
      key,
      mirror,
      input,
    );
  }

  /** Nothing more to undo: the finalizer goes (the skeleton removes it, see `finalized`). */
  private release(key: string): FinalizeResult {
    this.tokens.forget(key);
    this.guard.forget(key);
    this.identities.forget(key);
    return FINALIZED;
  }
}
