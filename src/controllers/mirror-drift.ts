// Drift of the filesystem's mirroring flag: Ready=True is an observation, so every status refresh
// reads the FSMap, and mirroring switched off outside the operator is said and switched back on.
import { enableMirroring } from '../ceph/filesystem.js';
import { findFilesystem } from '../ceph/fsmap.js';
import { fetchFsMap } from '../ceph/mon.js';
import type { WorkResult } from '../kube/work-queue.js';
import { writeStatus } from '../kube/object-writes.js';
import { setCondition } from '../api/conditions.js';
import { KINDS, type CephFSMirror } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import { readyCondition, type Problem } from './status-helpers.js';

/** After correcting drift, look again soon: the daemons and peers follow within seconds. */
const DRIFT_RECHECK_MS = 2_000;

/**
 * Ready=True is an observation: read the FSMap every refresh. Mirroring switched off behind our
 * back (`ceph fs mirror disable`, which also drops the peers) is reported as seen
 * (MirroringEnabled=False DisabledOutOfBand, Ready=False), switched on again, and said so
 * (Warning Event DriftCorrected, metric); the peers are re-added by their MirrorPeers.
 */
export async function observeMirroringFlag(
  ctx: ControllerContext,
  mirror: CephFSMirror,
  runtime: MirrorRuntime,
  enqueueDependents: (mirror: CephFSMirror) => void,
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
  await writeStatus(ctx.api, KINDS.mirror, mirror, {
    ...mirror.status,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    state: 'Degraded',
    conditions,
  });
  await runtime.serial(() => enableMirroring(runtime.rados, runtime.fsName));
  ctx.metrics.driftCorrections.inc({ kind: 'CephFSMirror', what: 'mirroring' });
  ctx.events.record(
    mirror,
    'Warning',
    'DriftCorrected',
    `mirroring of filesystem ${runtime.fsName} was found disabled; enabled it again`,
  );
  // Disabling dropped the peers from the FSMap: their MirrorPeers put them back.
  enqueueDependents(mirror);
  return { requeueAfterMs: DRIFT_RECHECK_MS };
}
