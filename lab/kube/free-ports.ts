// Free loopback ports for etcd and kube-apiserver.
import { createServer } from 'node:net';

// Below the Linux ephemeral range (32768+) and apart from the Ceph lab's range (20000-32000), so
// outgoing connections and the Ceph daemons do not take the ports between probe and bind.
const LOW = 12000;
const HIGH = 20000;

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
 * `count` distinct free ports, picked at random so two runs starting at once rarely probe the same
 * ones. A probe cannot reserve a port; startKube retries with new ports if a bind still fails.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const picked: number[] = [];
  for (let attempt = 0; picked.length < count && attempt < 500; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (picked.includes(port)) continue;
    if (await canListen(port)) picked.push(port);
  }
  if (picked.length < count) throw new Error(`no ${count} free ports between ${LOW} and ${HIGH}`);
  return picked;
}
