// The bootstrap token's peer user against the real lab, as the operator's least-privilege
// identity creates it: a new user gets exactly the peer caps (peerCaps is what Pacific's
// `fs authorize` gives), an existing user with those caps is reused unchanged, and an existing
// user with any other caps (other grants, another filesystem, an extra daemon) is refused with
// ClientCapsMismatch, naming the client and never its key, and left as it was.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Rados } from 'rados-js';
import { capsEqual, createBootstrapToken, peerCaps } from '../../src/ceph/bootstrap.js';
import { decodeBootstrapToken } from '../../src/ceph/bootstrap-token.js';
import { connectSecure } from '../../src/ceph/connect.js';
import { isCephOpError } from '../../src/ceph/errors.js';
import { monCommand, monCommandJson } from '../../src/ceph/mon.js';
import { OPERATOR_CLIENT_ID } from '../../lab/ceph-cluster.js';
import { useLab, type LabState } from '../../lab/harness/lab.js';

const NEW_USER = 'client.mirror_caps_new';
const WIDE_USER = 'client.mirror_caps_wide';
const EXTRA_USER = 'client.mirror_caps_extra';
const USERS = [NEW_USER, WIDE_USER, EXTRA_USER];

let lab: LabState;
let admin: Rados;
/** The operator's own least-privilege identity on site b, when the lab has it. */
let operator: Rados;
let fsB: string;

interface KeyringEntry {
  entity: string;
  key: string;
  caps: Record<string, string>;
}

async function userOf(entity: string): Promise<KeyringEntry> {
  const [entry] = await monCommandJson<KeyringEntry[]>(admin, {
    prefix: 'auth get',
    entity,
    format: 'json',
  });
  assert.ok(entry);
  return entry;
}

async function createUser(entity: string, caps: Record<string, string>): Promise<void> {
  await monCommand(admin, {
    prefix: 'auth get-or-create',
    entity,
    caps: Object.entries(caps).flat(),
  });
}

before(async () => {
  lab = await useLab();
  fsB = lab.sites.b.fsName;
  admin = await Rados.connect({ confPath: lab.sites.b.confPath, timeoutMs: 20_000 });
  for (const u of USERS) await monCommand(admin, { prefix: 'auth rm', entity: u });
  const key = lab.sites.b.operatorKey;
  operator = key
    ? await connectSecure({
        monHost: lab.sites.b.monHost,
        clientId: OPERATOR_CLIENT_ID,
        key,
        timeoutMs: 20_000,
      })
    : admin;
});

after(async () => {
  if (admin !== undefined) {
    for (const u of USERS) await monCommand(admin, { prefix: 'auth rm', entity: u });
  }
  if (operator !== admin) await operator?.shutdown();
  await admin?.shutdown();
});

test('a new peer user gets exactly the peer caps; asking again reuses it unchanged', async () => {
  const token = decodeBootstrapToken(await createBootstrapToken(operator, fsB, NEW_USER, 'b'));
  const user = await userOf(NEW_USER);
  assert.equal(token.user, NEW_USER);
  assert.equal(token.key, user.key);
  assert.deepEqual(user.caps, peerCaps(fsB), 'peerCaps is what fs authorize gives');
  const again = decodeBootstrapToken(await createBootstrapToken(operator, fsB, NEW_USER, 'b'));
  assert.equal(again.key, user.key);
  assert.deepEqual(await userOf(NEW_USER), user);
});

test('an existing user with other caps is refused (ClientCapsMismatch) and left as it is', async () => {
  await createUser(WIDE_USER, { mon: 'allow r', mds: 'allow rwps', osd: 'allow rw' });
  const wide = await userOf(WIDE_USER);
  await createUser(EXTRA_USER, { ...peerCaps(fsB), mgr: 'allow r' });
  const extra = await userOf(EXTRA_USER);
  for (const [user, before] of [
    [WIDE_USER, wide],
    [EXTRA_USER, extra],
  ] as const) {
    await assert.rejects(createBootstrapToken(operator, fsB, user, 'b'), (e) => {
      assert.ok(isCephOpError(e), String(e));
      assert.equal(e.reason, 'ClientCapsMismatch');
      assert.match(e.message, new RegExp(`Ceph user ${user.replace('.', '\\.')} exists`));
      assert.ok(!e.message.includes(before.key), 'the message never holds the key');
      return true;
    });
    assert.deepEqual(await userOf(user), before, `${user} unchanged`);
  }
});

test('capsEqual: same grants in any order and spacing; nothing more, nothing less', () => {
  const want = peerCaps('fs1');
  assert.equal(capsEqual({ ...want }, want), true);
  assert.equal(
    capsEqual({ ...want, mon: ' allow r  fsname=fs1 ' }, want),
    true,
    'whitespace normalised',
  );
  assert.equal(capsEqual({ ...want, mgr: 'allow r' }, want), false);
  assert.equal(capsEqual({ mon: want['mon'] ?? '', osd: want['osd'] ?? '' }, want), false);
  assert.equal(capsEqual({ ...want, mds: 'allow rwps fsname=fs1, allow rw' }, want), false);
  assert.equal(capsEqual(peerCaps('fs2'), want), false);
});
