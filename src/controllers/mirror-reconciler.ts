// CephFSMirror: find out which filesystem (cluster fsid, fscid) it names and whether it owns it,
// connect to the cluster, make sure mirroring is enabled on the filesystem, run its engine, publish
// a bootstrap token when asked, apply the unmanaged-directories policy, and report instances and
// directory counts; on every status refresh, stop at once if the mgr `mirroring` module was
// enabled behind its back. A mirror refused because an older one owns its filesystem changes
// nothing in Ceph. Deletion waits for the mirror's peers and directories to be gone, then
// disables mirroring (unless the mgr module holds the filesystem, or another CephFSMirror takes
// it over: then it undoes nothing).
import { createBootstrapToken } from '../ceph/bootstrap.js';
import { isCephOpError } from '../ceph/errors.js';
import {
  disableMirroring,
  enableMirroring,
  isMgrModuleConflict,
  mgrMirroringModuleEnabled,
} from '../ceph/filesystem.js';
import { findFilesystem } from '../ceph/fsmap.js';
import { fetchFsMap } from '../ceph/mon.js';
import type { WorkResult } from '../kube/work-queue.js';
import { setCondition } from '../api/conditions.js';
import { pathsClaimedBy } from './directory-claims.js';
import { dependentsOfMirror } from './watches.js';
import type { ControllerContext } from './context.js';
import { FilesystemIdentities, type IdentityInput } from './filesystem-identities.js';
import { MirrorDaemonSync, withDaemons, type DaemonsOutcome } from './mirror-daemon-sync.js';
import { SecretNotOwnedError, describeApiError, isOwnedBy, secretValue } from '../kube/kube-api.js';
import {
  mgrModuleProblem,
  type ConnectionSettings,
  type MirrorRuntime,
  type RuntimeClaim,
  type RuntimeSpec,
} from './mirror-runtimes.js';
import { isBeingDeleted, writeStatus } from '../kube/object-writes.js';
import { FINALIZED, reconcileWith, type FinalizeResult } from './reconcile-skeleton.js';
import { TerminalError } from './terminal-error.js';
import {
  decideOwnership,
  describeIdentity,
  olderFirst,
  successors,
  type Claimant,
  type FilesystemIdentity,
  type OwnershipDecision,
  type Resolution,
} from './ownership.js';
import {
  KINDS,
  objectKey,
  splitKey,
  type CephFSMirror,
  type CephFSMirrorStatus,
  type MirroredDirectory,
} from '../api/resources.js';
import { notReadyStatus, problemOf, readyCondition, type Problem } from './status-helpers.js';

const STATUS_REFRESH_MS = 10_000;
/** createBootstrapToken refusals that need a person (src/ceph/bootstrap.ts, bootstrap-token.ts). */
const REFUSED_TOKEN_USERS = new Set(['ClientCapsMismatch', 'InvalidClientName']);
/** A refused mirror looks again now and then (its owner's deletion also enqueues it at once). */
const OWNERSHIP_RECHECK_MS = 30_000;
/** An older claimant is being resolved by another reconcile: look again shortly. */
const CLAIM_WAIT_MS = 2_000;
/** Another operator process holds the filesystem's RADOS lock. */
const LOCKED_RETRY_MS = 15_000;
/** The mgr module check runs at most this often per mirror (every reconcile would be too many). */
const MGR_CHECK_MIN_INTERVAL_MS = 5_000;
/** After an engine stopped by itself: the first restart after this, doubling, capped. */
const RESTART_BASE_MS = 5_000;
const RESTART_MAX_MS = 120_000;
/** Resolution failures that no retry will fix without a change (of the spec, or in Ceph). */
/** After correcting drift, look again soon: the daemons and peers follow within seconds. */
const DRIFT_RECHECK_MS = 2_000;
const SETTLED_FAILURES = new Set(['FilesystemNotFound', 'FsidMismatch']);

export const OWNED_BY_OTHER = 'FilesystemOwnedByOther';

export function restartDelayMs(consecutiveStops: number): number {
  return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** Math.max(0, consecutiveStops - 1));
}

interface Ownership {
  own: Resolution;
  decision: OwnershipDecision;
  claimants: Claimant[];
}

export class MirrorReconciler {
  /** Mirror key → the suspected mass failure (its start) already reported with an Event. */
  private readonly massFailureReported = new Map<string, number>();
  /** Mirror key → live daemon id → when it was first seen (status.instances[].since). */
  private readonly daemonsSeen = new Map<string, Map<string, string>>();
  /** Mirror key → generation whose bootstrap token Secret is written. */
  private readonly tokensWritten = new Map<string, number>();
  /** Mirror key → when the mgr module was last checked for it. */
  private readonly moduleCheckedAt = new Map<string, number>();
  /** The cephfs-mirror daemons the operator runs for a mirror (spec.daemons). */
  private readonly daemonSync: MirrorDaemonSync;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly identities = new FilesystemIdentities(),
  ) {
    this.daemonSync = new MirrorDaemonSync(ctx);
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
        return this.identityInput(mirror);
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
    this.moduleCheckedAt.delete(key);
    this.tokensWritten.delete(key);
    this.daemonSync.forget(key);
    this.forgetMetrics(namespace, name);
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
    const ownership = await this.ownership(key, mirror, input);
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
      const stopped = await this.checkMgrModule(key, mirror, previous);
      if (stopped) return stopped;
    }
    const backoff = this.restartBackoff(key);
    if (backoff) {
      await this.fail(mirror, backoff.problem, false);
      return { requeueAfterMs: backoff.waitMs };
    }
    let runtime: MirrorRuntime;
    try {
      runtime = await this.ctx.runtimes.ensure(key, spec, this.claim(key, own.identity));
    } catch (e) {
      return this.startFailed(key, mirror, e);
    }
    if (runtime !== this.ctx.runtimes.get(key)) {
      // Displaced by an older claimant while starting: its reconcile has taken over.
      return { requeueAfterMs: CLAIM_WAIT_MS };
    }
    if (runtime !== previous) {
      this.moduleCheckedAt.set(key, Date.now());
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
      tokenProblem = await this.publishBootstrapToken(mirror, runtime);
      await this.applyUnmanagedPolicy(mirror, runtime);
      daemons = await this.daemonSync.apply(mirror, runtime.rados, spec.connection.monHost);
    } catch (e) {
      await this.fail(mirror, problemOf(e));
      throw e;
    }
    if (runtime !== this.ctx.runtimes.get(key)) return { requeueAfterMs: CLAIM_WAIT_MS };
    const drift = await this.observeMirroringFlag(mirror, runtime);
    if (drift) return drift;
    this.reportDaemonChanges(mirror, runtime);
    // The MDS is not in the FSMap's view of a hang: ask it (bounded; the answer shows next time).
    runtime.sourceProbe.poke();
    const healthy = withDaemons(
      this.healthyStatus(mirror, runtime),
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

  // ---- ownership ------------------------------------------------------------------------------

  /** What the mirror's spec gives to find its filesystem: settings, or why there are none. */
  private identityInput(mirror: CephFSMirror): IdentityInput {
    const settings = this.connectionSettings(mirror);
    if ('reason' in settings) return settings;
    return { settings, fsName: mirror.spec.filesystem };
  }

  private claimant(mirror: CephFSMirror, resolution: Resolution): Claimant {
    return {
      key: objectKey(mirror.metadata),
      ...(mirror.metadata.creationTimestamp
        ? { creationTimestamp: String(mirror.metadata.creationTimestamp) }
        : {}),
      ...(mirror.metadata.uid ? { uid: mirror.metadata.uid } : {}),
      resolution,
    };
  }

  /**
   * Resolves this mirror (retrying a failure: this is its own reconcile) and every older one
   * whose identity is not known yet (a failure stays a failure: it claims nothing), then decides.
   * Younger claimants are taken as they are known: they cannot take the filesystem from this one.
   */
  private async ownership(
    key: string,
    mirror: CephFSMirror,
    input: IdentityInput,
  ): Promise<Ownership> {
    const own = await this.identities.resolve(key, input, true);
    const me = this.claimant(mirror, own);
    const claimants = await Promise.all(
      this.ctx.mirrors.list().map(async (m): Promise<Claimant> => {
        const mKey = objectKey(m.metadata);
        if (mKey === key) return me;
        const mInput = this.identityInput(m);
        const known = this.claimant(m, this.known(mKey, mInput));
        if (known.resolution.state !== 'unknown' || olderFirst(known, me) > 0) return known;
        return this.claimant(m, await this.identities.resolve(mKey, mInput));
      }),
    );
    if (!claimants.includes(me)) claimants.push(me);
    return { own, decision: decideOwnership(key, claimants), claimants };
  }

  /**
   * What is known of another mirror's identity: the filesystem its engine drives, when it runs
   * one here (its Secret may be gone since: it still holds the filesystem), else its resolution.
   */
  private known(key: string, input: IdentityInput): Resolution {
    const running = this.ctx.runtimes.get(key);
    if (running) return { state: 'resolved', identity: running.identity };
    return this.identities.peek(key, input);
  }

  /** The same decision from what is known now, without Ceph round trips (under the start lock). */
  private claim(key: string, identity: FilesystemIdentity): RuntimeClaim {
    return {
      identity,
      check: () => {
        const claimants = this.ctx.mirrors
          .list()
          .map((m) => this.claimant(m, this.known(objectKey(m.metadata), this.identityInput(m))));
        const decision = decideOwnership(key, claimants);
        if (decision.kind === 'owner') return undefined;
        if (decision.kind === 'refused') return ownedByOther(identity, decision.owner);
        if (decision.kind === 'wait') return waitingProblem(decision.for);
        return {
          reason: 'OwnershipUndecided',
          message: 'the CephFSMirror changed while its filesystem was being identified',
        };
      },
    };
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
    this.forgetMetrics(mirror.metadata.namespace, mirror.metadata.name);
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

  // ---- the mgr module and engine stops ---------------------------------------------------------

  /**
   * The mgr `mirroring` module enabled while the engine runs: without a takeover, stop the engine
   * at once (the module writes the same dir map) and report `MgrModuleEnabled`; with one, stop it
   * too and let this reconcile start a fresh engine, which disables the module again.
   */
  private async checkMgrModule(
    key: string,
    mirror: CephFSMirror,
    runtime: MirrorRuntime,
  ): Promise<WorkResult | undefined> {
    const now = Date.now();
    if (now - (this.moduleCheckedAt.get(key) ?? 0) < MGR_CHECK_MIN_INTERVAL_MS) return undefined;
    this.moduleCheckedAt.set(key, now);
    if (!(await mgrMirroringModuleEnabled(runtime.rados))) return undefined;
    await this.ctx.runtimes.stop(key);
    this.enqueueDependents(mirror);
    if (runtime.takeOverFromMgrModule) {
      this.ctx.events.record(
        mirror,
        'Warning',
        'MgrModuleReenabled',
        `the Ceph mgr "mirroring" module was enabled again: stopped the engine of ` +
          `${runtime.fsName} to take the filesystem over once more (spec.takeOverFromMgrModule)`,
      );
      return undefined;
    }
    const problem = mgrModuleProblem();
    this.ctx.runtimes.setNotRunning(key, problem);
    await this.fail(mirror, problem);
    return { requeueAfterMs: STATUS_REFRESH_MS };
  }

  /** While an engine that stopped by itself waits for its restart: what to report, how long. */
  private restartBackoff(key: string): { problem: Problem; waitMs: number } | undefined {
    if (this.ctx.runtimes.get(key)) return undefined;
    const stop = this.ctx.runtimes.lastStop(key);
    if (!stop || stop.reason === OWNED_BY_OTHER) return undefined;
    const waitMs = stop.at + restartDelayMs(stop.count) - Date.now();
    if (waitMs <= 0) return undefined;
    return { problem: { reason: stop.reason, message: stop.message }, waitMs };
  }

  private async startFailed(key: string, mirror: CephFSMirror, e: unknown): Promise<WorkResult> {
    const problem = problemOf(e, 'MirroringUnavailable');
    this.ctx.runtimes.setNotRunning(key, problem);
    if (isMgrModuleConflict(e)) {
      // Looked at again every refresh: the module going away is noticed without a long backoff.
      await this.fail(mirror, mgrModuleProblem());
      return { requeueAfterMs: STATUS_REFRESH_MS };
    }
    if (isCephOpError(e) && e.reason === 'FilesystemLockedByOther') {
      await this.fail(mirror, problem);
      return { requeueAfterMs: LOCKED_RETRY_MS };
    }
    if (
      isCephOpError(e) &&
      [OWNED_BY_OTHER, 'WaitingForOlderClaimant', 'OwnershipUndecided'].includes(e.reason)
    ) {
      // The start lock's check saw a change since this reconcile decided: decide again.
      await this.fail(mirror, problem, false);
      return { requeueAfterMs: CLAIM_WAIT_MS };
    }
    if (isCephOpError(e) && e.reason === 'FilesystemIdentityChanged') this.identities.forget(key);
    await this.fail(mirror, problem);
    throw e;
  }

  private connectionSettings(mirror: CephFSMirror): ConnectionSettings | Problem {
    const ref = mirror.spec.cluster.secretRef.name;
    const secret = this.ctx.secrets.get(mirror.metadata.namespace, ref);
    if (!secret) {
      return { reason: 'SecretNotFound', message: `Secret ${ref} does not exist` };
    }
    const monHost = secretValue(secret, 'mon_host');
    const key = secretValue(secret, 'key');
    const missing = [!monHost && 'mon_host', !key && 'key'].filter(Boolean);
    if (!monHost || !key) {
      return { reason: 'SecretInvalid', message: `Secret ${ref} lacks ${missing.join(' and ')}` };
    }
    // No default user: a key without its user would be tried as client.admin's, and the
    // operator should never be handed an admin key by accident (docs/security.md).
    const clientId = secretValue(secret, 'client_id')?.replace(/^client\./, '');
    if (!clientId) {
      return {
        reason: 'SecretInvalid',
        message:
          `Secret ${ref} lacks client_id (the Ceph user the key belongs to, ` +
          'e.g. cephfs-mirror-operator; there is no default)',
      };
    }
    return {
      monHost,
      key,
      clientId,
      ...(mirror.spec.cluster.fsid ? { fsid: mirror.spec.cluster.fsid } : {}),
      ...(mirror.spec.cluster.allowInsecureV1 === true ? { allowInsecureV1: true } : {}),
    };
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

  /**
   * Writes the bootstrap token Secret, if the spec asks for one and it was not written for this
   * generation yet. Returns the problem (SecretNotOwned) when a Secret of that name exists that
   * this CephFSMirror did not create: nothing is written then.
   */
  private async publishBootstrapToken(
    mirror: CephFSMirror,
    runtime: MirrorRuntime,
  ): Promise<Problem | undefined> {
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

  /** Directories in the dir map that no MirroredDirectory of this mirror declares. */
  private undeclared(mirror: CephFSMirror, runtime: MirrorRuntime): string[] {
    const declared = new Set<string>();
    // What each object manages (its admitted entry while a path or mirrorRef edit is pending)
    // as well as what it declares: neither may be pruned or adopted by another object.
    for (const d of this.ctx.directories.list(mirror.metadata.namespace)) {
      for (const p of pathsClaimedBy(d, mirror.metadata.name)) declared.add(p);
    }
    return runtime.engine.trackedPaths().filter((p) => !declared.has(p));
  }

  private async applyUnmanagedPolicy(mirror: CephFSMirror, runtime: MirrorRuntime): Promise<void> {
    const policy = mirror.spec.unmanagedDirectories ?? 'Retain';
    if (policy === 'Retain') return;
    const key = objectKey(mirror.metadata);
    for (const path of this.undeclared(mirror, runtime)) {
      // Displaced or stopped meanwhile (an older claimant, the mgr module): not ours to change.
      if (this.ctx.runtimes.get(key) !== runtime) return;
      const status = runtime.engine.status(path);
      if (!status || status.purging) continue;
      if (policy === 'Prune') {
        await runtime.engine.removeDirectory(path);
        this.ctx.events.record(
          mirror,
          'Normal',
          'Pruned',
          `stopped mirroring undeclared directory ${path}`,
        );
      } else {
        const body: MirroredDirectory = {
          apiVersion: mirror.apiVersion,
          kind: 'MirroredDirectory',
          metadata: {
            name: adoptedName(mirror.metadata.name, path),
            namespace: mirror.metadata.namespace,
            labels: { 'mirror.cephfs.io/adopted': 'true' },
          },
          spec: { mirrorRef: { name: mirror.metadata.name }, path },
        };
        try {
          await this.ctx.api.create(KINDS.directory, body);
          this.ctx.events.record(
            mirror,
            'Normal',
            'Adopted',
            `created MirroredDirectory for ${path}`,
          );
        } catch (e) {
          if ((e as { code?: number }).code !== 409) throw e;
        }
      }
    }
  }

  /**
   * Ready=True is an observation: read the FSMap every refresh. Mirroring switched off behind our
   * back (`ceph fs mirror disable`, which also drops the peers) is reported as seen
   * (MirroringEnabled=False DisabledOutOfBand, Ready=False), switched on again, and said so
   * (Warning Event DriftCorrected, metric); the peers are re-added by their MirrorPeers.
   */
  private async observeMirroringFlag(
    mirror: CephFSMirror,
    runtime: MirrorRuntime,
  ): Promise<WorkResult | undefined> {
    const fs = findFilesystem(await fetchFsMap(runtime.rados), runtime.fsName);
    if (!fs || fs.mirrorInfo.enabled) return undefined;
    const generation = mirror.metadata.generation;
    const seen: Problem = {
      reason: 'DisabledOutOfBand',
      message: `mirroring of filesystem ${runtime.fsName} was disabled outside the operator; enabling it again`,
    };
    let conditions = readyCondition(
      mirror.status?.conditions,
      generation,
      false,
      seen.reason,
      seen.message,
    );
    conditions = setCondition(conditions, {
      type: 'MirroringEnabled',
      status: 'False',
      reason: seen.reason,
      message: `fs dump shows no mirror_info for ${runtime.fsName}`,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    await writeStatus(this.ctx.api, KINDS.mirror, mirror, {
      ...mirror.status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      state: 'Degraded',
      conditions,
    });
    await runtime.serial(() => enableMirroring(runtime.rados, runtime.fsName));
    this.ctx.metrics.driftCorrections.inc({ kind: 'CephFSMirror', what: 'mirroring' });
    this.ctx.events.record(
      mirror,
      'Warning',
      'DriftCorrected',
      `mirroring of filesystem ${runtime.fsName} was found disabled; enabled it again`,
    );
    // Disabling dropped the peers from the FSMap: their MirrorPeers put them back.
    this.enqueueDependents(mirror);
    return { requeueAfterMs: DRIFT_RECHECK_MS };
  }

  /** Events for daemons that joined or left since the last refresh, and the time each joined. */
  private reportDaemonChanges(mirror: CephFSMirror, runtime: MirrorRuntime): void {
    const key = objectKey(mirror.metadata);
    const live = runtime.engine.distribution().instances.filter((i) => !i.dead);
    const before = this.daemonsSeen.get(key);
    const now = new Date().toISOString();
    // Keep the since-time of daemons the status already lists (an operator restart).
    const listed = new Map((mirror.status?.instances ?? []).map((i) => [i.id, i.since]));
    const next = new Map<string, string>();
    for (const i of live) {
      next.set(i.id, before?.get(i.id) ?? listed.get(i.id) ?? now);
      if (before && !before.has(i.id)) {
        this.ctx.events.record(
          mirror,
          'Normal',
          'DaemonJoined',
          `cephfs-mirror instance ${i.id} (${i.addr ?? 'unknown address'}) joined`,
        );
      }
    }
    for (const id of before?.keys() ?? []) {
      if (!next.has(id)) {
        this.ctx.events.record(
          mirror,
          'Warning',
          'DaemonLost',
          `cephfs-mirror instance ${id} stopped answering: blocklisted, its directories move to the live daemons`,
        );
      }
    }
    this.daemonsSeen.set(key, next);
    const silent = runtime.engine.suspectedMassFailure();
    if (silent && this.massFailureReported.get(key) !== silent.since) {
      this.massFailureReported.set(key, silent.since);
      this.ctx.events.record(
        mirror,
        'Warning',
        'DaemonsNotAnswering',
        `all ${silent.daemons} cephfs-mirror daemons stopped answering at once: holding their directories back from failover for another instance timeout`,
      );
    }
  }

  private forgetMetrics(namespace: string, mirror: string): void {
    this.ctx.metrics.instances.remove({ namespace, mirror });
    for (const state of ['mapping', 'unmapping', 'shuffling', 'mapped', 'resolving', 'stalled']) {
      this.ctx.metrics.directoriesByState.remove({ namespace, mirror, state });
    }
  }

  private healthyStatus(mirror: CephFSMirror, runtime: MirrorRuntime): CephFSMirrorStatus {
    const dist = runtime.engine.distribution();
    const since = this.daemonsSeen.get(objectKey(mirror.metadata)) ?? new Map<string, string>();
    const live = dist.instances.filter((i) => !i.dead);
    const generation = mirror.metadata.generation;
    const labels = { namespace: mirror.metadata.namespace, mirror: mirror.metadata.name };
    this.ctx.metrics.instances.set(labels, live.length);
    for (const [state, n] of Object.entries(dist.byStatus)) {
      this.ctx.metrics.directoriesByState.set({ ...labels, state }, n);
    }
    // Never green while nothing mirrors: directories and no live daemon is not Ready, nor is
    // every daemon gone silent at once (held back before failing them over).
    const nothingMirrors = dist.directories > 0 && live.length === 0;
    const silent = runtime.engine.suspectedMassFailure();
    // An MDS that does not answer stops every daemon's snapshot reads of this filesystem too.
    const source = runtime.sourceProbe.last();
    const mdsSilent = source.responding ? undefined : source;
    let conditions = readyCondition(
      mirror.status?.conditions,
      generation,
      !nothingMirrors && !silent && !mdsSilent,
      silent
        ? 'DaemonsNotAnswering'
        : mdsSilent
          ? 'FilesystemNotResponding'
          : nothingMirrors
            ? 'NoMirrorDaemons'
            : 'MirroringEnabled',
      silent
        ? `all ${silent.daemons} cephfs-mirror daemons stopped answering at once; failing them over only if they stay silent for another instance timeout`
        : mdsSilent
          ? `filesystem ${runtime.fsName} does not answer the operator's calls: ${mdsSilent.message}`
          : nothingMirrors
            ? `no cephfs-mirror daemon is running for ${runtime.fsName}: ${dist.directories} directories wait`
            : `mirroring ${runtime.fsName} with ${live.length} daemon(s)`,
    );
    conditions = setCondition(conditions, {
      type: 'FilesystemResponding',
      status: mdsSilent ? 'False' : 'True',
      reason: mdsSilent ? 'FilesystemNotResponding' : 'Responding',
      message: mdsSilent
        ? `since ${new Date(mdsSilent.since).toISOString()}: ${mdsSilent.message}`
        : `the MDS of ${runtime.fsName} answers`,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    conditions = setCondition(conditions, {
      type: 'MirroringEnabled',
      status: 'True',
      reason: 'Enabled',
      message: `fs mirror enabled on ${runtime.fsName}`,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    const stalled = dist.byStatus.stalled;
    const degraded = dist.directories > 0 && (live.length === 0 || stalled > 0);
    conditions = setCondition(conditions, {
      type: 'Degraded',
      status: degraded ? 'True' : 'False',
      reason: degraded ? 'NoMirrorDaemons' : 'AsExpected',
      message: degraded ? `${stalled} directories stalled: no mirror daemons running` : '',
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    });
    return {
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      state: degraded ? 'Degraded' : 'Mirroring',
      fscid: runtime.filesystem.fscid,
      metadataPool: runtime.filesystem.metadataPool,
      instanceCount: live.length,
      instances: live
        .map((i) => ({
          id: i.id,
          addr: i.addr ?? '',
          directories: i.directories,
          ...(since.get(i.id) ? { since: since.get(i.id) } : {}),
        }))
        .sort((x, y) => x.id.localeCompare(y.id)),
      directories: { total: dist.directories, ...dist.byStatus },
      conditions,
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

  private async finalize(
    key: string,
    mirror: CephFSMirror,
    input: IdentityInput,
  ): Promise<FinalizeResult> {
    let runtime = this.ctx.runtimes.get(key);
    let ownership: Ownership | undefined;
    let unreachable: Problem | undefined = 'reason' in input ? input : undefined;
    if (!('reason' in input)) {
      ownership = await this.ownership(key, mirror, input);
      const { own, decision } = ownership;
      if (decision.kind === 'refused') {
        // It never drove the filesystem (or no longer does): nothing in Ceph is its to undo, and
        // its dependents touched nothing either (they do not wait for it).
        await this.ctx.runtimes.forget(key);
        this.ctx.events.record(
          mirror,
          'Normal',
          'DeletedWithoutChanges',
          `CephFSMirror ${decision.owner} drives ${
            own.state === 'resolved' ? describeIdentity(own.identity) : mirror.spec.filesystem
          }: nothing in Ceph was changed`,
        );
        return this.release(key);
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
        runtime = await this.ctx.runtimes.ensure(
          key,
          this.runtimeSpec(mirror, input.settings),
          this.claim(key, ownership.own.identity),
        );
      } catch (e) {
        if (!isMgrModuleConflict(e)) throw e;
        // The module drives the filesystem and the mirror was refused (or the module has taken it
        // back): nothing in Ceph is the operator's to undo, and the directories' finalizers wait
        // for this object to go (they cannot release anything without an engine either).
        this.ctx.events.record(
          mirror,
          'Warning',
          'MirroringLeftToMgrModule',
          `the Ceph mgr "mirroring" module is enabled: mirroring of ${mirror.spec.filesystem} ` +
            'and its directory map are left to it',
        );
        return this.release(key);
      }
      this.enqueueDependents(mirror);
    }
    const dependents = dependentsOfMirror(this.ctx, key);
    const waiting = dependents.peer.length + dependents.directory.length;
    if (waiting > 0) {
      await this.fail(mirror, {
        reason: 'WaitingForDependents',
        message: `deleting: waiting for ${waiting} MirrorPeer/MirroredDirectory object(s) of this mirror to go`,
      });
      return { requeueAfterMs: 2000 };
    }
    // The daemons go before mirroring is disabled: Deployments and Secret, then their users.
    if (!(await this.daemonSync.remove(mirror, runtime?.rados))) return { requeueAfterMs: 2000 };
    if (runtime) {
      await runtime.engine.stop();
      // Another CephFSMirror names the same filesystem: it carries on from here, with the dir
      // map as it is (this mirror's own directories are gone with their objects).
      const next = successors(key, ownership?.claimants ?? []).find((c) => {
        const m = this.ctx.mirrors.getByKey(c.key);
        return m !== undefined && !isBeingDeleted(m);
      });
      if (next) {
        this.ctx.events.record(
          mirror,
          'Normal',
          'OwnershipHandedOver',
          `mirroring of ${runtime.fsName} left enabled: CephFSMirror ${next.key} drives it next`,
        );
      } else {
        await disableMirroring(runtime.rados, runtime.fsName);
        this.ctx.events.record(
          mirror,
          'Normal',
          'MirroringDisabled',
          `mirroring disabled on ${runtime.fsName}`,
        );
      }
    } else if (unreachable) {
      this.ctx.events.record(
        mirror,
        'Warning',
        'MirroringLeftEnabled',
        `cannot reach Ceph to disable mirroring: ${unreachable.message}`,
      );
    }
    await this.ctx.runtimes.forget(key);
    return this.release(key);
  }

  /** Nothing more to undo: the finalizer goes (the skeleton removes it, see `finalized`). */
  private release(key: string): FinalizeResult {
    this.tokensWritten.delete(key);
    this.moduleCheckedAt.delete(key);
    this.identities.forget(key);
    return FINALIZED;
  }
}

function ownedByOther(identity: FilesystemIdentity, owner: string): Problem {
  return {
    reason: OWNED_BY_OTHER,
    message:
      `${describeIdentity(identity)} is driven by CephFSMirror ${owner}, the oldest ` +
      'CephFSMirror naming it: this one changes nothing in Ceph while that one exists',
  };
}

function waitingProblem(older: readonly string[]): Problem {
  return {
    reason: 'WaitingForOlderClaimant',
    message: `waiting until the filesystem of older CephFSMirror(s) ${older.join(', ')} is known`,
  };
}

/** A stable, valid object name for an adopted directory. */
export function adoptedName(mirrorName: string, path: string): string {
  const slug = path
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  let hash = 0;
  for (const ch of path) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) >>> 0;
  return `${mirrorName.slice(0, 20)}-${slug || 'root'}-${hash.toString(16)}`.replace(/^-+/, '');
}
