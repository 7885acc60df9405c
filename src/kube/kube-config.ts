// Loading the kubeconfig: a file when one is named, else the usual places (KUBECONFIG,
// ~/.kube/config, the in-cluster service account). client-node does the reading and the
// credentials (client certificates, tokens, token files, exec plugins).
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}
