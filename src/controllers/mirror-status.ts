// A running CephFSMirror's status: its daemons as the engine sees them (Events when one joins or
// is lost, or all go silent at once), the directory counts, the conditions and the metrics.
import { setCondition } from '../api/conditions.js';
import { objectKey, type CephFSMirror, type CephFSMirrorStatus } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { readyCondition } from './status-helpers.js';

export class MirrorStatusReporter {
  /** Mirror key → the suspected mass failure (its start) already reported with an Event. */
  private readonly massFailureReported = new Map<string, number>();
  /** Mirror key → live daemon id → when it was first seen (status.instances[].since). */
  private readonly daemonsSeen = new Map<string, Map<string, string>>();

  constructor(private readonly ctx: ControllerContext) {}

  /** Events for daemons that joined or left since the last refresh, and the time each joined. */
  reportDaemonChanges(mirror: CephFSMirror, runtime: MirrorRuntime): void {
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

  forgetMetrics(namespace: string, mirror: string): void {
    this.ctx.metrics.instances.remove({ namespace, mirror });
    for (const state of ['mapping', 'unmapping', 'shuffling', 'mapped', 'resolving', 'stalled']) {
      this.ctx.metrics.directoriesByState.remove({ namespace, mirror, state });
    }
  }

  healthyStatus(mirror: CephFSMirror, runtime: MirrorRuntime): CephFSMirrorStatus {
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
}
