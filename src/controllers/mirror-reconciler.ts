// CephFSMirror: connect to the cluster, make sure mirroring is enabled on the filesystem, run
// its engine, publish a bootstrap token when asked, apply the unmanaged-directories policy, and
// report instances and directory counts. Deletion waits for the mirror's peers and directories to
// be gone, then disables mirroring (unless the mgr module holds the filesystem: then it undoes
// nothing).
import { createBootstrapToken } from '../ceph/bootstrap.js';
import { disableMirroring, isMgrModuleConflict } from '../ceph/filesystem.js';
import { normalizeDirectoryPath } from '../reconcile/index.js';
import type { WorkResult } from './work-queue.js';
import { setCondition } from './conditions.js';
import type { ControllerContext } from './context.js';
import { secretValue } from './kube-api.js';
import type { ConnectionSettings, MirrorRuntime, RuntimeSpec } from './mirror-runtimes.js';
import { ensureFinalizer, isBeingDeleted, removeFinalizer, writeStatus } from './object-writes.js';
import {
  KINDS,
  objectKey,
  splitKey,
  type CephFSMirror,
  type CephFSMirrorStatus,
  type MirroredDirectory,
} from './resources.js';
import { notReadyStatus, problemOf, readyCondition, type Problem } from './status-helpers.js';

const STATUS_REFRESH_MS = 10_000;

export class MirrorReconciler {
  /** Mirror key → generation whose bootstrap token Secret is written. */
  private readonly tokensWritten = new Map<string, number>();

  constructor(private readonly ctx: ControllerContext) {}

  async reconcile(key: string): Promise<WorkResult> {
    const { namespace, name } = splitKey(key);
    const cached = this.ctx.mirrors.get(namespace, name);
    if (!cached) {
      await this.ctx.runtimes.stop(key);
      this.forgetMetrics(namespace, name);
      return;
    }
    if (isBeingDeleted(cached)) return this.finalize(key, cached);
    // Carry on with the object as written: its resourceVersion is the one the status write needs.
    const mirror = await ensureFinalizer(this.ctx.api, KINDS.mirror, cached);
    if (!mirror) return;

    const settings = this.connectionSettings(mirror);
    if ('reason' in settings) return this.fail(mirror, settings);
    const spec: RuntimeSpec = {
      connection: settings,
      fsName: mirror.spec.filesystem,
      tunables: {
        ...(mirror.spec.policy?.shuffleThrottleSeconds !== undefined
          ? { shuffleThrottleSeconds: mirror.spec.policy.shuffleThrottleSeconds }
          : {}),
        ...(mirror.spec.policy?.instanceTimeoutSeconds !== undefined
          ? { instanceTimeoutSeconds: mirror.spec.policy.instanceTimeoutSeconds }
          : {}),
        ...(mirror.spec.policy?.tickSeconds !== undefined
          ? { tickSeconds: mirror.spec.policy.tickSeconds }
          : {}),
      },
      takeOverFromMgrModule: mirror.spec.takeOverFromMgrModule === true,
    };
    let runtime: MirrorRuntime;
    const previous = this.ctx.runtimes.get(key);
    try {
      runtime = await this.ctx.runtimes.ensure(key, spec);
    } catch (e) {
      await this.fail(mirror, problemOf(e, 'MirroringUnavailable'));
      throw e;
    }
    if (runtime !== previous) {
      this.ctx.events.record(
        mirror,
        'Normal',
        'MirroringEnabled',
        `mirroring enabled on filesystem ${spec.fsName}`,
      );
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
    try {
      await this.publishBootstrapToken(mirror, runtime);
      await this.applyUnmanagedPolicy(mirror, runtime);
    } catch (e) {
      await this.fail(mirror, problemOf(e));
      throw e;
    }
    await writeStatus(this.ctx.api, KINDS.mirror, mirror, this.healthyStatus(mirror, runtime));
    return { requeueAfterMs: STATUS_REFRESH_MS };
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
    const clientId = (secretValue(secret, 'client_id') ?? 'admin').replace(/^client\./, '');
    return {
      monHost,
      key,
      clientId,
      ...(mirror.spec.cluster.fsid ? { fsid: mirror.spec.cluster.fsid } : {}),
    };
  }

  private async publishBootstrapToken(mirror: CephFSMirror, runtime: MirrorRuntime): Promise<void> {
    const want = mirror.spec.bootstrapTokenSecret;
    const key = objectKey(mirror.metadata);
    if (!want || this.tokensWritten.get(key) === mirror.metadata.generation) return;
    const token = await runtime.serial(() =>
      createBootstrapToken(
        runtime.rados,
        runtime.fsName,
        want.clientName ?? 'client.mirror_remote',
        want.siteName ?? mirror.metadata.name,
      ),
    );
    await this.ctx.api.upsertSecret(
      mirror.metadata.namespace,
      want.name,
      { token },
      {
        apiVersion: mirror.apiVersion,
        kind: mirror.kind,
        name: mirror.metadata.name,
        uid: mirror.metadata.uid ?? '',
        controller: true,
      },
    );
    this.tokensWritten.set(key, mirror.metadata.generation ?? 0);
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
    for (const d of this.ctx.directories.list(mirror.metadata.namespace)) {
      if (d.spec.mirrorRef.name !== mirror.metadata.name) continue;
      try {
        declared.add(normalizeDirectoryPath(d.spec.path));
      } catch {
        // An invalid path declares nothing.
      }
    }
    return runtime.engine.trackedPaths().filter((p) => !declared.has(p));
  }

  private async applyUnmanagedPolicy(mirror: CephFSMirror, runtime: MirrorRuntime): Promise<void> {
    const policy = mirror.spec.unmanagedDirectories ?? 'Retain';
    if (policy === 'Retain') return;
    for (const path of this.undeclared(mirror, runtime)) {
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

  private forgetMetrics(namespace: string, mirror: string): void {
    this.ctx.metrics.instances.remove({ namespace, mirror });
    for (const state of ['mapping', 'unmapping', 'shuffling', 'mapped', 'resolving', 'stalled']) {
      this.ctx.metrics.directoriesByState.remove({ namespace, mirror, state });
    }
  }

  private healthyStatus(mirror: CephFSMirror, runtime: MirrorRuntime): CephFSMirrorStatus {
    const dist = runtime.engine.distribution();
    const live = dist.instances.filter((i) => !i.dead);
    const generation = mirror.metadata.generation;
    const labels = { namespace: mirror.metadata.namespace, mirror: mirror.metadata.name };
    this.ctx.metrics.instances.set(labels, live.length);
    for (const [state, n] of Object.entries(dist.byStatus)) {
      this.ctx.metrics.directoriesByState.set({ ...labels, state }, n);
    }
    let conditions = readyCondition(
      mirror.status?.conditions,
      generation,
      true,
      'MirroringEnabled',
      `mirroring ${runtime.fsName} with ${live.length} daemon(s)`,
    );
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
        .map((i) => ({ id: i.id, addr: i.addr ?? '', directories: i.directories }))
        .sort((x, y) => x.id.localeCompare(y.id)),
      directories: { total: dist.directories, ...dist.byStatus },
      conditions,
    };
  }

  private async fail(mirror: CephFSMirror, problem: Problem): Promise<WorkResult> {
    await writeStatus(this.ctx.api, KINDS.mirror, mirror, {
      ...notReadyStatus(mirror, problem),
      state: 'Error',
    });
    this.ctx.events.record(mirror, 'Warning', problem.reason, problem.message);
    return;
  }

  private dependents(mirror: CephFSMirror): string[] {
    const ns = mirror.metadata.namespace;
    const mine = (o: { spec: { mirrorRef: { name: string } } }): boolean =>
      o.spec.mirrorRef.name === mirror.metadata.name;
    return [
      ...this.ctx.peers
        .list(ns)
        .filter(mine)
        .map((p) => `peer:${objectKey(p.metadata)}`),
      ...this.ctx.directories
        .list(ns)
        .filter(mine)
        .map((d) => `dir:${objectKey(d.metadata)}`),
    ];
  }

  private enqueueDependents(mirror: CephFSMirror): void {
    for (const d of this.dependents(mirror)) {
      if (d.startsWith('peer:')) this.ctx.enqueue.peer(d.slice(5));
      else this.ctx.enqueue.directory(d.slice(4));
    }
  }

  private async finalize(key: string, mirror: CephFSMirror): Promise<WorkResult> {
    // After a restart the engine may not run yet: start it, since the mirror's peers and
    // directories need it to finalize too. If the Secret is gone nothing can be done in Ceph,
    // and the object must not hang forever.
    const settings = this.connectionSettings(mirror);
    let runtime = this.ctx.runtimes.get(key);
    if (!runtime && !('reason' in settings)) {
      try {
        runtime = await this.ctx.runtimes.ensure(key, {
          connection: settings,
          fsName: mirror.spec.filesystem,
          tunables: {},
          takeOverFromMgrModule: mirror.spec.takeOverFromMgrModule === true,
        });
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
        this.tokensWritten.delete(key);
        await removeFinalizer(this.ctx.api, KINDS.mirror, mirror);
        return;
      }
      this.enqueueDependents(mirror);
    }
    const waiting = this.dependents(mirror).length;
    if (waiting > 0) {
      await this.fail(mirror, {
        reason: 'WaitingForDependents',
        message: `deleting: waiting for ${waiting} MirrorPeer/MirroredDirectory object(s) of this mirror to go`,
      });
      return { requeueAfterMs: 2000 };
    }
    if (runtime) {
      await runtime.engine.stop();
      await disableMirroring(runtime.rados, runtime.fsName);
      this.ctx.events.record(
        mirror,
        'Normal',
        'MirroringDisabled',
        `mirroring disabled on ${runtime.fsName}`,
      );
    } else if ('reason' in settings) {
      this.ctx.events.record(
        mirror,
        'Warning',
        'MirroringLeftEnabled',
        `cannot reach Ceph to disable mirroring: ${settings.message}`,
      );
    }
    await this.ctx.runtimes.stop(key);
    this.tokensWritten.delete(key);
    await removeFinalizer(this.ctx.api, KINDS.mirror, mirror);
    return;
  }
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
