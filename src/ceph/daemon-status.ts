// What the cephfs-mirror daemons report about themselves, read from the manager without its
// `mirroring` module: `service dump` lists the registered daemons (gid, address, metadata with
// the client id and instance id) and `service status` carries each one's `status_json`, the same
// document the module's `fs snapshot mirror daemon status` reads.
import type { Rados } from 'rados-js';
import { mgrCommandJson } from './mon.js';
import { serviceDump, serviceStatus } from './mon-commands.js';

export interface MirrorPeerStats {
  uuid: string;
  remote: { clientName?: string; clusterName?: string; fsName?: string };
  failureCount: number;
  recoveryCount: number;
}

export interface MirrorDaemonFilesystem {
  fscid: number;
  name: string;
  directoryCount: number;
  mirroringFailed: boolean;
  peers: MirrorPeerStats[];
}

export interface MirrorDaemon {
  /**
   * The global id of the daemon's main RADOS client, under which it registers with the manager
   * (the mgr module's `daemon_id`). Not its dir-map instance id: each mirrored filesystem gets a
   * RADOS client of its own, whose global id is the instance id that acks notifies.
   */
  daemonId: string;
  /** `client.<clientId>` it runs as. */
  clientId: string | undefined;
  addr: string | undefined;
  hostname: string | undefined;
  version: string | undefined;
  /** Absent until the daemon's first status report reaches the manager. */
  filesystems: MirrorDaemonFilesystem[] | undefined;
}

const SERVICE = 'cephfs-mirror';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);

function parseStatusJson(text: string): MirrorDaemonFilesystem[] {
  const doc = obj(JSON.parse(text));
  return Object.entries(doc).map(([fscid, raw]) => {
    const fs = obj(raw);
    return {
      fscid: Number(fscid),
      name: str(fs['name']) ?? '',
      directoryCount: num(fs['directory_count']),
      mirroringFailed: fs['mirroring_failed'] === true,
      peers: Object.entries(obj(fs['peers'])).map(([uuid, p]) => {
        const remote = obj(obj(p)['remote']);
        const stats = obj(obj(p)['stats']);
        return {
          uuid,
          remote: {
            clientName: str(remote['client_name']),
            clusterName: str(remote['cluster_name']),
            fsName: str(remote['fs_name']),
          },
          failureCount: num(stats['failure_count']),
          recoveryCount: num(stats['recovery_count']),
        };
      }),
    };
  });
}

/** Every cephfs-mirror daemon registered with the manager, with its latest status. */
export async function listMirrorDaemons(rados: Rados): Promise<MirrorDaemon[]> {
  const [dump, status] = await Promise.all([
    mgrCommandJson<Json>(rados, serviceDump()),
    mgrCommandJson<Json>(rados, serviceStatus()),
  ]);
  const daemons = obj(obj(obj(dump['services'])[SERVICE])['daemons']);
  const statuses = obj(status[SERVICE]);
  const result: MirrorDaemon[] = [];
  for (const [key, raw] of Object.entries(daemons)) {
    if (!/^\d+$/.test(key)) continue; // the map also holds a "summary" entry
    const d = obj(raw);
    const meta = obj(d['metadata']);
    const statusJson = str(obj(obj(statuses[key])['status'])['status_json']);
    let filesystems: MirrorDaemonFilesystem[] | undefined;
    try {
      filesystems = statusJson === undefined ? undefined : parseStatusJson(statusJson);
    } catch {
      filesystems = undefined;
    }
    result.push({
      daemonId: key,
      clientId: str(meta['id']),
      addr: str(d['addr']),
      hostname: str(meta['hostname']),
      version: str(meta['ceph_version_short']),
      filesystems,
    });
  }
  return result;
}
