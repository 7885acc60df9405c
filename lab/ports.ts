// Free loopback ports, probed rather than fixed, so two lab runs on one machine do not collide.
import { createServer } from 'node:net';

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Finds `count` consecutive free ports in [low, high). Random start so concurrent runs rarely
 * probe the same range; the caller binds soon after, which keeps the race window small.
 */
export async function findFreePortRange(count: number, low = 20000, high = 32000): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await canListen(p);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found between ${low} and ${high}`);
}

// Below the Linux ephemeral range (32768+) and apart from the Ceph lab's range (20000-32000), so
// outgoing connections and the Ceph daemons do not take the ports between probe and bind.
const KUBE_LOW = 12000;
const KUBE_HIGH = 20000;

/**
 * `count` distinct free ports, picked at random so two runs starting at once rarely probe the same
 * ones. A probe cannot reserve a port; startKube retries with new ports if a bind still fails.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const picked: number[] = [];
  for (let attempt = 0; picked.length < count && attempt < 500; attempt++) {
    const port = KUBE_LOW + Math.floor(Math.random() * (KUBE_HIGH - KUBE_LOW));
    if (picked.includes(port)) continue;
    if (await canListen(port)) picked.push(port);
  }
  if (picked.length < count)
    throw new Error(`no ${count} free ports between ${KUBE_LOW} and ${KUBE_HIGH}`);
  return picked;
}
