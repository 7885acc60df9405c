// What each CephFSMirror's spec resolves to in Ceph: (cluster fsid, fscid) of the filesystem it
// names, read with a short-lived connection (connect, fsid, `fs dump`: nothing is written). A
// resolution is kept per mirror until the mirror's connection settings or filesystem name
// change, so that deciding ownership costs no Ceph round trip once everything is known.
import { createHash } from 'node:crypto';
import type { Rados } from 'rados-js';
import { cephOpError } from '../ceph/errors.js';
import { requireFilesystem } from '../ceph/fsmap.js';
import { fetchFsMap } from '../ceph/mon.js';
import { connectCluster, type ConnectionSettings } from './mirror-runtimes.js';
import type { FilesystemIdentity, Resolution } from './ownership.js';
import { problemOf, type Problem } from './status-helpers.js';

/** Shorter than an engine's connect timeout: a younger mirror may be waiting for this answer. */
const RESOLVE_TIMEOUT_MS = 10_000;

export type IdentityResolver = (
  settings: ConnectionSettings,
  fsName: string,
) => Promise<FilesystemIdentity>;

/** Reads the identity of `fsName` on the cluster `settings` reach. Writes nothing. */
export async function resolveFilesystemIdentity(
  settings: ConnectionSettings,
  fsName: string,
  /** How to connect (tests pass their fake clusters' connection). */
  connect: (settings: ConnectionSettings) => Promise<Rados> = (s) =>
    connectCluster(s, RESOLVE_TIMEOUT_MS),
): Promise<FilesystemIdentity> {
  const rados = await connect(settings);
  try {
    const fsid = await rados.fsid();
    if (settings.fsid && settings.fsid !== fsid) {
      throw cephOpError(
        'EINVAL',
        `cluster fsid is ${fsid}, the CephFSMirror expects ${settings.fsid}`,
        'FsidMismatch',
      );
    }
    const fs = requireFilesystem(await fetchFsMap(rados), fsName);
    return { fsid, fscid: fs.fscid, fsName: fs.name };
  } finally {
    await rados.shutdown().catch(() => undefined);
  }
}

/** What a mirror's spec gives to resolve: its settings, or why it has none. */
export type IdentityInput = { settings: ConnectionSettings; fsName: string } | Problem;

interface Entry {
  fingerprint: string;
  resolution: Resolution;
  pending?: Promise<Resolution>;
}

/** Identifies an input without keeping the key in a readable form. */
export function inputFingerprint(input: IdentityInput): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('hex');
}

export class FilesystemIdentities {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly resolver: IdentityResolver = resolveFilesystemIdentity) {}

  /** The resolution known for this mirror and input, or `unknown`. */
  peek(key: string, input: IdentityInput): Resolution {
    const entry = this.entries.get(key);
    if (!entry || entry.fingerprint !== inputFingerprint(input) || entry.pending) {
      return { state: 'unknown' };
    }
    return entry.resolution;
  }

  /**
   * Resolves the mirror's identity, from the cache when its input did not change. A failure is
   * kept as the answer for others (it claims nothing) and tried again only with `retryFailed`
   * (the mirror's own reconcile), so that a broken mirror does not slow every other one down.
   */
  async resolve(key: string, input: IdentityInput, retryFailed = false): Promise<Resolution> {
    const fingerprint = inputFingerprint(input);
    const entry = this.entries.get(key);
    if (entry && entry.fingerprint === fingerprint) {
      if (entry.pending) return entry.pending;
      if (entry.resolution.state === 'resolved') return entry.resolution;
      if (entry.resolution.state === 'failed' && !retryFailed) return entry.resolution;
    }
    if ('reason' in input) {
      const resolution: Resolution = { state: 'failed', ...input };
      this.entries.set(key, { fingerprint, resolution });
      return resolution;
    }
    const next: Entry = { fingerprint, resolution: { state: 'unknown' } };
    next.pending = this.resolver(input.settings, input.fsName).then(
      (identity): Resolution => ({ state: 'resolved', identity }),
      (e: unknown): Resolution => ({ state: 'failed', ...problemOf(e, 'ResolutionFailed') }),
    );
    this.entries.set(key, next);
    const resolution = await next.pending;
    // A newer input may have replaced this entry meanwhile: only settle our own.
    if (this.entries.get(key) === next) {
      next.resolution = resolution;
      delete next.pending;
    }
    return resolution;
  }

  /** Forgets a mirror (deleted, or its resolved identity turned out stale). */
  forget(key: string): void {
    this.entries.delete(key);
  }
}
