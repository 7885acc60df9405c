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
