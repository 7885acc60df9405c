// Source directories for MirroredDirectory objects. The operator tracks a path only once it exists
// on the source filesystem (until then the object is Ready=False SourceDirectoryMissing), so a
// test that expects a directory to become Ready creates its path first, as a user would.
import { CephFS } from 'cephfs-js';
import type { Rados } from 'rados-js';

/** mkdir -p of every path on `fsName`, through a connected Rados (e.g. an E2eEnv's `a`). */
export async function createSourceDirs(
  rados: Rados,
  fsName: string,
  paths: Iterable<string>,
): Promise<void> {
  const fs = await CephFS.mount({ rados, fsName });
  try {
    for (const p of paths) await fs.mkdirs(p);
  } finally {
    await fs.close();
  }
}
