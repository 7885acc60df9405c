// The RADOS global ids holding a session on the lab's monitors, through the ceph CLI (`tell
// mon.* sessions`). For tests and benchmarks only: the engine's fast signal of death needs this
// lookup (InstanceWatcherOptions.monSessions), and rados-js cannot yet send a command to a named
// monitor (rados_mon_command_target), which the product would need for it.
import { ceph } from '../ceph-cluster.js';

/** Global ids (decimal strings) with a session on the lab's single monitor. */
export async function labMonSessions(confPath: string): Promise<Set<string>> {
  const out = await ceph(confPath, ['tell', 'mon.*', 'sessions', '--format', 'json'], 10_000);
  // One monitor: one JSON array (with several, the CLI prefixes each with `mon.<id>:`).
  const sessions = JSON.parse(out.slice(out.indexOf('['))) as Array<{ global_id?: number }>;
  return new Set(sessions.flatMap((s) => (s.global_id ? [String(s.global_id)] : [])));
}
