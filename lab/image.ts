// The operator image, built from Debian packages only (docs/image.md):
//
//   base layer  mmdebstrap: a minimal bookworm root filesystem (variant "essential") with
//               librados2, libcephfs2 (16.2.15, as the lab) and ca-certificates from Debian, and
//               the host's Node.js 20 package (nodesource `nodejs`, turned back into a .deb by
//               dpkg-repack, npm and headers left out), plus the user 65532
//   app layer   /app: the one-file bundle and its launcher (lab/bundle-operator.ts), the addon
//               packages' JavaScript and their compiled .node files, copied, never rebuilt
//
// buildah assembles the two layers from scratch (no `buildah run`, so no container runtime is
// needed), sets the entrypoint, cmd, user and env the Dockerfile declares, and pushes the image
// to an OCI archive. Both steps are cached under ~/.cache/cephfs-mirror-operator/image, keyed by
// a hash of their inputs: an unchanged tree reuses the archive in seconds.
//
//   npx tsx lab/image.ts              build (or reuse) the image; prints the archive's path
//   npx tsx lab/image.ts stage <dir>  write only the /app tree into <dir>/app (the Dockerfile's
//                                     build stage uses this, so both images have one layout)
//
// Run from the repository root, as root (mmdebstrap's root mode and buildah's vfs storage).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleOperator } from './bundle-operator.js';

export const IMAGE_NAME = 'cephfs-mirror-operator';
/** The runtime contract, kept identical in the Dockerfile (the e2e test compares them). */
export const APP_DIR = '/app';
export const ENTRYPOINT = ['/app/dist/cephfs-mirror-operator'];
export const CMD = ['run'];
export const RUN_USER = '65532:65532';
export const IMAGE_ENV: Record<string, string> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  NODE_ENV: 'production',
};

const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
/** What the operator needs at run time besides node; apt adds their dependencies. */
export const DEBIAN_PACKAGES = ['librados2', 'libcephfs2', 'ca-certificates'];
/** Documentation and translations: nothing reads them at run time. Licences stay. */
const DPKG_OPTIONS = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-exclude=/usr/share/lintian/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
];
/** Parts of the nodesource package the operator never runs (npm, corepack, C headers, docs). */
const NODE_PACKAGE_DROPS = [
  'usr/lib/node_modules',
  'usr/include',
  'usr/share/doc',
  'usr/share/man',
  'usr/bin/npm',
  'usr/bin/npx',
  'usr/bin/corepack',
  // The maintainer scripts only manage a /usr/bin/nodejs alternative whose slave is the man page
  // dropped above; md5sums would list the dropped files.
  'DEBIAN/preinst',
  'DEBIAN/postinst',
  'DEBIAN/prerm',
  'DEBIAN/md5sums',
];
const NONROOT_PASSWD = 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin';
const NONROOT_GROUP = 'nonroot:x:65532:';

export const CACHE_DIR = join(homedir(), '.cache', 'cephfs-mirror-operator', 'image');
/** Cached archives of earlier trees kept besides the current one (other checkouts share it). */
const KEEP = 3;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const THIS_FILE = fileURLToPath(import.meta.url);

export interface ImageBuild {
  /** The OCI archive (oci-archive: transport), tagged IMAGE_NAME:<version>. */
  archive: string;
  key: string;
  /** True when the archive came from the cache untouched. */
  cached: boolean;
  /** True when the base layer's root filesystem came from the cache. */
  baseCached: boolean;
  seconds: number;
}

type Log = (line: string) => void;

/** Builds the image, or returns the cached archive of the same inputs. */
export async function buildImage(log: Log = (l) => console.error(l)): Promise<ImageBuild> {
  const started = Date.now();
  mkdirSync(CACHE_DIR, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'cmo-image-'));
  try {
    const stage = join(work, 'stage');
    await stageApp(stage);
    const baseKey = hashOf([
      'base',
      readFileSync(THIS_FILE),
      SUITE,
      MIRROR,
      ...DEBIAN_PACKAGES,
      ...DPKG_OPTIONS,
      await candidateVersions(),
      await nodeIdentity(),
    ]);
    const key = hashOf(['image', baseKey, hashTree(join(stage, 'app'))]);
    const archive = join(CACHE_DIR, `${IMAGE_NAME}-${key}.oci.tar`);
    if (existsSync(archive)) {
      log(`image: cached ${archive}`);
      return { archive, key, cached: true, baseCached: true, seconds: since(started) };
    }
    const baseTar = join(CACHE_DIR, `base-${baseKey}.tar`);
    const baseCached = existsSync(baseTar);
    if (!baseCached) {
      log('image: building the base root filesystem (dpkg-repack nodejs, mmdebstrap)');
      // mmdebstrap writes a tarball only to a name ending in .tar (else a directory).
      const tmp = `${baseTar}.${process.pid}.tmp.tar`;
      await buildBase(work, tmp);
      renameSync(tmp, baseTar);
    }
    log('image: assembling the image with buildah');
    const tmp = `${archive}.${process.pid}.tmp.tar`;
    await assemble(work, baseTar, join(stage, 'app'), tmp);
    renameSync(tmp, archive);
    prune();
    log(`image: built ${archive} in ${since(started)} s`);
    return { archive, key, cached: false, baseCached, seconds: since(started) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The /app tree, as both the Debian-package build and the Dockerfile ship it:
 *
 *   /app/package.json                 the project's ("type": "module" makes main.js ESM)
 *   /app/dist/                        lab/bundle-operator.ts: main.js (+ map) and the launcher
 *   /app/addons/<name>/package.json   each npm workspace (the N-API addons and what they share),
 *   /app/addons/<name>/dist/**.js     its compiled JavaScript
 *   /app/addons/<name>/build/Release/*.node   its compiled addon, if it has one
 *   /app/node_modules/<package>       a link to ../addons/<name>, as npm links workspaces
 *
 * The bundle keeps the addons external and imports them by package name, so node resolves them
 * through /app/node_modules exactly as in the source tree.
 */
export async function stageApp(outRoot: string): Promise<void> {
  const app = join(outRoot, 'app');
  rmSync(app, { recursive: true, force: true });
  mkdirSync(app, { recursive: true });
  const rootPackage = join(REPO, 'package.json');
  copyFileSync(rootPackage, join(app, 'package.json'));
  await bundleOperator(join(app, 'dist'));
  const workspaces = (JSON.parse(readFileSync(rootPackage, 'utf8')) as { workspaces?: string[] })
    .workspaces;
  for (const ws of workspaces ?? []) {
    const from = join(REPO, ws);
    const to = join(app, ws);
    const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as {
      name: string;
    };
    mkdirSync(to, { recursive: true });
    copyFileSync(join(from, 'package.json'), join(to, 'package.json'));
    copyTree(join(from, 'dist'), join(to, 'dist'), (f) => f.endsWith('.js'));
    copyTree(join(from, 'build', 'Release'), join(to, 'build', 'Release'), (f) =>
      f.endsWith('.node'),
    );
    const link = join(app, 'node_modules', manifest.name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), to), link);
  }
}

/** Copies the files `keep` accepts, recursively, without following links; skips a missing dir. */
function copyTree(from: string, to: string, keep: (name: string) => boolean): void {
  if (!existsSync(from)) return;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    if (entry.isDirectory()) {
      // obj.target etc. under build/Release hold object files only.
      if (entry.name !== 'obj.target') copyTree(src, join(to, entry.name), keep);
    } else if (entry.isFile() && keep(entry.name)) {
      mkdirSync(to, { recursive: true });
      copyFileSync(src, join(to, entry.name));
    }
  }
}

/**
 * The versions apt would install of the listed packages, as the host's package lists know them
 * (a Ceph or CA update there rebuilds the base; their dependencies' updates do not).
 */
async function candidateVersions(): Promise<string> {
  const policy = await run('apt-cache', ['policy', ...DEBIAN_PACKAGES]);
  return [...policy.matchAll(/^(\S+):\n\s+Installed: .*\n\s+Candidate: (.*)$/gm)]
    .map((m) => `${m[1]}=${m[2]}`)
    .join(' ');
}

/** The nodejs package the tests run with: its version and its node binary's digest. */
async function nodeIdentity(): Promise<string> {
  const version = await run('dpkg-query', ['-W', '-f', '${Version}', 'nodejs']);
  const binary = createHash('sha256').update(readFileSync('/usr/bin/node')).digest('hex');
  return `nodejs ${version} ${binary}`;
}

async function buildBase(work: string, outTar: string): Promise<void> {
  // The host's nodejs package (nodesource 20.x; Debian bookworm's own is 18) as a .deb again.
  const repack = join(work, 'repack');
  mkdirSync(repack);
  // Uncompressed: the .deb only goes to mmdebstrap next door, and xz of 190 MB takes minutes.
  await run('dpkg-repack', ['nodejs'], {
    cwd: repack,
    env: { ...process.env, DPKG_DEB_COMPRESSOR_TYPE: 'none' },
  });
  const [deb] = readdirSync(repack).filter((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('dpkg-repack nodejs wrote no .deb');
  // Slimmed: node itself only. Its python3 dependency is for npm's node-gyp, gone with npm.
  const tree = join(work, 'nodejs');
  await run('dpkg-deb', ['-R', join(repack, deb), tree]);
  for (const p of NODE_PACKAGE_DROPS) rmSync(join(tree, p), { recursive: true, force: true });
  const controlPath = join(tree, 'DEBIAN', 'control');
  const control = readFileSync(controlPath, 'utf8')
    .replace(
      /^Depends: (.*)$/m,
      (_, deps: string) =>
        `Depends: ${deps
          .split(', ')
          .filter((d) => !d.startsWith('python3'))
          .join(', ')}`,
    )
    .replace(/^Installed-Size: .*\n/m, '');
  writeFileSync(controlPath, control);
  const slimDeb = join(work, 'nodejs-node-only.deb');
  await run('dpkg-deb', ['--root-owner-group', '-Znone', '-b', tree, slimDeb]);
  rmSync(repack, { recursive: true, force: true });
  rmSync(tree, { recursive: true, force: true });

  await run('mmdebstrap', [
    '--mode=root',
    '--variant=essential',
    // Merged /usr by directory links (as Debian now ships), without the usrmerge package and
    // the perl it pulls in.
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    // apt hands local .deb paths to dpkg inside the chroot: this makes them visible there.
    '--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount',
    `--include=${slimDeb}`,
    `--include=${DEBIAN_PACKAGES.join(',')}`,
    ...DPKG_OPTIONS.map((o) => `--dpkgopt=${o}`),
    `--customize-hook=echo '${NONROOT_PASSWD}' >> "$1/etc/passwd"`,
    `--customize-hook=echo '${NONROOT_GROUP}' >> "$1/etc/group"`,
    // mmdebstrap copies the build host's name and resolver in: a runtime provides its own.
    '--customize-hook=rm -f "$1/etc/hostname" "$1/etc/resolv.conf"',
    // dpkg's and debconf's backups of their databases.
    '--customize-hook=rm -f "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old',
    // A container runtime provides /dev; device nodes do not belong in an image layer.
    '--skip=output/dev',
    '--quiet',
    SUITE,
    outTar,
    MIRROR,
  ]);
}

async function assemble(work: string, baseTar: string, app: string, outArchive: string) {
  // A private buildah store (vfs: plain directories, no overlay mounts to clean up), removed
  // with the work directory.
  const store = [
    '--root',
    join(work, 'buildah-root'),
    '--runroot',
    join(work, 'buildah-runroot'),
    '--storage-driver',
    'vfs',
  ];
  const buildah = (...args: string[]) => run('buildah', [...store, ...args]);
  const version = (
    JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  const base = await buildah('from', 'scratch');
  await buildah('add', base, baseTar, '/');
  await buildah('commit', '--rm', '--quiet', base, 'localhost/cmo-image-base');
  const ctr = await buildah('from', '--pull-never', 'localhost/cmo-image-base');
  await buildah('copy', '--chown', '0:0', ctr, app, APP_DIR);
  await buildah(
    'config',
    '--entrypoint',
    JSON.stringify(ENTRYPOINT),
    '--cmd',
    JSON.stringify(CMD),
    '--user',
    RUN_USER,
    '--workingdir',
    APP_DIR,
    ...Object.entries(IMAGE_ENV).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    '--label',
    `org.opencontainers.image.title=${IMAGE_NAME}`,
    '--label',
    `org.opencontainers.image.version=${version}`,
    '--label',
    'org.opencontainers.image.description=built from Debian packages by lab/image.ts',
    ctr,
  );
  const tag = `localhost/${IMAGE_NAME}:${version}`;
  await buildah('commit', '--rm', '--quiet', ctr, tag);
  await buildah('push', '--quiet', tag, `oci-archive:${outArchive}:${IMAGE_NAME}:${version}`);
}

// --- unpacking (the e2e test; also `tsx lab/image.ts unpack <archive> <dir>`) ----------------

export interface OciConfig {
  config: {
    Entrypoint?: string[];
    Cmd?: string[];
    User?: string;
    WorkingDir?: string;
    Env?: string[];
  };
}

export interface UnpackedImage {
  rootfs: string;
  config: OciConfig;
  /** Layer digests, base first. */
  layers: string[];
}

interface OciDescriptor {
  mediaType: string;
  digest: string;
}

/**
 * Unpacks an OCI archive's image as a runtime would: the manifest from the layout's index.json,
 * then each layer in order onto one directory, applying whiteouts (`.wh.<name>` removes a lower
 * file, `.wh..wh..opq` empties a lower directory).
 */
export async function unpackImage(archive: string, dest: string): Promise<UnpackedImage> {
  const layout = join(dest, 'oci');
  const rootfs = join(dest, 'rootfs');
  mkdirSync(layout, { recursive: true });
  mkdirSync(rootfs, { recursive: true });
  await run('tar', ['-xf', archive, '-C', layout]);
  const blob = (d: OciDescriptor) => join(layout, 'blobs', ...d.digest.split(':'));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: OciDescriptor[];
  };
  const manifestRef = index.manifests.find(
    (m) => m.mediaType === 'application/vnd.oci.image.manifest.v1+json',
  );
  if (!manifestRef) throw new Error(`${archive}: no image manifest in index.json`);
  const manifest = JSON.parse(readFileSync(blob(manifestRef), 'utf8')) as {
    config: OciDescriptor;
    layers: OciDescriptor[];
  };
  const config = JSON.parse(readFileSync(blob(manifest.config), 'utf8')) as OciConfig;
  for (const layer of manifest.layers) {
    const compressed = layer.mediaType.endsWith('+gzip')
      ? ['-z']
      : layer.mediaType.endsWith('+zstd')
        ? ['--zstd']
        : [];
    const entries = (await run('tar', ['-t', ...compressed, '-f', blob(layer)]))
      .split('\n')
      .filter((e) => e.split('/').pop()?.startsWith('.wh.'));
    for (const entry of entries) {
      const name = entry.split('/').pop() as string;
      const dir = join(rootfs, dirname(entry));
      if (name === '.wh..wh..opq') {
        for (const f of existsSync(dir) ? readdirSync(dir) : []) {
          rmSync(join(dir, f), { recursive: true, force: true });
        }
      } else {
        rmSync(join(dir, name.slice('.wh.'.length)), { recursive: true, force: true });
      }
    }
    await run('tar', [
      '-x',
      ...compressed,
      '-f',
      blob(layer),
      '-C',
      rootfs,
      '--numeric-owner',
      '--same-owner',
      '--same-permissions',
    ]);
    for (const entry of entries) rmSync(join(rootfs, entry), { force: true });
  }
  rmSync(layout, { recursive: true, force: true });
  return { rootfs, config, layers: manifest.layers.map((l) => l.digest) };
}

/** Bytes of the files under dir (links not followed; hard links counted once). */
export function treeBytes(dir: string): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) {
        const st = lstatSync(p);
        const id = `${st.dev}:${st.ino}`;
        if (!seen.has(id)) {
          seen.add(id);
          total += st.size;
        }
      }
    }
  };
  walk(dir);
  return total;
}

// --- helpers ------------------------------------------------------------------------------------

function hashOf(parts: Array<string | Buffer>): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(String(p.length));
    h.update(':');
    h.update(p);
  }
  return h.digest('hex').slice(0, 16);
}

/** Paths, modes, contents and link targets of a tree, in a stable order. */
function hashTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      h.update(`${relative(dir, p)}\0${st.mode}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isDirectory()) walk(p);
      else h.update(readFileSync(p));
      h.update('\0');
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** Keeps the newest KEEP archives and base root filesystems; removes older ones. */
function prune(): void {
  for (const prefix of [`${IMAGE_NAME}-`, 'base-']) {
    const files = readdirSync(CACHE_DIR)
      .filter((f) => f.startsWith(prefix) && !f.includes('.tmp.'))
      .map((f) => ({ f, mtime: statSync(join(CACHE_DIR, f)).mtimeMs }))
      .sort((x, y) => y.mtime - x.mtime);
    for (const { f } of files.slice(KEEP))
      rmSync(join(CACHE_DIR, f), { recursive: true, force: true });
  }
}

function since(t: number): number {
  return Math.round((Date.now() - t) / 100) / 10;
}

/** Runs a command; resolves with its trimmed stdout, rejects with the tail of its stderr. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise(Buffer.concat(out).toString('utf8').trim());
      else {
        const tail = Buffer.concat(err).toString('utf8').split('\n').slice(-20).join('\n');
        reject(new Error(`${cmd} ${args.slice(0, 3).join(' ')} ... exited ${code}:\n${tail}`));
      }
    });
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'stage' && rest[0]) {
    await stageApp(rest[0]);
  } else if (command === 'unpack' && rest[0] && rest[1]) {
    const { rootfs } = await unpackImage(rest[0], rest[1]);
    console.log(rootfs);
  } else if (command === undefined) {
    const built = await buildImage();
    const size = statSync(built.archive).size;
    console.error(
      `image: ${built.cached ? 'cached' : 'built'} in ${built.seconds} s, ` +
        `OCI archive ${(size / 2 ** 20).toFixed(1)} MiB`,
    );
    console.log(built.archive);
  } else {
    console.error('usage: tsx lab/image.ts [stage <dir> | unpack <archive> <dir>]');
    process.exit(2);
  }
}
