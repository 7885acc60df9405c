// Kubernetes Secrets holding a lab site's connection settings, in the shape CephFSMirror expects.
import { stringify } from 'yaml';
import { OPERATOR_CLIENT_ID, type SiteInfo } from './ceph-cluster.js';

/**
 * The operator connects as its least-privilege user (lab/ceph-cluster.ts operatorCaps); a lab
 * created before that user existed has only client.admin.
 */
export function connectionSecretYaml(name: string, namespace: string, site: SiteInfo): string {
  const identity = site.operatorKey
    ? { client_id: OPERATOR_CLIENT_ID, key: site.operatorKey }
    : { client_id: 'admin', key: site.adminKey };
  return stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    stringData: { mon_host: site.monHost, ...identity },
  });
}
