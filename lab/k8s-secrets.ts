// Kubernetes Secrets holding a lab site's connection settings, in the shape CephFSMirror expects.
import { stringify } from 'yaml';
import type { SiteInfo } from './ceph-cluster.js';

export function connectionSecretYaml(name: string, namespace: string, site: SiteInfo): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    stringData: { mon_host: site.monHost, client_id: 'admin', key: site.adminKey },
  });
}
