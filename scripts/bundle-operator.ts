// Builds the shipped operator: src/main.ts and everything it imports in one ES module,
// dist/main.js (or the file named as the first argument). One file loads much less than the
// same code as thousands of modules: @kubernetes/client-node alone is some 2,000 files, and a
// process that imported them held about 75 MiB more RSS than the bundled one
// (docs/benchmarks.md). The native addons stay outside: they load their .node files from
// node_modules at run time.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const DEFAULT_OUTFILE = 'dist/main.js';

export async function bundleOperator(outfile = DEFAULT_OUTFILE): Promise<string> {
  await build({
    entryPoints: ['src/main.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    external: ['rados-js', 'cephfs-js'],
    // CommonJS dependencies call require(); an ES module has none of its own.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  return resolve(outfile);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await bundleOperator(process.argv[2]);
}
