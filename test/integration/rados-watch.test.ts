// rados-js watch/notify against the real lab, between separate client connections: payloads in
// both directions, several watchers, watchers that never answer (timeouts), handler errors,
// unwatch, and watches ended by close() and shutdown().
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { isRadosError, Rados, type IoCtx, type NotifyEvent } from 'rados-js';
import { useLab, type SiteInfo } from '../../lab/harness/lab.js';

let site: SiteInfo;
/** The notifier (the operator's side). */
let notifier: Rados;
let notifierIo: IoCtx;
/** The watchers (the daemons' side): each its own client, so its own gid. */
let watcherA: Rados;
let watcherAIo: IoCtx;
let watcherB: Rados;
let watcherBIo: IoCtx;

before(async () => {
  site = (await useLab()).sites.a;
  const connect = async (): Promise<[Rados, IoCtx]> => {
    const r = await Rados.connect({ confPath: site.confPath, timeoutMs: 30_000 });
    return [r, await r.openIoCtx(site.metadataPool)];
  };
  [notifier, notifierIo] = await connect();
  [watcherA, watcherAIo] = await connect();
  [watcherB, watcherBIo] = await connect();
});

after(async () => {
  await Promise.all([notifier?.shutdown(), watcherA?.shutdown(), watcherB?.shutdown()]);
});

async function freshObject(label: string): Promise<string> {
  const oid = `rados-watch-${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
  await notifierIo.createObject(oid);
  return oid;
}

function failOnError(err: Error): void {
  assert.fail(`unexpected watch error: ${err.message}`);
}

describe('watch/notify', () => {
  test('round trip: payload to the watcher, ack payload back, ids on both sides', async () => {
    const oid = await freshObject('roundtrip');
    const seen: NotifyEvent[] = [];
    const watch = await watcherAIo.watch(
      oid,
      (event) => {
        seen.push(event);
        return Buffer.from(`pong:${event.payload.toString()}`);
      },
      failOnError,
    );
    try {
      assert.equal(typeof watch.cookie, 'bigint');
      const result = await notifierIo.notify(oid, Buffer.from('ping'), 5000);
      assert.equal(result.rc, 0);
      assert.deepEqual(result.timeouts, []);
      assert.equal(result.acks.length, 1);
      const [ack] = result.acks;
      assert.equal(ack?.gid, await watcherA.instanceId());
      assert.equal(ack?.cookie, watch.cookie);
      assert.equal(ack?.payload.toString(), 'pong:ping');

      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.payload.toString(), 'ping');
      assert.equal(seen[0]?.notifierId, await notifier.instanceId());
      assert.equal(seen[0]?.cookie, watch.cookie);
      assert.equal(typeof seen[0]?.notifyId, 'bigint');
    } finally {
      await watch.unwatch();
      await notifierIo.remove(oid);
    }
  });

  test('two watchers: an async reply and an empty ack, binary payloads intact', async () => {
    const oid = await freshObject('two');
    const binary = randomBytes(4096);
    const wa = await watcherAIo.watch(
      oid,
      async (event) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return Buffer.concat([Buffer.from('A'), event.payload]);
      },
      failOnError,
    );
    const wb = await watcherBIo.watch(oid, () => undefined, failOnError);
    try {
      const result = await notifierIo.notify(oid, binary, 5000);
      assert.equal(result.rc, 0);
      assert.equal(result.acks.length, 2);
      const gidA = await watcherA.instanceId();
      const gidB = await watcherB.instanceId();
      const fromA = result.acks.find((a) => a.gid === gidA);
      const fromB = result.acks.find((a) => a.gid === gidB);
      assert.deepEqual(fromA?.payload, Buffer.concat([Buffer.from('A'), binary]));
      assert.equal(fromB?.payload.length, 0);
      assert.equal(fromB?.cookie, wb.cookie);
    } finally {
      await Promise.all([wa.unwatch(), wb.unwatch()]);
      await notifierIo.remove(oid);
    }
  });

  test('a watcher that never answers times out: rc -110 (ETIMEDOUT), listed in timeouts', async () => {
    const oid = await freshObject('timeout');
    const silent = await watcherAIo.watch(oid, () => new Promise<Buffer>(() => {}), failOnError);
    const answering = await watcherBIo.watch(oid, () => Buffer.from('here'), failOnError);
    try {
      const started = Date.now();
      const result = await notifierIo.notify(oid, Buffer.from('anyone?'), 1000);
      const elapsed = Date.now() - started;
      assert.equal(result.rc, -110);
      assert.deepEqual(result.timeouts, [
        { gid: await watcherA.instanceId(), cookie: silent.cookie },
      ]);
      assert.equal(result.acks.length, 1);
      assert.equal(result.acks[0]?.gid, await watcherB.instanceId());
      assert.equal(result.acks[0]?.payload.toString(), 'here');
      assert.ok(elapsed >= 900 && elapsed < 5000, `returned after ${elapsed} ms`);
    } finally {
      await Promise.all([silent.unwatch(), answering.unwatch()]);
      await notifierIo.remove(oid);
    }
  });

  test('sub-second notify timeouts are rounded up to a second, not to the 30 s default', async () => {
    const oid = await freshObject('subsecond');
    const silent = await watcherAIo.watch(oid, () => new Promise<Buffer>(() => {}), failOnError);
    try {
      const started = Date.now();
      const result = await notifierIo.notify(oid, Buffer.alloc(0), 200);
      const elapsed = Date.now() - started;
      assert.equal(result.rc, -110);
      assert.ok(elapsed >= 900 && elapsed < 5000, `returned after ${elapsed} ms`);
    } finally {
      await silent.unwatch();
      await notifierIo.remove(oid);
    }
  });

  test('a handler that throws sends no ack and reports the error', async () => {
    const oid = await freshObject('throws');
    const errors: Error[] = [];
    const watch = await watcherAIo.watch(
      oid,
      () => {
        throw new Error('handler failed');
      },
      (err) => errors.push(err),
    );
    try {
      const result = await notifierIo.notify(oid, Buffer.alloc(0), 1000);
      assert.equal(result.rc, -110);
      assert.equal(result.timeouts.length, 1);
      assert.deepEqual(
        errors.map((e) => e.message),
        ['handler failed'],
      );
    } finally {
      await watch.unwatch();
      await notifierIo.remove(oid);
    }
  });

  test('after unwatch nobody is notified; unwatch is idempotent', async () => {
    const oid = await freshObject('unwatch');
    let calls = 0;
    const watch = await watcherAIo.watch(
      oid,
      () => {
        calls++;
      },
      failOnError,
    );
    assert.equal((await notifierIo.notify(oid, Buffer.alloc(0), 2000)).acks.length, 1);
    await watch.unwatch();
    await watch.unwatch();
    const result = await notifierIo.notify(oid, Buffer.alloc(0), 2000);
    assert.deepEqual(result, { rc: 0, acks: [], timeouts: [] });
    assert.equal(calls, 1);
    await notifierIo.remove(oid);
  });

  test('watching or notifying a missing object fails with ENOENT', async () => {
    const oid = `rados-watch-missing-${process.pid}-${randomBytes(4).toString('hex')}`;
    await assert.rejects(
      watcherAIo.watch(oid, () => undefined, failOnError),
      (err: unknown) => {
        assert.ok(isRadosError(err, 'ENOENT'), String(err));
        assert.match(err.message, /^watch\(/);
        return true;
      },
    );
    await assert.rejects(notifierIo.notify(oid, Buffer.alloc(0), 1000), (err: unknown) => {
      assert.ok(isRadosError(err, 'ENOENT'), String(err));
      assert.match(err.message, /^notify\(/);
      return true;
    });
  });

  test('a blocklisted watcher gets a watch error and its calls fail with ESHUTDOWN', async () => {
    const oid = await freshObject('blocklisted');
    const victim = await Rados.connect({ confPath: site.confPath, timeoutMs: 30_000 });
    const victimIo = await victim.openIoCtx(site.metadataPool);
    let watchError!: (err: Error) => void;
    const errored = new Promise<Error>((resolve) => (watchError = resolve));
    await victimIo.watch(
      oid,
      () => undefined,
      (err) => watchError(err),
    );
    // A single-address client: getAddrs() is the plain entity address the blocklist takes.
    const addr = await victim.getAddrs();
    await notifier.blocklistAdd(addr, 300);
    try {
      const err = await Promise.race([
        errored,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no watch error in 20 s')), 20_000),
        ),
      ]);
      assert.ok(isRadosError(err, 'ENOTCONN'), String(err));
      assert.match(err.message, /^watch\(rados-watch-blocklisted-/);
      // Fenced: the OSDs refuse this client (EBLOCKLISTED is ESHUTDOWN's number).
      await assert.rejects(victimIo.stat(oid), (e: unknown) => isRadosError(e, 'ESHUTDOWN'));
      // The notifier no longer sees the watch.
      assert.deepEqual(await notifierIo.notify(oid, Buffer.alloc(0), 2000), {
        rc: 0,
        acks: [],
        timeouts: [],
      });
    } finally {
      await notifier.monCommand({ prefix: 'osd blocklist', blocklistop: 'rm', addr });
      await victim.shutdown();
      await notifierIo.remove(oid);
    }
  });

  test('close() and shutdown() end the watches they own', async () => {
    const oid = await freshObject('owned');
    const r = await Rados.connect({ confPath: site.confPath, timeoutMs: 30_000 });
    const ioClosed = await r.openIoCtx(site.metadataPool);
    const ioShut = await r.openIoCtx(site.metadataPool);
    const w1 = await ioClosed.watch(oid, () => Buffer.from('1'), failOnError);
    await ioShut.watch(oid, () => Buffer.from('2'), failOnError);
    assert.equal((await notifierIo.notify(oid, Buffer.alloc(0), 2000)).acks.length, 2);

    await ioClosed.close();
    const afterClose = await notifierIo.notify(oid, Buffer.alloc(0), 2000);
    assert.deepEqual(
      afterClose.acks.map((a) => a.payload.toString()),
      ['2'],
    );
    await w1.unwatch(); // already gone with its IoCtx: resolves

    await r.shutdown();
    assert.deepEqual(await notifierIo.notify(oid, Buffer.alloc(0), 2000), {
      rc: 0,
      acks: [],
      timeouts: [],
    });
    await notifierIo.remove(oid);
  });
});
