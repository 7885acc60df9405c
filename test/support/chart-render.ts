// The Helm chart rendered without helm (deploy/helm/render: Go text/template + sprig, built once
// and cached), parsed into objects.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const execFileAsync = promisify(execFile);

export const CHART = 'deploy/helm/cephfs-mirror-operator';

export interface ChartObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

let rendererPath: Promise<string> | undefined;

/** deploy/helm/render/build.sh: builds once (cached by the hash of main.go), prints the path. */
export function chartRenderer(): Promise<string> {
  rendererPath ??= execFileAsync('bash', ['deploy/helm/render/build.sh'], {
    timeout: 600_000,
  }).then((r) => r.stdout.trim());
  return rendererPath;
}

/** Renders the chart as release `release` in `namespace` with helm-style value arguments. */
export async function renderChart(
  release: string,
  namespace: string,
  args: string[] = [],
): Promise<{ text: string; objects: ChartObject[] }> {
  const { stdout } = await execFileAsync(await chartRenderer(), [
    release,
    CHART,
    '--namespace',
    namespace,
    ...args,
  ]);
  const objects = parseAllDocuments(stdout).map((d) => {
    assert.deepEqual(d.errors, [], 'every document is valid YAML');
    return d.toJS() as ChartObject;
  });
  return { text: stdout, objects };
}
