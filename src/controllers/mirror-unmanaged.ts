// spec.unmanagedDirectories: what happens to directories in the dir map that no MirroredDirectory
// of the mirror declares (Retain: nothing; Prune: removed from the map; Adopt: a MirroredDirectory
// is created for each).
import { KINDS, objectKey, type CephFSMirror, type MirroredDirectory } from '../api/resources.js';
import type { ControllerContext } from './context.js';
import { pathsClaimedBy } from './directory-claims.js';
import type { MirrorRuntime } from './mirror-runtimes.js';

/** Directories in the dir map that no MirroredDirectory of this mirror declares. */
function undeclared(
  ctx: ControllerContext,
  mirror: CephFSMirror,
  runtime: MirrorRuntime,
): string[] {
  const declared = new Set<string>();
  // What each object manages (its admitted entry while a path or mirrorRef edit is pending)
  // as well as what it declares: neither may be pruned or adopted by another object.
  for (const d of ctx.directories.list(mirror.metadata.namespace)) {
    for (const p of pathsClaimedBy(d, mirror.metadata.name)) declared.add(p);
  }
  return runtime.engine.trackedPaths().filter((p) => !declared.has(p));
}

export async function applyUnmanagedPolicy(
  ctx: ControllerContext,
  mirror: CephFSMirror,
  runtime: MirrorRuntime,
): Promise<void> {
  const policy = mirror.spec.unmanagedDirectories ?? 'Retain';
  if (policy === 'Retain') return;
  const key = objectKey(mirror.metadata);
  for (const path of undeclared(ctx, mirror, runtime)) {
    // Displaced or stopped meanwhile (an older claimant, the mgr module): not ours to change.
    if (ctx.runtimes.get(key) !== runtime) return;
    const status = runtime.engine.status(path);
    if (!status || status.purging) continue;
    if (policy === 'Prune') {
      await runtime.engine.removeDirectory(path);
      ctx.events.record(
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
        await ctx.api.create(KINDS.directory, body);
        ctx.events.record(mirror, 'Normal', 'Adopted', `created MirroredDirectory for ${path}`);
      } catch (e) {
        if ((e as { code?: number }).code !== 409) throw e;
      }
    }
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
