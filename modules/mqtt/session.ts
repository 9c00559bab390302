/**
 * The client side of an MQTT session that outlives one connection: QoS 1 messages sent and not yet
 * acknowledged, in the order they were first sent, with their packet identifiers (MQTT 3.1.1
 * §3.1.2.4, §4.4). A client re-sends them (DUP set, same identifiers, same order) after it connects
 * again; a durable outbox can snapshot() the state and restore it with fromSnapshot() after a reboot.
 */
import { MqttArgumentError, MqttInflightFullError, MqttSessionError } from "./errors.js";
import { topicNameProblem } from "./codec.js";

export interface InflightMessage {
  readonly packetId: number;
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
}

/** Plain data (numbers, strings, booleans, Uint8Array) that a durable store can serialise. */
export interface MqttSessionSnapshot {
  nextPacketId: number;
  /** In the order the messages were first sent. */
  inflight: { packetId: number; topic: string; payload: Uint8Array; retain: boolean }[];
}

export interface MqttSessionOptions {
  /** Unacknowledged QoS 1 messages allowed at once (bounds memory). Default 16. */
  maxInflight?: number;
}

export class MqttSession {
  readonly maxInflight: number;
  /** Called by the client when the broker acknowledges a QoS 1 message (PUBACK), on whichever connection. */
  onAcknowledged: ((message: InflightMessage) => void) | undefined;
  #inflight = new Map<number, InflightMessage>();
  #nextPacketId = 1;
  #attached = false;

  constructor(options: MqttSessionOptions = {}) {
    const max = options.maxInflight ?? 16;
    if (!Number.isInteger(max) || max < 1 || max > 65535) throw new MqttArgumentError(`maxInflight must be 1..65535, got ${max}`);
    this.maxInflight = max;
  }

  /** Restores exported state; MqttSessionError if it is inconsistent (ids out of range or repeated, bad topics). */
  static fromSnapshot(snapshot: MqttSessionSnapshot, options: MqttSessionOptions = {}): MqttSession {
    const session = new MqttSession(options);
    if (!isPacketId(snapshot.nextPacketId)) throw new MqttSessionError(`snapshot nextPacketId ${String(snapshot.nextPacketId)} is not 1..65535`);
    if (!Array.isArray(snapshot.inflight)) throw new MqttSessionError("snapshot inflight is not a list");
    if (snapshot.inflight.length > session.maxInflight) {
      throw new MqttSessionError(`snapshot holds ${snapshot.inflight.length} in-flight messages, more than maxInflight ${session.maxInflight}`);
    }
    for (const m of snapshot.inflight) {
      if (!isPacketId(m.packetId)) throw new MqttSessionError(`snapshot packet identifier ${String(m.packetId)} is not 1..65535`);
      if (session.#inflight.has(m.packetId)) throw new MqttSessionError(`snapshot repeats packet identifier ${m.packetId}`);
      if (typeof m.topic !== "string" || topicNameProblem(m.topic)) throw new MqttSessionError(`snapshot topic ${JSON.stringify(m.topic)} is not a valid topic name`);
      if (!(m.payload instanceof Uint8Array)) throw new MqttSessionError(`snapshot payload of packet ${m.packetId} is not bytes`);
      session.#inflight.set(m.packetId, { packetId: m.packetId, topic: m.topic, payload: m.payload.slice(), retain: m.retain === true });
    }
    session.#nextPacketId = snapshot.nextPacketId;
    return session;
  }

  /** Unacknowledged QoS 1 messages, oldest first. */
  get inflight(): InflightMessage[] {
    return Array.from(this.#inflight.values());
  }

  get inflightCount(): number {
    return this.#inflight.size;
  }

  get isFull(): boolean {
    return this.#inflight.size >= this.maxInflight;
  }

  snapshot(): MqttSessionSnapshot {
    return {
      nextPacketId: this.#nextPacketId,
      inflight: this.inflight.map((m) => ({ packetId: m.packetId, topic: m.topic, payload: m.payload.slice(), retain: m.retain })),
    };
  }

  /** Forgets every unacknowledged message (the application gave up on them). */
  clear(): void {
    this.#inflight.clear();
  }

  /**
   * The next packet identifier that neither an in-flight message nor `inUseElsewhere` holds
   * (MQTT-2.3.1-2). Identifiers cycle through 1..65535.
   */
  allocatePacketId(inUseElsewhere: (packetId: number) => boolean = () => false): number {
    for (let tries = 0; tries < 65535; tries++) {
      const id = this.#nextPacketId;
      this.#nextPacketId = id === 65535 ? 1 : id + 1;
      if (!this.#inflight.has(id) && !inUseElsewhere(id)) return id;
    }
    throw new MqttInflightFullError("no free packet identifier");
  }

  /** Records a QoS 1 message before it is first sent. */
  add(message: InflightMessage): void {
    if (this.isFull) throw new MqttInflightFullError(`${this.#inflight.size} QoS 1 messages await PUBACK (maxInflight ${this.maxInflight})`);
    if (this.#inflight.has(message.packetId)) throw new MqttSessionError(`packet identifier ${message.packetId} is already in flight`);
    this.#inflight.set(message.packetId, message);
  }

  /** Removes the message a PUBACK acknowledges; undefined if none had that identifier. */
  acknowledge(packetId: number): InflightMessage | undefined {
    const message = this.#inflight.get(packetId);
    if (!message) return undefined;
    this.#inflight.delete(packetId);
    return message;
  }

  has(packetId: number): boolean {
    return this.#inflight.has(packetId);
  }

  /** @internal One client at a time: two connections re-sending the same messages would interleave. */
  attach(): void {
    if (this.#attached) throw new MqttArgumentError("this MQTT session is already in use by another connection");
    this.#attached = true;
  }

  /** @internal */
  detach(): void {
    this.#attached = false;
  }
}

function isPacketId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 65535;
}
