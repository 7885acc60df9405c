// rados-js benchmark against the lab (site-a's metadata pool): omap writes of 10,000 keys in ops
// of 256, a paged omap read of them, notify round trips to a watcher on another connection, and
// mon command round trips. Prints a markdown table and the machine it ran on.
//
//   npx tsx bench/rados.ts            (uses CEPH_LAB_ROOT if set, else starts a private lab)
import { describeMachine } from './machine.js';
import { randomBytes } from 'node:crypto';
import { Rados, type IoCtx } from 'rados-js';
import { useLab } from '../lab/harness/lab.js';

const MACHINE_SETUP =
  'lab: one mon, one mgr, one memstore OSD (size 1) on 127.0.0.1, shared with other work';
const KEYS = 10_000;
const BATCH = 256;
const NOTIFIES = 200;
const RUNS = 3;

interface Row {
  what: string;
  result: string;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

function median(values: number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

/** Keys and values shaped like the mirroring dir map: `dir_map_<path>` -> a ~90-byte pickle. */
function entries(): Array<[string, Buffer]> {
  return Array.from({ length: KEYS }, (_, i) => [
    `dir_map_/volumes/group/subvolume-${String(i).padStart(5, '0')}`,
    randomBytes(90),
  ]);
}

async function writeSequential(
  io: IoCtx,
  oid: string,
  all: Array<[string, Buffer]>,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < all.length; i += BATCH)
    await io.omapWrite(oid, { set: all.slice(i, i + BATCH) });
  return performance.now() - started;
}

async function writeConcurrent(
  io: IoCtx,
  oid: string,
  all: Array<[string, Buffer]>,
): Promise<number> {
  const started = performance.now();
  const ops: Array<Promise<void>> = [];
  for (let i = 0; i < all.length; i += BATCH)
    ops.push(io.omapWrite(oid, { set: all.slice(i, i + BATCH) }));
  await Promise.all(ops);
  return performance.now() - started;
}

async function readPaged(io: IoCtx, oid: string): Promise<number> {
  const started = performance.now();
  let startAfter: string | undefined;
  let count = 0;
  for (;;) {
    const page = await io.omapGetVals(oid, { startAfter, prefix: 'dir_map_', max: BATCH });
    count += page.entries.length;
    if (!page.more) break;
    startAfter = page.entries.at(-1)?.[0];
  }
  if (count !== KEYS) throw new Error(`read ${count} keys, expected ${KEYS}`);
  return performance.now() - started;
}

function rate(keys: number, ms: number): string {
  return `${Math.round((keys / ms) * 1000).toLocaleString('en-US')} keys/s`;
}

function ms(v: number): string {
  return `${v.toFixed(v < 10 ? 2 : 0)} ms`;
}

async function main(): Promise<void> {
  const site = (await useLab()).sites.a;
  const rados = await Rados.connect({ confPath: site.confPath, timeoutMs: 30_000 });
  const watcherRados = await Rados.connect({ confPath: site.confPath, timeoutMs: 30_000 });
  const io = await rados.openIoCtx(site.metadataPool);
  const watcherIo = await watcherRados.openIoCtx(site.metadataPool);
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const rows: Row[] = [];
  try {
    const all = entries();
    const seq: number[] = [];
    const conc: number[] = [];
    const reads: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const oid = `bench-omap-${tag}-${run}`;
      seq.push(await writeSequential(io, oid, all));
      reads.push(await readPaged(io, oid));
      await io.remove(oid);
      const oid2 = `bench-omap-conc-${tag}-${run}`;
      conc.push(await writeConcurrent(io, oid2, all));
      await io.remove(oid2);
    }
    const ops = Math.ceil(KEYS / BATCH);
    rows.push({
      what: `omap write, ${KEYS.toLocaleString('en-US')} keys in ${ops} ops of ${BATCH}, one after another`,
      result: `${ms(median(seq))} (${rate(KEYS, median(seq))}; runs ${seq.map(ms).join(', ')})`,
    });
    rows.push({
      what: `omap write, same ${ops} ops all in flight at once`,
      result: `${ms(median(conc))} (${rate(KEYS, median(conc))}; runs ${conc.map(ms).join(', ')})`,
    });
    rows.push({
      what: `omap paged read, ${KEYS.toLocaleString('en-US')} keys, pages of ${BATCH}`,
      result: `${ms(median(reads))} (${rate(KEYS, median(reads))}; runs ${reads.map(ms).join(', ')})`,
    });

    const oid = `bench-notify-${tag}`;
    await io.createObject(oid);
    const watch = await watcherIo.watch(
      oid,
      (event) => Buffer.from(`ack:${event.payload.length}`),
      (err) => {
        throw err;
      },
    );
    const payload = Buffer.from(
      JSON.stringify({ dir_path: '/volumes/group/subvolume-00001', mode: 'acquire' }),
    );
    for (let i = 0; i < 10; i++) await io.notify(oid, payload, 5000); // warm-up
    const latencies: number[] = [];
    for (let i = 0; i < NOTIFIES; i++) {
      const started = performance.now();
      const result = await io.notify(oid, payload, 5000);
      latencies.push(performance.now() - started);
      if (result.rc !== 0 || result.acks.length !== 1)
        throw new Error(`notify ${i}: rc ${result.rc}`);
    }
    await watch.unwatch();
    await io.remove(oid);
    latencies.sort((a, b) => a - b);
    rows.push({
      what: `notify round trip (one watcher, other connection), ${NOTIFIES} in a row`,
      result: `p50 ${ms(quantile(latencies, 0.5))}, p99 ${ms(quantile(latencies, 0.99))}, max ${ms(latencies.at(-1) ?? NaN)}`,
    });

    const mon: number[] = [];
    for (let i = 0; i < 100; i++) {
      const started = performance.now();
      await rados.monCommand({ prefix: 'fsid', format: 'json' });
      mon.push(performance.now() - started);
    }
    mon.sort((a, b) => a - b);
    rows.push({
      what: 'mon command round trip (`fsid`), 100 in a row',
      result: `p50 ${ms(quantile(mon, 0.5))}, p99 ${ms(quantile(mon, 0.99))}`,
    });
  } finally {
    await Promise.all([rados.shutdown(), watcherRados.shutdown()]);
  }

  console.log(`Machine: ${describeMachine(MACHINE_SETUP)}`);
  console.log(
    `Date: ${new Date().toISOString().slice(0, 10)}; omap figures are the median of ${RUNS} runs.\n`,
  );
  console.log('| measurement | result |');
  console.log('|---|---|');
  for (const r of rows) console.log(`| ${r.what} | ${r.result} |`);
}

await main();
