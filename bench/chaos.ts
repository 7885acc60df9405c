// `npm run bench chaos`: the daemon-safety scenario at full size (2,500 directories created while
// the operator is SIGKILLed 10 times, a fourth daemon joining, 200 undeclared entries pruned, 500
// directories deleted) on real daemons with a peer; it passes only if no daemon aborted and the
// daemons hold exactly the declared directories. The test file is the CI-sized version; this runs
// it with the full sizes, in its own lab and apiserver.
import { spawnSync } from 'node:child_process';

const sizes = {
  SAFETY_DIRECTORIES: process.env['SAFETY_DIRECTORIES'] ?? '2500',
  SAFETY_KILLS: process.env['SAFETY_KILLS'] ?? '10',
  SAFETY_DELETED: process.env['SAFETY_DELETED'] ?? '500',
};
console.log(
  `# chaos: ${sizes.SAFETY_DIRECTORIES} directories, ${sizes.SAFETY_KILLS} operator SIGKILLs, ` +
    `${sizes.SAFETY_DELETED} deleted`,
);
const started = Date.now();
// The test file starts a private Ceph lab and apiserver of its own when run alone.
const env: NodeJS.ProcessEnv = { ...process.env, ...sizes };
delete env['CEPH_LAB_ROOT'];
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/e2e/daemon-safety.test.ts'],
  { stdio: 'inherit', env },
);
console.log(
  `# chaos: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
);
process.exit(r.status ?? 1);
