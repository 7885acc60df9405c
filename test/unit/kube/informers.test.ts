// CachedWatch against the in-memory API server over HTTPS (test/support/fake-kube-server.ts),
// with its real client-node informer: the `prepare` step reaches every object, listed or watched,
// before any handler and before the cache hands it out.
import { strict as assert } from 'node:assert';
import { after, before, test } from 'node:test';
import { GROUP, KINDS, VERSION, type MirroredDirectory } from '../../../src/api/resources.js';
import { StringPool, slimCachedObject } from '../../../src/kube/cached-objects.js';
import { CachedWatch } from '../../../src/kube/informers.js';
import { KubeApi } from '../../../src/kube/kube-api.js';
import { silentLogger } from '../../../src/log.js';
import { FakeKubeServer } from '../../support/fake-kube-server.js';

const NS = 'inf';
const server = new FakeKubeServer();

function directory(name: string): MirroredDirectory {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'MirroredDirectory',
    metadata: {
      name,
      namespace: NS,
      managedFields: [{ manager: 'kubectl', operation: 'Update' }],
    },
    spec: { mirrorRef: { name: 'm' }, path: `/${name}` },
  } as MirroredDirectory;
}

const managedFieldsOf = (d: MirroredDirectory): unknown =>
  (d.metadata as { managedFields?: unknown }).managedFields;

before(() => server.start());
after(() => server.stop());

test('prepare reaches listed objects page by page and watched ones before any handler', async () => {
  for (const name of ['a', 'b', 'c']) await server.kube.create(KINDS.directory, directory(name));
  const api = new KubeApi(server.kubeConfig());
  const pool = new StringPool();
  const seen: Array<[string, boolean]> = [];
  /** Each prepared object, with how many handler calls had happened by then. */
  const prepared: Array<[string, number]> = [];
  const prepare = (d: MirroredDirectory): void => {
    prepared.push([d.metadata.name, seen.length]);
    slimCachedObject(d, pool);
  };
  const watch = new CachedWatch<MirroredDirectory>(
    server.kubeConfig(),
    {
      name: 'directories',
      path: () => `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${KINDS.directory.plural}`,
      list: (ns, each) => api.list<MirroredDirectory>(KINDS.directory, ns, each),
    },
    [NS],
    silentLogger(),
    prepare,
  );
  watch.on((d) => seen.push([d.metadata.name, managedFieldsOf(d) === undefined]));
  try {
    await watch.start();
    // Each listed object prepared during the list, before any handler ran (then again as its
    // add event: prepare is idempotent).
    assert.deepEqual(prepared.slice(0, 3), [
      ['a', 0],
      ['b', 0],
      ['c', 0],
    ]);
    assert.deepEqual(seen, [
      ['a', true],
      ['b', true],
      ['c', true],
    ]);
    await server.kube.create(KINDS.directory, directory('d'));
    const deadline = Date.now() + 10_000;
    while (!watch.get(NS, 'd') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const d = watch.get(NS, 'd');
    assert.ok(d);
    assert.equal(managedFieldsOf(d), undefined, 'the watched one too');
    assert.deepEqual(seen.at(-1), ['d', true], 'prepared before the handler saw it');
    for (const o of watch.list()) assert.equal(managedFieldsOf(o), undefined, o.metadata.name);
  } finally {
    await watch.stop();
    api.close();
  }
});
