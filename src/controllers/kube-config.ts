// Loading the kubeconfig, with connection reuse.
//
// @kubernetes/client-node 1.x builds a new https.Agent for every request, so every API call pays
// a TLS handshake on both sides; on a 2-core machine that, not etcd, capped the API server at about
// a hundred writes a second. Its agent factory is private, so it is wrapped here on the instance:
// the first agent (with the cluster's CA, client certificate and keep-alive) serves every request.
import type { Agent } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';

type AgentFactory = (cluster: unknown, options: Record<string, unknown>) => Agent;

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  const target = kc as unknown as { createAgent?: AgentFactory };
  const original = target.createAgent?.bind(kc);
  if (original) {
    let shared: Agent | undefined;
    target.createAgent = (cluster, options) =>
      (shared ??= original(cluster, { ...options, keepAlive: true, maxSockets: 64 }));
  }
  return kc;
}
