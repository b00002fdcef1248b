// A tiny TCP proxy between the API and PostgreSQL, so a test can take the database away from one
// API — freeze it (as a SIGSTOP'd server: connections stay open, nothing answers), cut it (every
// connection closed, new ones closed at once) and give it back — without touching the shared
// PostgreSQL that other test files use at the same time. Listens on 127.0.0.1 only.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

type State = 'open' | 'frozen' | 'cut';

interface Pair {
  client: Socket;
  upstream?: Socket;
}

export class TcpProxy {
  private state: State = 'open';
  private readonly pairs = new Set<Pair>();

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Connections currently held open through the proxy. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Nothing flows either way; new connections are accepted and left unanswered. */
  freeze(): void {
    this.state = 'frozen';
    for (const pair of this.pairs) {
      pair.client.pause();
      pair.upstream?.pause();
    }
  }

  /** Every connection is closed, and new ones are closed as soon as they arrive. */
  cut(): void {
    this.state = 'cut';
    for (const pair of this.pairs) this.drop(pair);
  }

  /** Traffic flows again: frozen connections carry on where they stopped. */
  restore(): void {
    this.state = 'open';
    for (const pair of this.pairs) {
      if (!pair.upstream) this.link(pair);
      pair.client.resume();
      pair.upstream!.resume();
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const pair of this.pairs) this.drop(pair);
    await closed;
  }

  private accept(client: Socket): void {
    if (this.state === 'cut') return void client.destroy();
    const pair: Pair = { client };
    this.pairs.add(pair);
    client.on('error', () => this.drop(pair));
    client.on('close', () => this.drop(pair));
    if (this.state === 'frozen') client.pause();
    else this.link(pair);
  }

  private link(pair: Pair): void {
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => this.drop(pair));
    upstream.on('close', () => this.drop(pair));
    upstream.on('data', (chunk) => pair.client.write(chunk));
    pair.client.on('data', (chunk) => upstream.write(chunk));
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
