/**
 * A scripted MQTT broker for the client's state-machine tests (portable: runs in Node and XS). It
 * sits on the far end of an in-memory link: it records every byte the client sends (so tests can
 * compare them with byte strings written from the MQTT 3.1.1 spec), decodes them into packets, and
 * answers only with bytes the test gives it.
 */
import { concatBytes, fromHex } from "../../../modules/bytes/bytes.js";
import { MqttClient, type MqttClientOptions } from "../../../modules/mqtt/client.js";
import type { MqttPacket } from "../../../modules/mqtt/codec.js";
import { MqttPacketReader } from "../../../modules/mqtt/reader.js";
import { streamFromTransport, type MqttStream } from "../../../modules/mqtt/stream.js";
import { memoryLinkPair, type MemoryLink } from "../../../modules/platform/memory-link.js";
import { byteLinkTransport } from "../../../modules/tls/transport.js";

export class FakeBroker {
  readonly link: MemoryLink;
  /** Every chunk the client wrote, in order. */
  readonly chunks: Uint8Array[] = [];
  /** Decoded packets not yet taken by nextPacket(). */
  readonly queue: MqttPacket[] = [];
  closed = false;
  #reader = new MqttPacketReader(1 << 20);
  #cursor = 0;
  #waiter: (() => void) | undefined;

  constructor(link: MemoryLink) {
    this.link = link;
    link.onReadable = () => {
      const bytes = link.read();
      if (!bytes) return;
      this.chunks.push(bytes);
      this.#reader.push(bytes);
      for (let p = this.#reader.next(); p; p = this.#reader.next()) this.queue.push(p);
      this.#wake();
    };
    link.onClose = () => {
      this.closed = true;
      this.#wake();
    };
  }

  /** All bytes received so far. */
  get received(): Uint8Array {
    return concatBytes(...this.chunks);
  }

  /** Bytes received since the last call (to compare one packet's bytes at a time). */
  takeBytes(): Uint8Array {
    const all = this.received;
    const out = all.slice(this.#cursor);
    this.#cursor = all.length;
    return out;
  }

  /** The next packet from the client; rejects if the link closes first. */
  async nextPacket(): Promise<MqttPacket> {
    for (;;) {
      const packet = this.queue.shift();
      if (packet) return packet;
      if (this.closed) throw new Error("the client closed the link");
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** Resolves once the client has closed the link. */
  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => (this.#waiter = resolve));
  }

  /** Sends bytes (hex text with optional spaces, or bytes) to the client. */
  send(bytes: string | Uint8Array): void {
    this.link.write(typeof bytes === "string" ? fromHex(bytes.replace(/\s+/g, "")) : bytes);
  }

  /** Closes the link from the broker's side, as a broker that drops the connection. */
  drop(): void {
    this.link.close();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }
}

/** A client-side MqttStream and the broker at the other end. */
export function brokerPair(readSize = 1024): { stream: MqttStream; broker: FakeBroker } {
  const [clientEnd, brokerEnd] = memoryLinkPair();
  return { stream: streamFromTransport(byteLinkTransport(clientEnd), readSize), broker: new FakeBroker(brokerEnd) };
}

/** Connects a client: takes its CONNECT, answers with `connack` (default: accepted, no session). */
export async function connectedClient(options: MqttClientOptions, connack = "20 02 00 00"): Promise<{ client: MqttClient; broker: FakeBroker }> {
  const { stream, broker } = brokerPair();
  const connecting = MqttClient.connect(stream, options);
  const connect = await broker.nextPacket();
  if (connect.type !== "connect") throw new Error(`expected CONNECT, got ${connect.type}`);
  broker.takeBytes();
  broker.send(connack);
  const client = await connecting;
  return { client, broker };
}

/** Tracks a promise's outcome without awaiting it. */
export function watch<T>(promise: Promise<T>): { settled: boolean; value: T | undefined; error: unknown } {
  const state = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  promise.then(
    (value) => {
      state.settled = true;
      state.value = value;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}
