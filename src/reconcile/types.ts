/**
 * Plain value types shared by the policy, the driver and the Ceph layer that implements the
 * driver's ports. They mirror what the Ceph mgr `mirroring` module stores in the omap of the
 * `cephfs_mirror` object, so the Ceph layer can encode them without translation.
 */

/** The state a directory is in, as the mgr module's `State` enum. */
export type DirectoryStateName =
  'UNASSOCIATED' | 'INITIALIZING' | 'ASSOCIATING' | 'ASSOCIATED' | 'SHUFFLING' | 'DISASSOCIATING';

/** What the driver must do next for a directory (the mgr module's `ActionType`). */
export type ActionType = 'NONE' | 'MAP_UPDATE' | 'MAP_REMOVE' | 'ACQUIRE' | 'RELEASE';

/** Bookkeeping the policy does itself at the start or the end of an action. */
export type PolicyAction = 'MAP' | 'UNMAP' | 'REMOVE';

/**
 * Value of an omap key `dir_map_<path>`. In RADOS it is a Python pickle of
 * `{'version': 1, 'instance_id': str, 'last_shuffled': float}` plus `'purging': 1` while the
 * directory is being removed. An unmapped directory has `instanceId: ''`.
 */
export interface DirMapRecord {
  version: 1;
  instanceId: string;
  /** Epoch seconds (float) of the last mapping; 0 for a directory never mapped. */
  lastShuffled: number;
  purging?: boolean;
}

/**
 * The operator's own record that a daemon acked the acquire of a directory (stored beside the
 * dir map under its own key prefix, see docs/ceph-layer.md "Restart without churn"). It names
 * the instance and the `last_shuffled` of the dir-map record the acquire was made under: valid
 * only while the directory's record still says exactly that, so a map rewritten by anyone else
 * (the mgr module, a hand edit) invalidates it.
 */
export interface HoldMark {
  instanceId: string;
  lastShuffled: number;
}

/** Value of an omap key `instance_<id>`: pickle of `{'version': 1, 'addr': str}`. */
export interface InstanceRecord {
  version: 1;
  addr: string;
}

/** A cephfs-mirror daemon as the instance watcher reports it. */
export interface InstanceInfo {
  /** The daemon's RADOS client global id, as a decimal string. */
  id: string;
  /** Its entity address, used to blocklist it. */
  addr: string;
}
