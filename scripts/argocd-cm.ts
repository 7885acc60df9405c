// Writes deploy/argocd/argocd-cm.yaml: the argocd-cm entries that give Argo CD a health check for
// each kind, each holding deploy/argocd/health.lua (argocd-cm cannot share one script between
// kinds). Run after changing health.lua: `npx tsx scripts/argocd-cm.ts`; a unit test fails while
// the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const HEALTH_LUA = 'deploy/argocd/health.lua';
export const ARGOCD_CM = 'deploy/argocd/argocd-cm.yaml';
export const KINDS = ['CephFSMirror', 'MirrorPeer', 'MirroredDirectory'] as const;
const GROUP = 'mirror.cephfs.io';

export function healthKey(kind: string): string {
  return `resource.customizations.health.${GROUP}_${kind}`;
}

export function argocdCm(script: string): string {
  const data = Object.fromEntries(KINDS.map((k) => [healthKey(k), script]));
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: 'argocd-cm',
      namespace: 'argocd',
      labels: { 'app.kubernetes.io/name': 'argocd-cm', 'app.kubernetes.io/part-of': 'argocd' },
    },
    data,
  };
  return (
    '# Argo CD health checks for the mirror.cephfs.io kinds: merge `data` into argocd-cm (see\n' +
    '# docs/gitops.md). Generated from deploy/argocd/health.lua by scripts/argocd-cm.ts.\n' +
    stringify(cm, { lineWidth: 0 })
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(ARGOCD_CM, argocdCm(readFileSync(HEALTH_LUA, 'utf8')));
}
