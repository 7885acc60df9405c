// What each reconciler watches, and how an event on a watched object maps to the keys it
// enqueues (controller-runtime's For/Watches with a map function). The manager wires informers,
// the Secret reader and the work queues from these declarations alone, and the reconcilers ask
// the same functions "which objects depend on this one": the answer is written once, here.
import type { EventType } from '../kube/informers.js';
import type { SecretRef } from '../kube/secret-reader.js';
import {
  objectKey,
  splitKey,
  type CephFSMirror,
  type MirroredDirectory,
  type MirrorPeer,
} from '../api/resources.js';
import type { TypedCache } from './context.js';

/** The three reconcilers, by the kind each reconciles (and the queue its keys go to). */
export type ControllerKind = 'mirror' | 'peer' | 'directory';

/** An event's object → the keys of the controller's kind to reconcile. */
export type MapFn<T> = (obj: T, type: EventType) => string[];

/** What one reconciler watches: its own kind and the related kinds, each with its map function. */
export interface ControllerWatches {
  kind: ControllerKind;
  mirrors?: MapFn<CephFSMirror>;
  peers?: MapFn<MirrorPeer>;
  directories?: MapFn<MirroredDirectory>;
  /** A Secret changed, appeared or went (read by name: src/kube/secret-reader.ts). */
  secrets?: MapFn<SecretRef>;
}

export interface Caches {
  mirrors: TypedCache<CephFSMirror>;
  peers: TypedCache<MirrorPeer>;
  directories: TypedCache<MirroredDirectory>;
}

/** Invalid reasons that depend on another MirroredDirectory, and so clear when it changes. */
export const REFUSED_BY_ANOTHER: ReadonlySet<string> = new Set([
  'DuplicatePath',
  'AncestorOfTracked',
  'SubtreeOfTracked',
]);

/** The key of the CephFSMirror an object refers to (same namespace). */
function mirrorKeyOf(obj: MirrorPeer | MirroredDirectory): string {
  return objectKey({ namespace: obj.metadata.namespace, name: obj.spec.mirrorRef?.name ?? '' });
}

/** Keys of the MirrorPeer objects that refer to the CephFSMirror `mirrorKey`. */
export function peerKeysOf(peers: TypedCache<MirrorPeer>, mirrorKey: string): string[] {
  const { namespace, name } = splitKey(mirrorKey);
  return peers
    .list(namespace)
    .filter((p) => p.spec.mirrorRef?.name === name)
    .map((p) => objectKey(p.metadata));
}

/** Keys of the MirroredDirectory objects that refer to the CephFSMirror `mirrorKey`. */
export function directoryKeysOf(
  directories: TypedCache<MirroredDirectory>,
  mirrorKey: string,
): string[] {
  const { namespace, name } = splitKey(mirrorKey);
  return directories
    .list(namespace)
    .filter((d) => d.spec.mirrorRef?.name === name)
    .map((d) => objectKey(d.metadata));
}

/** The MirrorPeers and MirroredDirectories that depend on the CephFSMirror `mirrorKey`. */
export function dependentsOfMirror(
  caches: Caches,
  mirrorKey: string,
): { peer: string[]; directory: string[] } {
  return {
    peer: peerKeysOf(caches.peers, mirrorKey),
    directory: directoryKeysOf(caches.directories, mirrorKey),
  };
}

/** The Secrets a CephFSMirror names (connection, bootstrap token it publishes). */
export function secretsOfMirror(m: CephFSMirror): string[] {
  return [m.spec.cluster?.secretRef?.name, m.spec.bootstrapTokenSecret?.name].filter(isName);
}

/** The Secrets a MirrorPeer names (bootstrap token, or the remote user's key). */
export function secretsOfPeer(p: MirrorPeer): string[] {
  return [p.spec.bootstrapTokenSecretRef?.name, p.spec.remote?.keySecretRef?.name].filter(isName);
}

/** Every Secret a CephFSMirror or MirrorPeer names (what the Secret resync reads again). */
export function referencedSecrets(caches: Caches): SecretRef[] {
  const refs = new Map<string, SecretRef>();
  const add = (namespace: string, names: string[]): void => {
    for (const name of names) refs.set(`${namespace}/${name}`, { namespace, name });
  };
  for (const m of caches.mirrors.list()) add(m.metadata.namespace, secretsOfMirror(m));
  for (const p of caches.peers.list()) add(p.metadata.namespace, secretsOfPeer(p));
  return [...refs.values()];
}

function isName(name: string | undefined): name is string {
  return name !== undefined && name !== '';
}

/**
 * What the map functions remember between events: generations seen (to tell spec changes from
 * our own status writes) and the directories refused because of another one. Fed on every
 * directory event, leader or not (observeDirectory), so it is complete on takeover.
 */
export class WatchState {
  /**
   * Directory key → generation last seen (a string with the deletion mark once deletion started),
   * to tell spec changes from status. A number while the object lives: one string less for each of
   * tens of thousands of directories.
   */
  private readonly lastSeenSpec = new Map<string, number | string>();
  /** Mirror key → generation and deletion mark last seen (see claimChanged). */
  private readonly lastSeenMirror = new Map<string, string>();
  /** Mirror key → keys of its directories refused because of another one (REFUSED_BY_ANOTHER). */
  private readonly refused = new Map<string, Set<string>>();

  /**
   * Keeps the set of directories refused because of another declaration (a duplicate or an
   * overlapping path).
   */
  observeDirectory(dir: MirroredDirectory, type: EventType): void {
    const key = objectKey(dir.metadata);
    const mirrorKey = mirrorKeyOf(dir);
    const invalid = dir.status?.conditions?.find((c) => c.type === 'Invalid');
    const refused =
      type !== 'delete' && invalid?.status === 'True' && REFUSED_BY_ANOTHER.has(invalid.reason);
    for (const [m, set] of this.refused) {
      if (m !== mirrorKey || !refused) set.delete(key);
      if (set.size === 0) this.refused.delete(m);
    }
    if (!refused) return;
    let set = this.refused.get(mirrorKey);
    if (!set) this.refused.set(mirrorKey, (set = new Set()));
    set.add(key);
  }

  /** Keys of the directories of `mirrorKey` refused because of another one. */
  refusedOf(mirrorKey: string): string[] {
    return [...(this.refused.get(mirrorKey) ?? [])];
  }

  /** True for an add or delete, and for an update that changed the spec or started deletion. */
  specChanged(dir: MirroredDirectory, type: EventType): boolean {
    const key = objectKey(dir.metadata);
    const generation = dir.metadata.generation ?? 0;
    const deleting = dir.metadata.deletionTimestamp;
    const seen = deleting ? `${generation}|${deleting}` : generation;
    if (type === 'delete') {
      this.lastSeenSpec.delete(key);
      return true;
    }
    if (this.lastSeenSpec.get(key) === seen) return false;
    this.lastSeenSpec.set(key, seen);
    return true;
  }

  /** True for an add or delete, and for an update of the spec (generation) or a deletion start. */
  claimChanged(mirror: CephFSMirror, type: EventType): boolean {
    const key = objectKey(mirror.metadata);
    const seen = `${mirror.metadata.generation ?? 0}|${mirror.metadata.deletionTimestamp ?? ''}`;
    const last = this.lastSeenMirror.get(key);
    if (type === 'delete') {
      this.lastSeenMirror.delete(key);
      return true;
    }
    this.lastSeenMirror.set(key, seen);
    return last !== seen;
  }
}

/** The watches of the three reconcilers. */
export function controllerWatches(caches: Caches, state: WatchState): ControllerWatches[] {
  const namesSecret = (names: string[], ref: SecretRef): boolean => names.includes(ref.name);
  return [
    {
      kind: 'mirror',
      // A mirror that comes, goes or names another filesystem may change who owns a filesystem:
      // every other mirror decides again (there are few CephFSMirrors; the queue coalesces).
      mirrors: (m, type) => {
        const key = objectKey(m.metadata);
        if (!state.claimChanged(m, type)) return [key];
        const others = caches.mirrors
          .list()
          .map((o) => objectKey(o.metadata))
          .filter((k) => k !== key);
        return [key, ...others];
      },
      secrets: (ref) =>
        caches.mirrors
          .list(ref.namespace)
          .filter((m) => namesSecret(secretsOfMirror(m), ref))
          .map((m) => objectKey(m.metadata)),
    },
    {
      kind: 'peer',
      peers: (p) => [objectKey(p.metadata)],
      // Peers that said MirrorNotFound (or name a mirror that is now gone) only learn of it by
      // reconciling again.
      mirrors: (m, type) =>
        type === 'update' ? [] : peerKeysOf(caches.peers, objectKey(m.metadata)),
      secrets: (ref) =>
        caches.peers
          .list(ref.namespace)
          .filter((p) => namesSecret(secretsOfPeer(p), ref))
          .map((p) => objectKey(p.metadata)),
    },
    {
      kind: 'directory',
      // Updates that change neither spec nor deletion are our own status and finalizer writes:
      // reconciling for them would only find nothing to do (for every directory, every time).
      // A directory refused as a duplicate or overlap of another is retried when that other one
      // comes, goes, starts being deleted or changes its path: nothing else would enqueue it (its
      // own object does not change), and it would stay refused forever. Status-only updates do
      // not count, so two refused directories cannot keep re-enqueuing each other.
      directories: (d, type) => {
        if (!state.specChanged(d, type)) return [];
        const key = objectKey(d.metadata);
        return [key, ...state.refusedOf(mirrorKeyOf(d)).filter((k) => k !== key)];
      },
      mirrors: (m, type) =>
        type === 'update' ? [] : directoryKeysOf(caches.directories, objectKey(m.metadata)),
    },
  ];
}
