// Brings a CephFSMirror's cephfs-mirror daemons (spec.daemons) to the declared count: a cephx
// user per daemon (ceph/mirror-daemon-users.ts), one Secret with ceph.conf and their keyrings, one
// Deployment per daemon (mirror-daemons.ts builds them). Scaling down deletes the surplus
// Deployments and, once each is gone from the API, removes its user, so a pod still stopping can
// no longer authenticate and the same id started again later gets a new key. Deleting the mirror
// does the same for every daemon (the finalizer path): the ownerReferences would let Kubernetes
// collect the objects, but only the operator can remove the users.
//
// Without spec.daemons nothing is created or listed (daemons run elsewhere); spec.daemons removed
// after it was set scales to zero and empties the Secret of keyrings, then status.daemons goes.
//
// The Secret is never deleted by the operator (its RBAC has no Secret delete: it could otherwise
// delete any Secret of the namespaces it watches): its ownerReference lets Kubernetes' garbage
// collector remove it with the CephFSMirror, and the keys it held stop working as their users go.
import type { Rados } from 'rados-js';
import type { V1Deployment, V1Secret } from '@kubernetes/client-node';
import {
  DaemonUserConflictError,
  ensureDaemonUser,
  removeDaemonUser,
} from '../ceph/mirror-daemon-users.js';
import { Workloads } from '../kube/workloads.js';
import { setCondition } from '../api/conditions.js';
import {
  objectKey,
  type CephFSMirror,
  type CephFSMirrorStatus,
  type MirrorDaemonsStatus,
} from '../api/resources.js';
import type { ControllerContext } from './context.js';
import {
  ANNOTATION_SPEC_HASH,
  LABEL_MIRROR_UID,
  allIdentities,
  daemonDeployment,
  daemonIndexOf,
  daemonSecret,
  desiredIdentities,
  keyringText,
  ownedBy,
  secretName,
  type MirrorRef,
} from './mirror-daemons.js';
import type { Problem } from './status-helpers.js';

export interface DaemonsOutcome {
  /** What to publish as status.daemons; undefined: no field (no daemons managed). */
  status?: MirrorDaemonsStatus;
  /** A daemon that could not be deployed, and why (Ready=False with this reason). */
  problem?: Problem;
}

export const DAEMON_USER_CONFLICT = 'DaemonUserConflict';
export const DAEMON_DEPLOYMENT_CONFLICT = 'DaemonDeploymentConflict';
export const DAEMON_SECRET_CONFLICT = 'DaemonSecretConflict';
const USER_RECHECK_MS = 60_000;

export class MirrorDaemonSync {
  private readonly workloads: Workloads;
  /** Mirror key → daemon users known to be removed (unknown after a restart: removed again). */
  private readonly usersAbsent = new Map<string, Set<string>>();
  /**
   * Entity → its key and when `auth get-or-create` last confirmed it. Confirmed again after
   * USER_RECHECK_MS (a user removed behind the operator's back is created again then), not on
   * every 10 s refresh: up to 16 mon commands per mirror each time would be load for nothing.
   */
  private readonly confirmed = new Map<string, { key: string; at: number }>();

  constructor(private readonly ctx: ControllerContext) {
    this.workloads = new Workloads(ctx.api.http);
  }

  /** Whether the mirror has (or had) daemons of the operator's. */
  static manages(mirror: CephFSMirror): boolean {
    return mirror.spec.daemons !== undefined || mirror.status?.daemons !== undefined;
  }

  async apply(mirror: CephFSMirror, rados: Rados, monHost: string): Promise<DaemonsOutcome> {
    if (!MirrorDaemonSync.manages(mirror)) return {};
    const ref = refOf(mirror);
    const spec = mirror.spec.daemons;
    const count = spec?.count ?? 0;
    const want = desiredIdentities(ref, count);
    const absent = this.absentSet(mirror);
    const problems: Problem[] = [];

    const keys = new Map<string, string>();
    for (const d of want) {
      try {
        const known = this.confirmed.get(d.entity);
        let key = known?.key;
        if (!known || key === undefined || Date.now() - known.at >= USER_RECHECK_MS) {
          key = await ensureDaemonUser(rados, d.entity);
          this.confirmed.set(d.entity, { key, at: Date.now() });
        }
        keys.set(d.entity, key);
        absent.delete(d.entity);
      } catch (e) {
        if (!(e instanceof DaemonUserConflictError)) throw e;
        problems.push({ reason: e.reason, message: e.message });
      }
    }

    const secretProblem = await this.writeSecret(
      mirror,
      daemonSecret(ref, monHost, keys, want),
      spec !== undefined,
    );
    if (secretProblem) problems.push(secretProblem);

    const existing = await this.workloads.listDeployments(ref.namespace, {
      [LABEL_MIRROR_UID]: ref.uid,
    });
    let deployed = 0;
    // A Secret that is not ours would hand the pods someone else's files: deploy nothing then.
    for (const d of spec && !secretProblem ? want : []) {
      const key = keys.get(d.entity);
      if (key === undefined) continue;
      const desired = daemonDeployment(ref, spec ?? { count }, d, keyringText(d.entity, key));
      const current =
        existing.find((x) => x.metadata?.name === d.deployment) ??
        (await this.workloads.getDeployment(ref.namespace, d.deployment));
      if (!current) {
        await this.workloads.createDeployment(desired);
        this.ctx.events.record(
          mirror,
          'Normal',
          'DaemonDeployed',
          `created Deployment ${d.deployment} running cephfs-mirror as ${d.entity}`,
        );
      } else if (!ownedBy(current, ref.uid)) {
        problems.push({
          reason: DAEMON_DEPLOYMENT_CONFLICT,
          message: `Deployment ${d.deployment} exists and is not this CephFSMirror's: delete or rename it`,
        });
        continue;
      } else if (
        current.metadata?.annotations?.[ANNOTATION_SPEC_HASH] !==
        desired.metadata?.annotations?.[ANNOTATION_SPEC_HASH]
      ) {
        await this.workloads.replaceDeployment(updated(current, desired));
      }
      deployed++;
    }

    // Scale down: the Deployments beyond the count (all of them without spec.daemons) go first.
    for (const dep of existing) {
      const index = daemonIndexOf(dep);
      if (index === undefined || index < want.length || !ownedBy(dep, ref.uid)) continue;
      const name = dep.metadata?.name ?? '';
      const deleted = await this.workloads.deleteDeployment(ref.namespace, name, dep.metadata?.uid);
      if (deleted) {
        this.ctx.events.record(
          mirror,
          'Normal',
          'DaemonRemoved',
          `deleted Deployment ${name} (spec.daemons.count is ${count})`,
        );
      }
    }
    const leftovers = await this.removeSurplusUsers(mirror, rados, want.length);

    if (!spec) {
      if (leftovers > 0)
        return { status: { ...statusOf(count, deployed, []), deployed: leftovers } };
      this.usersAbsent.delete(objectKey(mirror.metadata));
      return {};
    }
    const status: MirrorDaemonsStatus = {
      ...statusOf(count, deployed, want),
      secretName: secretName(ref),
    };
    const problem = problems.length === 0 ? undefined : combined(problems);
    return problem ? { status, problem } : { status };
  }

  /**
   * The finalizer's part: every Deployment deleted, then every daemon user removed (the Secret
   * goes with the mirror, through its ownerReference). Resolves false while a Deployment is still
   * there (someone's finalizer): call again.
   * Without a Ceph connection the users cannot be removed: said with a Warning Event.
   */
  async remove(mirror: CephFSMirror, rados: Rados | undefined): Promise<boolean> {
    if (!MirrorDaemonSync.manages(mirror)) return true;
    const ref = refOf(mirror);
    const selector = { [LABEL_MIRROR_UID]: ref.uid };
    for (const dep of await this.workloads.listDeployments(ref.namespace, selector)) {
      if (!ownedBy(dep, ref.uid)) continue;
      await this.workloads.deleteDeployment(
        ref.namespace,
        dep.metadata?.name ?? '',
        dep.metadata?.uid,
      );
    }
    const remaining = (await this.workloads.listDeployments(ref.namespace, selector)).filter((d) =>
      ownedBy(d, ref.uid),
    );
    if (remaining.length > 0) return false;
    if (!rados) {
      this.ctx.events.record(
        mirror,
        'Warning',
        'DaemonUsersLeft',
        `cannot reach Ceph: the cephfs-mirror daemon users client.${allIdentities(ref)[0]?.clientId.replace(/\.0$/, '')}.* are left in place`,
      );
    } else {
      const foreign: string[] = [];
      for (const d of allIdentities(ref)) {
        this.confirmed.delete(d.entity);
        if ((await removeDaemonUser(rados, d.entity)) === 'foreign') foreign.push(d.entity);
      }
      this.ctx.events.record(
        mirror,
        'Normal',
        'DaemonUsersRemoved',
        'removed the Deployments and Ceph users of the cephfs-mirror daemons' +
          (foreign.length > 0
            ? `; left ${foreign.join(', ')} (other caps: not the operator's)`
            : ''),
      );
    }
    this.usersAbsent.delete(objectKey(mirror.metadata));
    return true;
  }

  forget(key: string): void {
    this.usersAbsent.delete(key);
  }

  private absentSet(mirror: CephFSMirror): Set<string> {
    const key = objectKey(mirror.metadata);
    let set = this.usersAbsent.get(key);
    if (!set) {
      set = new Set();
      this.usersAbsent.set(key, set);
    }
    return set;
  }

  /**
   * Removes the users of indexes >= `keep` whose Deployment is gone from the API (each once per
   * operator process). Returns how many surplus Deployments are still there.
   */
  private async removeSurplusUsers(
    mirror: CephFSMirror,
    rados: Rados,
    keep: number,
  ): Promise<number> {
    const ref = refOf(mirror);
    const absent = this.absentSet(mirror);
    const still = new Set(
      (await this.workloads.listDeployments(ref.namespace, { [LABEL_MIRROR_UID]: ref.uid }))
        .filter((d) => ownedBy(d, ref.uid))
        .map(daemonIndexOf)
        .filter((i): i is number => i !== undefined && i >= keep),
    );
    for (const d of allIdentities(ref).slice(keep)) {
      if (absent.has(d.entity) || still.has(d.index)) continue;
      this.confirmed.delete(d.entity);
      await removeDaemonUser(rados, d.entity);
      absent.add(d.entity);
    }
    return still.size;
  }

  /** Writes the daemons' Secret (creating it only when `create`); a stranger's is a problem. */
  private async writeSecret(
    mirror: CephFSMirror,
    desired: V1Secret,
    create: boolean,
  ): Promise<Problem | undefined> {
    const ns = mirror.metadata.namespace;
    const name = desired.metadata?.name ?? '';
    const current = await this.workloads.getSecret(ns, name);
    if (!current) {
      if (create) await this.workloads.createSecret(desired);
      return undefined;
    }
    if (!ownedBy(current, mirror.metadata.uid ?? '')) {
      return {
        reason: DAEMON_SECRET_CONFLICT,
        message: `Secret ${name} exists and is not this CephFSMirror's: delete or rename it`,
      };
    }
    if (sameData(current.data, desired.data) && current.type === desired.type) return undefined;
    await this.workloads.replaceSecret({
      ...desired,
      metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion ?? '' },
    });
    return undefined;
  }
}

/** status.daemons and, when a daemon could not be deployed, Ready=False with the reason. */
export function withDaemons(
  status: CephFSMirrorStatus,
  outcome: DaemonsOutcome,
  generation: number | undefined,
): CephFSMirrorStatus {
  const { daemons: _previous, ...rest } = status;
  const next: CephFSMirrorStatus = outcome.status ? { ...rest, daemons: outcome.status } : rest;
  if (!outcome.problem) return next;
  return {
    ...next,
    conditions: setCondition(next.conditions, {
      type: 'Ready',
      status: 'False',
      reason: outcome.problem.reason,
      message: outcome.problem.message,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    }),
  };
}

function refOf(mirror: CephFSMirror): MirrorRef {
  const uid = mirror.metadata.uid;
  if (!uid) throw new Error(`CephFSMirror ${objectKey(mirror.metadata)} has no uid yet`);
  return {
    apiVersion: mirror.apiVersion,
    kind: mirror.kind,
    name: mirror.metadata.name,
    namespace: mirror.metadata.namespace,
    uid,
  };
}

function statusOf(
  desired: number,
  deployed: number,
  ids: ReturnType<typeof desiredIdentities>,
): MirrorDaemonsStatus {
  return {
    desired,
    deployed,
    identities: ids.map((d) => ({ user: d.entity, deployment: d.deployment })),
  };
}

function combined(problems: Problem[]): Problem {
  const first = problems[0] as Problem;
  if (problems.length === 1) return first;
  return { reason: first.reason, message: problems.map((p) => p.message).join('; ') };
}

function sameData(
  a: Record<string, string> | undefined,
  b: Record<string, string> | undefined,
): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a?.[k] === b?.[k]);
}

/** The desired Deployment with what the API server owns of the current one kept. */
function updated(current: V1Deployment, desired: V1Deployment): V1Deployment {
  return {
    ...desired,
    metadata: {
      ...desired.metadata,
      resourceVersion: current.metadata?.resourceVersion ?? '',
    },
  };
}
