// The lab itself: both sites answer, are distinct clusters, and mirror daemons start and stop.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { mirrorDaemonPid, startMirrorDaemon, stopMirrorDaemon } from '../../lab/ceph-cluster.js';
import { isOurProcess } from '../../lab/processes.js';
import { useLab } from '../../lab/harness/lab.js';

function cephJson(conf: string, args: string[]): unknown {
  return JSON.parse(
    execFileSync('ceph', ['-c', conf, ...args, '--format=json'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

test('both sites run a healthy cluster with their own filesystem', async () => {
  const lab = await useLab();
  assert.notEqual(lab.sites.a.fsid, lab.sites.b.fsid);
  for (const site of [lab.sites.a, lab.sites.b]) {
    const fsid = (cephJson(site.confPath, ['fsid']) as { fsid: string }).fsid;
    assert.equal(fsid, site.fsid);
    const names = (cephJson(site.confPath, ['fs', 'ls']) as Array<{ name: string }>).map(
      (f) => f.name,
    );
    assert.deepEqual(names, [site.fsName]);
  }
});

test('mirror daemons start with their own client id and stop by pid', async () => {
  const { a } = (await useLab()).sites;
  const pid = await startMirrorDaemon(a, 'labtest1');
  assert.equal(
    await startMirrorDaemon(a, 'labtest1'),
    pid,
    'starting twice reuses the running daemon',
  );
  assert.ok(isOurProcess(pid, a.dir));
  const auth = cephJson(a.confPath, ['auth', 'get', 'client.labtest1']) as Array<{
    caps: { mon: string };
  }>;
  assert.equal(auth[0]?.caps.mon, 'profile cephfs-mirror');
  assert.equal(await stopMirrorDaemon(a, 'labtest1'), true);
  assert.equal(isOurProcess(pid, a.dir), false);
  assert.equal(mirrorDaemonPid(a, 'labtest1'), undefined);
});
