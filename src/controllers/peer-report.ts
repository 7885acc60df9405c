// What a MirrorPeer's converge pass found and did, said as Events, metrics and logs: drift
// corrected (a peer, its credentials or the remote claim put back), a peer added or adopted, its
// credentials rewritten.
import { peerConfigKey } from '../ceph/mon-commands.js';
import type { EnsurePeerResult } from '../ceph/peers.js';
import { KINDS, objectKey, type MirrorPeer } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import type { MirrorRuntime } from './mirror-runtimes.js';
import type { DesiredPeer } from './peer-desired.js';

/** Events, metrics and logs for what a converge pass found and did. */
export function reportConverge(
  ctx: ControllerContext,
  peer: MirrorPeer,
  desired: DesiredPeer,
  runtime: MirrorRuntime,
  result: EnsurePeerResult,
  previousUuid: string | undefined,
  syncViewsChanged: (peer: MirrorPeer) => void,
): void {
  const { spec, remoteFsName } = desired.identity;
  const fsName = runtime.fsName;
  const uuid = result.uuid;
  if (result.restored.length > 0) {
    const fixed: string[] = [];
    for (const what of result.restored) {
      ctx.metrics.driftCorrections.inc({ kind: KINDS.peer.kind, what });
      if (what === 'peer') {
        fixed.push(
          `peer ${spec} (${uuid}) was missing from the FSMap of ${fsName}: re-added with the same UUID`,
        );
      } else if (what === 'credentials') {
        fixed.push(
          `its credentials (config-key ${peerConfigKey(fsName, uuid)}) were missing: restored`,
        );
      } else {
        fixed.push(
          `the ceph.mirror.info claim on the root of ${remoteFsName} was missing: restored`,
        );
      }
    }
    const subject = result.restored.includes('peer') ? '' : `peer ${spec} (${uuid}): `;
    const message = `${subject}${fixed.join('; ')} (FSMap epoch ${result.fsmapEpoch})`;
    ctx.events.record(peer, 'Warning', 'DriftCorrected', message);
    ctx.log.warn('peer drift corrected', {
      peer: objectKey(peer.metadata),
      uuid,
      restored: result.restored,
    });
  }
  if (result.found === 'absent') {
    ctx.events.record(peer, 'Normal', 'PeerAdded', `peer ${spec} (${uuid}) added to ${fsName}`);
  } else if (result.found === 'moved') {
    ctx.events.record(
      peer,
      'Warning',
      'PeerAdopted',
      `peer ${spec} is in the FSMap of ${fsName} under ${uuid}, not ${previousUuid ?? '?'} as recorded (re-added outside the operator): adopted`,
    );
  } else if (result.found === 'present' && previousUuid !== uuid) {
    ctx.events.record(
      peer,
      'Normal',
      'PeerAdopted',
      `peer ${spec} (${uuid}), already in the FSMap of ${fsName}, is managed by this MirrorPeer now`,
    );
  }
  if (result.credentialsUpdated) {
    ctx.events.record(
      peer,
      'Normal',
      'PeerCredentialsUpdated',
      `credentials of peer ${spec} (${uuid}) rewritten from the spec`,
    );
  }
  if (previousUuid !== uuid || result.restored.includes('peer')) {
    syncViewsChanged(peer);
    runtime.syncViews.peersChanged();
  }
}
