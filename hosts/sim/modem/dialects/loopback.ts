/**
 * The virtual modem's TCP stack on Node: real connections, but only to loopback addresses (a
 * virtual modem must not reach the internet on a developer's behalf). Names resolve through a
 * fixed table: "localhost" plus configured aliases (e.g. "cloud.iotsafe.test" → 127.0.0.1); any
 * other name fails like a DNS error, any other address like a refused connection.
 */
import { ByteQueue } from "../../../../modules/platform/byte-queue.js";
import { isIP, Socket } from "node:net";
import { isLoopbackAddress, VirtualConnectError, type VirtualConnection, type VirtualTcpStack } from "./network.js";

export interface LoopbackStackOptions {
  /** Extra names the modem's "DNS" knows, each mapped to a loopback address. */
  hostAliases?: Readonly<Record<string, string>>;
  /** Received bytes buffered per connection before the TCP stream is paused (default 64 KiB, a modem-sized buffer). */
  maxBuffered?: number;
}

const DEFAULT_MAX_BUFFERED = 64 * 1024;

class LoopbackConnection implements VirtualConnection {
  onData: (() => void) | undefined;
  onPeerClose: (() => void) | undefined;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localPort: number;
  #received = new ByteQueue();
  #paused = false;
  #peerClosed = false;
  #closed = false;
  #bytesSent = 0;
  #bytesReceived = 0;

  constructor(
    readonly socket: Socket,
    readonly maxBuffered: number,
  ) {
    this.remoteAddress = socket.remoteAddress ?? "";
    this.remotePort = socket.remotePort ?? 0;
    this.localPort = socket.localPort ?? 0;
    socket.on("data", (chunk: Buffer) => {
      if (this.#closed) return;
      this.#received.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length).slice());
      this.#bytesReceived += chunk.length;
      if (this.#received.length >= this.maxBuffered && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.onData?.();
    });
    const ended = (): void => {
      if (this.#peerClosed || this.#closed) return;
      this.#peerClosed = true;
      this.onPeerClose?.();
    };
    socket.on("end", ended);
    socket.on("close", ended);
    socket.on("error", () => undefined); // "close" follows
  }

  get available(): number {
    return this.#received.length;
  }
  get unsent(): number {
    return this.socket.writableLength;
  }
  get bytesSent(): number {
    return this.#bytesSent;
  }
  get bytesReceived(): number {
    return this.#bytesReceived;
  }
  get peerClosed(): boolean {
    return this.#peerClosed;
  }

  read(max: number): Uint8Array {
    const out = this.#received.take(max) ?? new Uint8Array(0);
    const take = out.length;
    if (this.#paused && this.#received.length < this.maxBuffered / 2 && !this.#closed) {
      this.#paused = false;
      this.socket.resume();
    }
    return out;
  }

  write(bytes: Uint8Array): void {
    if (this.#closed || this.#peerClosed || bytes.length === 0) return;
    this.#bytesSent += bytes.length;
    this.socket.write(Buffer.from(bytes));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onData = undefined;
    this.onPeerClose = undefined;
    this.#received.clear();
    // end() sends FIN after queued data; destroy soon after so nothing lingers.
    this.socket.end(() => this.socket.destroy());
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

export function loopbackTcpStack(options: LoopbackStackOptions = {}): VirtualTcpStack {
  const aliases = new Map<string, string>([["localhost", "127.0.0.1"]]);
  for (const [name, address] of Object.entries(options.hostAliases ?? {})) {
    if (!isLoopbackAddress(address)) throw new RangeError(`host alias ${name} → ${address}: only loopback addresses are allowed`);
    aliases.set(name.toLowerCase(), address);
  }
  const maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED;
  return {
    connect(host, port, timeoutMs) {
      const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
      let address: string;
      if (isIP(bare)) {
        if (!isLoopbackAddress(bare)) return Promise.reject(new VirtualConnectError("refused", `${bare} is not a loopback address (the virtual network only reaches this machine)`));
        address = bare;
      } else {
        const alias = aliases.get(bare.toLowerCase());
        if (!alias) return Promise.reject(new VirtualConnectError("dns", `cannot resolve ${JSON.stringify(bare)} (known: ${[...aliases.keys()].join(", ")})`));
        address = alias;
      }
      if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new VirtualConnectError("refused", `port ${port}`));
      return new Promise<VirtualConnection>((resolve, reject) => {
        const socket = new Socket();
        socket.setNoDelay(true);
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new VirtualConnectError("timeout", `connect to ${address}:${port} timed out`));
        }, timeoutMs);
        socket.once("error", (error) => {
          clearTimeout(timer);
          socket.destroy();
          reject(new VirtualConnectError("refused", `connect to ${address}:${port}: ${error.message}`));
        });
        socket.connect({ host: address, port }, () => {
          clearTimeout(timer);
          socket.removeAllListeners("error");
          resolve(new LoopbackConnection(socket, maxBuffered));
        });
      });
    },
  };
}
