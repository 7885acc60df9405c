/** A driver wired to the in-memory ports, and helpers to run it on fake time. */
import {
  FilesystemMirrorDriver,
  type DirMapRecord,
  type InitialState,
  type InstanceRecord,
  type Tunables,
} from '../../../src/reconcile/index.js';
import {
  FakeClock,
  InMemoryDirMapStore,
  InMemoryNotifier,
  RecordingBlocklister,
  settle,
} from '../../../src/reconcile/testing.js';

export interface World {
  /** Instances the driver reported gone (a notify answered ENOENT). */
  gone: string[];
  clock: FakeClock;
  store: InMemoryDirMapStore;
  notifier: InMemoryNotifier;
  blocklister: RecordingBlocklister;
  driver: FilesystemMirrorDriver;
  changed: string[];
  warnings: string[];
}

function newDriver(
  clock: FakeClock,
  store: InMemoryDirMapStore,
  notifier: InMemoryNotifier,
  blocklister: RecordingBlocklister,
  warnings: string[],
  changed: string[],
  tunables: Partial<Tunables> | undefined,
  gone: string[] = [],
): FilesystemMirrorDriver {
  const driver = new FilesystemMirrorDriver({
    onInstanceGone: (id) => void gone.push(id),
    store,
    notifier,
    blocklister,
    clock,
    tunables,
    logger: { warn: (m) => void warnings.push(m) },
  });
  driver.onDirectoryChanged((p) => changed.push(p));
  return driver;
}

/** Replace the driver by a fresh one started from what the store holds (a restart). */
export function restartDriver(
  w: World,
  tunables?: Partial<Tunables>,
  previousHoldings?: Array<[string, string]>,
): void {
  w.driver = newDriver(
    w.clock,
    w.store,
    w.notifier,
    w.blocklister,
    w.warnings,
    w.changed,
    tunables,
    w.gone,
  );
  w.driver.start({
    directories: [...w.store.dirMap].map(([p, r]) => [p, { ...r }] as const),
    instances: [...w.store.instances],
    marks: [...w.store.marks].map(([p, m]) => [p, { ...m }] as const),
    ...(previousHoldings ? { previousHoldings } : {}),
  });
}

export function makeWorld(
  opts: {
    manual?: boolean;
    tunables?: Partial<Tunables>;
    start?: Partial<InitialState> | false;
  } = {},
): World {
  const clock = new FakeClock();
  const store = new InMemoryDirMapStore(opts.manual ?? false);
  const notifier = new InMemoryNotifier(opts.manual ?? false);
  const blocklister = new RecordingBlocklister();
  const warnings: string[] = [];
  const changed: string[] = [];
  const gone: string[] = [];
  const driver = newDriver(
    clock,
    store,
    notifier,
    blocklister,
    warnings,
    changed,
    opts.tunables,
    gone,
  );
  if (opts.start !== false) {
    const dirs = opts.start?.directories ?? [];
    const instances = opts.start?.instances ?? [];
    for (const [path, record] of dirs) store.dirMap.set(path, record);
    for (const [id, record] of instances) store.instances.set(id, record);
    driver.start({ directories: dirs, instances });
  }
  return { gone, clock, store, notifier, blocklister, driver, changed, warnings };
}

/** Advance fake time second by second, letting promise chains run after each tick. */
export async function runFor(w: World, seconds: number): Promise<void> {
  await settle();
  for (let i = 0; i < seconds; i++) {
    w.clock.advance(1);
    await settle();
  }
}

/** Run until the driver has nothing left to do (bounded). */
export async function runUntilQuiet(w: World, maxSeconds = 100): Promise<void> {
  await settle();
  for (let i = 0; i < maxSeconds; i++) {
    if (w.driver.isQuiet()) return;
    w.clock.advance(1);
    await settle();
  }
  throw new Error('driver did not become quiet');
}

export function instance(id: string): { id: string; addr: string } {
  return { id, addr: `127.0.0.1:0/${id}` };
}

export function instanceRecord(id: string): [string, InstanceRecord] {
  return [id, { version: 1, addr: instance(id).addr }];
}

export function dirRecord(
  instanceId: string,
  lastShuffled = 1_699_990_000,
  purging = false,
): DirMapRecord {
  const r: DirMapRecord = { version: 1, instanceId, lastShuffled };
  if (purging) r.purging = true;
  return r;
}

/** Directory count per live instance according to the driver. */
export function liveLoads(w: World): Map<string, number> {
  return new Map(
    w.driver
      .distribution()
      .instances.filter((i) => !i.dead)
      .map((i) => [i.id, i.directories]),
  );
}
