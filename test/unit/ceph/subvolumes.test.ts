import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Rados } from 'rados-js';
import { snapScheduleOf, subvolumePath } from '../../../src/ceph/subvolumes.js';

/** A Rados whose mgr answers with one fixed result, recording the command sent. */
function mgr(rc: number, out = '', outs = ''): { rados: Rados; sent: object[] } {
  const sent: object[] = [];
  const rados = {
    mgrCommand(cmd: object) {
      sent.push(cmd);
      return Promise.resolve({ rc, outbuf: Buffer.from(out), outs });
    },
  } as unknown as Rados;
  return { rados, sent };
}

test('getpath: the path, ENOENT as missing, anything else unknown; the group only when given', async () => {
  const ok = mgr(0, '/volumes/_nogroup/sv/uuid\n');
  assert.deepEqual(await subvolumePath(ok.rados, 'a', 'sv'), {
    state: 'found',
    path: '/volumes/_nogroup/sv/uuid',
  });
  assert.deepEqual(ok.sent, [{ prefix: 'fs subvolume getpath', vol_name: 'a', sub_name: 'sv' }]);
  const g = mgr(0, '/volumes/g/sv/uuid');
  await subvolumePath(g.rados, 'a', 'sv', 'g');
  assert.deepEqual(g.sent[0], {
    prefix: 'fs subvolume getpath',
    vol_name: 'a',
    sub_name: 'sv',
    group_name: 'g',
  });
  const missing = await subvolumePath(mgr(-2, '', 'subvolume sv does not exist').rados, 'a', 'sv');
  assert.equal(missing.state, 'missing');
  assert.match((missing as { message: string }).message, /subvolume sv \(group _nogroup\)/);
  assert.equal((await subvolumePath(mgr(-13).rados, 'a', 'sv')).state, 'unknown');
});

test('snap-schedule list: schedules, none (ENOENT, module off), or unknown', async () => {
  const json = JSON.stringify([{ path: '/p', schedule: '1h', retention: {} }]);
  assert.deepEqual(await snapScheduleOf(mgr(0, json).rados, 'a', '/p'), {
    state: 'scheduled',
    schedules: ['1h'],
  });
  assert.deepEqual(await snapScheduleOf(mgr(0, '[]').rados, 'a', '/p'), { state: 'none' });
  assert.deepEqual(await snapScheduleOf(mgr(-2).rados, 'a', '/p'), { state: 'none' });
  assert.deepEqual(await snapScheduleOf(mgr(-22).rados, 'a', '/p'), { state: 'none' });
  assert.equal((await snapScheduleOf(mgr(-13).rados, 'a', '/p')).state, 'unknown');
});
