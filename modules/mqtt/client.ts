/**
 * MQTT 3.1.1 client over any byte stream (a TlsClient, a plain transport): CONNECT/CONNACK,
 * PUBLISH at QoS 0 and 1, incoming PUBLISH at QoS 0 and 1, SUBSCRIBE/UNSUBSCRIBE, keep-alive with
 * PINGREQ/PINGRESP, DISCONNECT. Unacknowledged QoS 1 messages live in an MqttSession that survives
 * the connection and is re-sent (DUP set, same packet identifiers, same order) by the next one.
 *
 * Failure model: any malformed or unexpected packet, a stream error, a missing acknowledgement
 * or PINGRESP closes the connection (MQTT-4.8.0-1) and is reported once through onClose(error);
 * pending operations reject. The client does not reconnect by itself: the caller opens a new
 * stream and calls MqttClient.connect again with the same session.
 */
import { utf8ToBytes } from "../bytes/bytes.js";
import type { Platform, TimerHandle } from "../platform/platform.js";
import { TimeoutError, withTimeout } from "../platform/time.js";
import { encodePacket, packetTypeName, SUBACK_FAILURE, topicFilterProblem, topicNameProblem, type MqttPacket, type PacketIdPacket, type PublishPacket, type QoS, type SubackPacket, type Subscription } from "./codec.js";
import {
  connectionRefusedError,
  MqttArgumentError,
  MqttClosedError,
  MqttConnectionLostError,
  MqttError,
  MqttInflightFullError,
  MqttKeepAliveTimeoutError,
  MqttProtocolError,
  MqttSubscribeRefusedError,
  MqttTimeoutError,
} from "./errors.js";
import { DEFAULT_MAX_PACKET_SIZE, MqttPacketReader } from "./reader.js";
import { MqttSession, type InflightMessage } from "./session.js";
import type { MqttStream } from "./stream.js";

export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** The broker marked this as a possible re-delivery. */
  dup: boolean;
}

export type MqttMessageHandler = (message: MqttMessage) => void | Promise<void>;

export interface MqttWill {
  topic: string;
  payload: Uint8Array | string;
  qos?: QoS;
  retain?: boolean;
}

export interface MqttClientOptions {
  platform: Platform;
  /** 1..23 letters and digits is what every broker must accept (MQTT-3.1.3-5); longer is often fine. */
  clientId: string;
  /** Seconds; 0 turns keep-alive off. Default 60. */
  keepAliveSeconds?: number;
  /** Default true. With false the broker keeps subscriptions and queued QoS 1 messages across connections. */
  cleanSession?: boolean;
  username?: string;
  password?: Uint8Array | string;
  will?: MqttWill;
  /** In-flight QoS 1 state carried over from an earlier connection (or restored from a snapshot). */
  session?: MqttSession;
  /** Largest incoming packet accepted, fixed header included. Default 16384. */
  maxPacketSize?: number;
  /** Time allowed for CONNACK. Default 30000 ms. */
  connectTimeoutMs?: number;
  /** Time allowed for PUBACK, SUBACK and UNSUBACK before the connection is declared dead. Default 30000 ms. */
  ackTimeoutMs?: number;
  /** Time allowed for PINGRESP. Default: the keep-alive period, at most 30000 ms. */
  pingTimeoutMs?: number;
  /** Incoming application messages; may also be set later through the property of the same name. */
  onMessage?: MqttMessageHandler;
  /** The connection ended: no argument after disconnect(), the cause otherwise. */
  onClose?: (error?: Error) => void;
}

export interface PublishOptions {
  /** 0 (default) or 1. */
  qos?: 0 | 1;
  retain?: boolean;
}

export interface SubscriptionRequest {
  topicFilter: string;
  /** Maximum QoS for messages on this filter: 0 (default) or 1. */
  qos?: 0 | 1;
}

export interface MqttClientStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  pingsSent: number;
  /** QoS 1 messages re-sent with DUP after this connection opened. */
  resent: number;
}

type State = "connecting" | "connected" | "disconnecting" | "closed";
type AckKind = "puback" | "suback" | "unsuback";

interface PendingAck {
  kind: AckKind;
  packetId: number;
  timer: TimerHandle | undefined;
  resolve(packet: MqttPacket): void;
  reject(error: Error): void;
  /** SUBSCRIBE only: what was asked for, to check the SUBACK against. */
  requested?: Subscription[];
}

const LOG_TAG = "mqtt";

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function ignore(): void {}

export class MqttClient {
  /** Incoming application messages. A QoS 1 message is acknowledged once this returns. */
  onMessage: MqttMessageHandler | undefined;
  /** Called once when an established connection ends (not when connect() itself fails). */
  onClose: ((error?: Error) => void) | undefined;
  readonly session: MqttSession;
  readonly clientId: string;
  readonly stats: MqttClientStats = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, pingsSent: 0, resent: 0 };

  readonly #platform: Platform;
  readonly #stream: MqttStream;
  readonly #reader: MqttPacketReader;
  readonly #connectPacket: MqttPacket;
  readonly #keepAliveMs: number;
  readonly #connectTimeoutMs: number;
  readonly #ackTimeoutMs: number;
  readonly #pingTimeoutMs: number;

  #state: State = "connecting";
  #wasConnected = false;
  #sessionPresent = false;
  #closeError: Error | undefined;
  #writeChain: Promise<void> = Promise.resolve();
  #closed: Promise<void> = Promise.resolve();
  #lastSentAt = 0;
  #pending = new Map<number, PendingAck>();
  #connack: { resolve(): void; reject(error: Error): void; timer: TimerHandle | undefined } | undefined;
  #keepAliveTimer: TimerHandle | undefined;
  #pingTimer: TimerHandle | undefined;
  #pingSentAt = 0;
  #pingWaiters: { resolve(rttMs: number): void; reject(error: Error): void }[] = [];

  private constructor(stream: MqttStream, options: MqttClientOptions) {
    const keepAlive = options.keepAliveSeconds ?? 60;
    if (!Number.isInteger(keepAlive) || keepAlive < 0 || keepAlive > 0xffff) throw new MqttArgumentError(`keepAliveSeconds must be 0..65535, got ${keepAlive}`);
    const positive = (value: number | undefined, fallback: number, name: string): number => {
      const v = value ?? fallback;
      if (!Number.isFinite(v) || v <= 0) throw new MqttArgumentError(`${name} must be a positive number of milliseconds, got ${v}`);
      return v;
    };
    this.#platform = options.platform;
    this.#stream = stream;
    this.clientId = options.clientId;
    this.#keepAliveMs = keepAlive * 1000;
    this.#connectTimeoutMs = positive(options.connectTimeoutMs, 30000, "connectTimeoutMs");
    this.#ackTimeoutMs = positive(options.ackTimeoutMs, 30000, "ackTimeoutMs");
    this.#pingTimeoutMs = positive(options.pingTimeoutMs, keepAlive > 0 ? Math.min(this.#keepAliveMs, 30000) : 30000, "pingTimeoutMs");
    this.#reader = new MqttPacketReader(options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE);
    this.session = options.session ?? new MqttSession();
    this.onMessage = options.onMessage;
    this.onClose = options.onClose;
    const will = options.will;
    const password = options.password;
    // Encoding here validates every field before any byte is sent (MqttArgumentError otherwise).
    this.#connectPacket = {
      type: "connect",
      clientId: options.clientId,
      keepAliveSeconds: keepAlive,
      cleanSession: options.cleanSession ?? true,
      ...(will ? { will: { topic: will.topic, payload: typeof will.payload === "string" ? utf8ToBytes(will.payload) : will.payload, qos: will.qos ?? 0, retain: will.retain ?? false } } : {}),
      ...(options.username !== undefined ? { username: options.username } : {}),
      ...(password !== undefined ? { password: typeof password === "string" ? utf8ToBytes(password) : password } : {}),
    };
  }

  /**
   * Sends CONNECT over `stream` and resolves once the broker accepted it (CONNACK 0). Unacknowledged
   * messages of `options.session` are re-sent right after. Rejects with MqttArgumentError (invalid
   * options; the stream is left untouched), a MqttConnectionRefusedError subclass, MqttTimeoutError,
   * MqttConnectionLostError or a malformed/protocol error; the stream is closed then.
   */
  static async connect(stream: MqttStream, options: MqttClientOptions): Promise<MqttClient> {
    const client = new MqttClient(stream, options);
    const connectBytes = encodePacket(client.#connectPacket);
    client.session.attach();
    await client.#open(connectBytes);
    return client;
  }

  /** True while the connection is up (after CONNACK, before close). */
  get connected(): boolean {
    return this.#state === "connected";
  }

  /** The broker's Session Present flag from CONNACK (true: it kept our earlier session). */
  get sessionPresent(): boolean {
    return this.#sessionPresent;
  }

  /** Why the connection ended (undefined while open or after a clean disconnect()). */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  /**
   * Publishes an application message. QoS 0 resolves once the bytes are handed to the stream; QoS 1
   * resolves when the broker's PUBACK arrives. A QoS 1 message is recorded in the session before it
   * is sent, so if the connection fails first it is re-sent by the next connection.
   */
  async publish(topic: string, payload: Uint8Array | string, options: PublishOptions = {}): Promise<void> {
    this.#checkConnected("publish");
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1) throw new MqttArgumentError(`publish QoS must be 0 or 1, got ${String(qos)} (QoS 2 is not implemented)`);
    const problem = topicNameProblem(topic);
    if (problem) throw new MqttArgumentError(`topic name ${JSON.stringify(topic)} ${problem}`);
    const bytes = typeof payload === "string" ? utf8ToBytes(payload) : payload.slice();
    const retain = options.retain ?? false;
    if (qos === 0) {
      await this.#send(encodePacket({ type: "publish", topic, payload: bytes, qos: 0, retain, dup: false }));
      return;
    }
    if (this.session.isFull) throw new MqttInflightFullError(`${this.session.inflightCount} QoS 1 messages await PUBACK (maxInflight ${this.session.maxInflight})`);
    const packetId = this.session.allocatePacketId((id) => this.#pending.has(id));
    const acknowledged = this.#startQos1Publish(topic, bytes, retain, packetId);
    await acknowledged;
  }

  /**
   * Records a QoS 1 message in the session and sends it; resolves with its PUBACK. Not async: the
   * encoded packet is not held while the PUBACK is awaited (on XS a suspended frame keeps every
   * local alive, and several messages may be in flight).
   */
  #startQos1Publish(topic: string, bytes: Uint8Array, retain: boolean, packetId: number): Promise<unknown> {
    const encoded = encodePacket({ type: "publish", topic, payload: bytes, qos: 1, retain, dup: false, packetId });
    this.session.add({ packetId, topic, payload: bytes, retain });
    const acknowledged = this.#expectAck("puback", packetId);
    return this.#send(encoded).then(() => acknowledged);
  }

  /**
   * Subscribes to one or more topic filters at QoS 0 or 1 and resolves with the granted QoS of each.
   * A filter refused by the broker (SUBACK 0x80) rejects with MqttSubscribeRefusedError (the
   * others in the same request stay subscribed; see its returnCodes).
   */
  async subscribe(filters: string | ReadonlyArray<string | SubscriptionRequest>, qos: 0 | 1 = 0): Promise<QoS[]> {
    this.#checkConnected("subscribe");
    const list = typeof filters === "string" ? [filters] : filters;
    if (list.length === 0) throw new MqttArgumentError("subscribe needs at least one topic filter");
    const requested: Subscription[] = list.map((f) => (typeof f === "string" ? { topicFilter: f, qos } : { topicFilter: f.topicFilter, qos: f.qos ?? qos }));
    for (const s of requested) {
      if (s.qos !== 0 && s.qos !== 1) throw new MqttArgumentError(`subscription QoS must be 0 or 1, got ${String(s.qos)} (QoS 2 is not implemented)`);
      const problem = topicFilterProblem(s.topicFilter);
      if (problem) throw new MqttArgumentError(`topic filter ${JSON.stringify(s.topicFilter)} ${problem}`);
    }
    const packetId = this.session.allocatePacketId((id) => this.#pending.has(id));
    const encoded = encodePacket({ type: "subscribe", packetId, subscriptions: requested });
    const acknowledged = this.#expectAck("suback", packetId, requested);
    await this.#send(encoded);
    const suback = (await acknowledged) as { returnCodes: number[] };
    const refused = requested.filter((_, i) => suback.returnCodes[i] === SUBACK_FAILURE).map((s) => s.topicFilter);
    if (refused.length > 0) throw new MqttSubscribeRefusedError(refused, suback.returnCodes);
    return suback.returnCodes as QoS[];
  }

  /** Removes subscriptions; resolves on UNSUBACK. */
  async unsubscribe(filters: string | readonly string[]): Promise<void> {
    this.#checkConnected("unsubscribe");
    const list = typeof filters === "string" ? [filters] : [...filters];
    if (list.length === 0) throw new MqttArgumentError("unsubscribe needs at least one topic filter");
    for (const f of list) {
      const problem = topicFilterProblem(f);
      if (problem) throw new MqttArgumentError(`topic filter ${JSON.stringify(f)} ${problem}`);
    }
    const packetId = this.session.allocatePacketId((id) => this.#pending.has(id));
    const encoded = encodePacket({ type: "unsubscribe", packetId, topicFilters: list });
    const acknowledged = this.#expectAck("unsuback", packetId);
    await this.#send(encoded);
    await acknowledged;
  }

  /**
   * Sends PINGREQ now (or joins the one outstanding) and resolves with the round trip in ms when
   * PINGRESP arrives. Without PINGRESP within pingTimeoutMs the connection is closed.
   */
  ping(): Promise<number> {
    this.#checkConnected("ping");
    const result = new Promise<number>((resolve, reject) => this.#pingWaiters.push({ resolve, reject }));
    this.#startPing();
    return result;
  }

  /** Sends DISCONNECT (the broker then discards the will) and closes the stream. */
  async disconnect(): Promise<void> {
    if (this.#state !== "connected") {
      await this.#closed;
      return;
    }
    this.#state = "disconnecting";
    this.#stopKeepAlive();
    try {
      await withTimeout(this.#platform, this.#send(encodePacket({ type: "disconnect" })), this.#ackTimeoutMs, () => new TimeoutError("DISCONNECT write timed out"));
    } catch {
      // The stream is closing anyway; the broker then publishes the will, which is all we lose.
    }
    this.#shutdown(undefined);
    await this.#closed;
  }

  /** Closes the stream without DISCONNECT, as a lost connection would (the broker publishes the will). */
  async abort(): Promise<void> {
    this.#shutdown(undefined);
    await this.#closed;
  }

  // ---- connection lifecycle ----

  async #open(connectBytes: Uint8Array): Promise<void> {
    const accepted = new Promise<void>((resolve, reject) => {
      const timer = this.#platform.setTimer(() => {
        if (this.#connack) this.#connack.timer = undefined;
        this.#shutdown(new MqttTimeoutError(`no CONNACK within ${this.#connectTimeoutMs} ms`));
      }, this.#connectTimeoutMs);
      this.#connack = { resolve, reject, timer };
    });
    void this.#readLoop();
    this.#send(connectBytes).catch(ignore);
    await accepted;
  }

  async #readLoop(): Promise<void> {
    try {
      for (;;) {
        const chunk = await this.#stream.read();
        if (this.#state === "closed") return;
        if (chunk === null) {
          throw new MqttConnectionLostError(this.#state === "connecting" ? "the server closed the connection before CONNACK" : "the server closed the connection");
        }
        this.stats.bytesReceived += chunk.length;
        this.#reader.push(chunk);
        for (let packet = this.#reader.next(); packet !== undefined; packet = this.#reader.next()) {
          this.stats.packetsReceived++;
          this.#handle(packet);
          if (this.#isClosed()) return;
        }
      }
    } catch (error) {
      if (this.#state === "closed") return;
      this.#shutdown(error instanceof MqttError ? error : new MqttConnectionLostError(`connection failed: ${describe(error)}`, error));
    }
  }

  /** Ends the connection once: stops timers, fails what waits, closes the stream, reports. */
  #shutdown(error: Error | undefined): void {
    if (this.#state === "closed") return;
    const wasConnected = this.#wasConnected;
    this.#state = "closed";
    this.#closeError = error;
    this.#stopKeepAlive();
    const why = error ? `: ${error.message}` : "";
    if (this.#connack) {
      if (this.#connack.timer !== undefined) this.#platform.clearTimer(this.#connack.timer);
      this.#connack.reject(error ?? new MqttClosedError("connection closed before CONNACK"));
      this.#connack = undefined;
    }
    for (const pending of this.#pending.values()) {
      if (pending.timer !== undefined) this.#platform.clearTimer(pending.timer);
      pending.reject(new MqttClosedError(`connection closed before the ${pending.kind.toUpperCase()} of packet ${pending.packetId}${why}`, error));
    }
    this.#pending.clear();
    for (const waiter of this.#pingWaiters.splice(0)) waiter.reject(new MqttClosedError(`connection closed before PINGRESP${why}`, error));
    this.session.detach();
    this.#closed = this.#stream.close().catch(ignore);
    if (error) this.#platform.log("warn", LOG_TAG, `${this.clientId}: connection closed: ${describe(error)}`);
    else this.#platform.log("info", LOG_TAG, `${this.clientId}: disconnected`);
    if (wasConnected) {
      try {
        this.onClose?.(error);
      } catch (handlerError) {
        this.#platform.log("error", LOG_TAG, `onClose handler threw: ${describe(handlerError)}`);
      }
    }
  }

  /** A method, not a field test: TypeScript would narrow #state across the awaits and handlers that change it. */
  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #checkConnected(operation: string): void {
    if (this.#state === "connected") return;
    const why = this.#closeError ? ` (${describe(this.#closeError)})` : "";
    throw new MqttClosedError(`cannot ${operation}: the connection is ${this.#state === "closed" ? "closed" : this.#state}${why}`, this.#closeError);
  }

  /** Writes one packet after every earlier one; a failed write ends the connection. */
  #send(bytes: Uint8Array): Promise<void> {
    this.#lastSentAt = this.#platform.now();
    const result = this.#writeChain.then(async () => {
      if (this.#state === "closed") throw new MqttClosedError("the connection is closed", this.#closeError);
      try {
        await this.#stream.write(bytes);
      } catch (error) {
        const lost = new MqttConnectionLostError(`write failed: ${describe(error)}`, error);
        this.#shutdown(lost);
        throw lost;
      }
      this.stats.packetsSent++;
      this.stats.bytesSent += bytes.length;
    });
    this.#writeChain = result.catch(ignore);
    return result;
  }

  /** Registers the acknowledgement a packet about to be sent expects, with its timeout. */
  #expectAck(kind: AckKind, packetId: number, requested?: Subscription[]): Promise<MqttPacket> {
    const promise = new Promise<MqttPacket>((resolve, reject) => {
      const pending: PendingAck = { kind, packetId, timer: undefined, resolve, reject, ...(requested ? { requested } : {}) };
      pending.timer = this.#platform.setTimer(() => {
        pending.timer = undefined;
        this.#pending.delete(packetId);
        const error = new MqttTimeoutError(`no ${kind.toUpperCase()} for packet ${packetId} within ${this.#ackTimeoutMs} ms`);
        reject(error);
        this.#shutdown(error);
      }, this.#ackTimeoutMs);
      this.#pending.set(packetId, pending);
    });
    // Callers await it after their write; if that write fails first, nobody must see an unhandled rejection.
    promise.catch(ignore);
    return promise;
  }

  // ---- incoming packets ----

  #handle(packet: MqttPacket): void {
    if (this.#state === "connecting" && packet.type !== "connack") {
      throw new MqttProtocolError(`the broker sent ${packet.type.toUpperCase()} before CONNACK (MQTT-3.2.0-1)`);
    }
    switch (packet.type) {
      case "connack":
        return this.#onConnack(packet.returnCode, packet.sessionPresent);
      case "publish":
        return this.#onPublish(packet);
      case "puback":
      case "suback":
      case "unsuback":
        return this.#onAck(packet);
      case "pingresp":
        return this.#onPingresp();
      default:
        // CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT never come from a broker; PUBREC,
        // PUBREL, PUBCOMP belong to QoS 2, which this client neither sends nor subscribes to.
        throw new MqttProtocolError(`unexpected ${packet.type.toUpperCase()} from the broker`);
    }
  }

  #onConnack(returnCode: number, sessionPresent: boolean): void {
    if (this.#state !== "connecting" || !this.#connack) throw new MqttProtocolError("a second CONNACK");
    const waiter = this.#connack;
    if (returnCode !== 0) {
      this.#shutdown(connectionRefusedError(returnCode));
      return;
    }
    if (waiter.timer !== undefined) this.#platform.clearTimer(waiter.timer);
    this.#connack = undefined;
    this.#state = "connected";
    this.#wasConnected = true;
    this.#sessionPresent = sessionPresent;
    this.#platform.log("info", LOG_TAG, `${this.clientId}: connected (session present: ${sessionPresent}, ${this.session.inflightCount} to re-send)`);
    this.#resendInflight();
    this.#armKeepAlive();
    waiter.resolve();
  }

  /** MQTT-4.4.0-1, 4.6.0-1: unacknowledged PUBLISH packets again, same identifiers, same order, DUP set. */
  #resendInflight(): void {
    for (const message of this.session.inflight) {
      const packet: PublishPacket = { type: "publish", topic: message.topic, payload: message.payload, qos: 1, retain: message.retain, dup: true, packetId: message.packetId };
      this.#expectAck("puback", message.packetId).catch(ignore);
      this.#send(encodePacket(packet)).catch(ignore);
      this.stats.resent++;
    }
  }

  #onPublish(packet: PublishPacket): void {
    if (packet.qos === 2) throw new MqttProtocolError(`QoS 2 PUBLISH on ${JSON.stringify(packet.topic)}: this client subscribes at QoS 0 or 1 only`);
    const message: MqttMessage = { topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: packet.dup };
    const handler = this.onMessage;
    if (!handler) {
      this.#platform.log("warn", LOG_TAG, `${this.clientId}: message on ${JSON.stringify(packet.topic)} dropped: no onMessage handler`);
    } else {
      try {
        const result = handler(message);
        if (result && typeof (result as Promise<void>).then === "function") {
          (result as Promise<void>).then(undefined, (error: unknown) => this.#platform.log("error", LOG_TAG, `onMessage handler failed: ${describe(error)}`));
        }
      } catch (error) {
        this.#platform.log("error", LOG_TAG, `onMessage handler threw: ${describe(error)}`);
      }
    }
    // MQTT-4.5.0-2: acknowledge whether or not the application processed it; PUBACKs leave in
    // arrival order because every write is queued in call order (MQTT-4.6.0-2).
    if (packet.qos === 1 && this.#state === "connected") this.#send(encodePacket({ type: "puback", packetId: packet.packetId! })).catch(ignore);
  }

  #onAck(packet: PacketIdPacket | SubackPacket): void {
    const pending = this.#pending.get(packet.packetId);
    if (packet.type === "puback") {
      if (pending && pending.kind !== "puback") throw new MqttProtocolError(`PUBACK for packet ${packet.packetId}, which was a ${pending.kind === "suback" ? "SUBSCRIBE" : "UNSUBSCRIBE"}`);
      const message = this.session.acknowledge(packet.packetId);
      if (!message) {
        // A duplicate acknowledgement (possible after a re-send): nothing left to do.
        this.#platform.log("debug", LOG_TAG, `${this.clientId}: PUBACK for packet ${packet.packetId}, which is not in flight`);
        return;
      }
      this.#settle(pending);
      this.#notifyAcknowledged(message);
      return;
    }
    if (!pending || pending.kind !== packet.type) {
      throw new MqttProtocolError(`${packetTypeName(packet.type === "suback" ? 9 : 11)} for packet ${packet.packetId}, which no request is waiting for`);
    }
    if (packet.type === "suback") {
      const requested = pending.requested ?? [];
      const codes = (packet as SubackPacket).returnCodes;
      if (codes.length !== requested.length) throw new MqttProtocolError(`SUBACK has ${codes.length} return codes for ${requested.length} topic filters`);
      codes.forEach((code, i) => {
        if (code !== SUBACK_FAILURE && code > requested[i]!.qos) {
          throw new MqttProtocolError(`SUBACK grants QoS ${code} for ${JSON.stringify(requested[i]!.topicFilter)}, requested ${requested[i]!.qos}`);
        }
      });
    }
    this.#settle(pending, packet);
  }

  #settle(pending: PendingAck | undefined, packet?: MqttPacket): void {
    if (!pending) return;
    if (pending.timer !== undefined) this.#platform.clearTimer(pending.timer);
    this.#pending.delete(pending.packetId);
    pending.resolve(packet ?? { type: pending.kind as "puback", packetId: pending.packetId });
  }

  #notifyAcknowledged(message: InflightMessage): void {
    try {
      this.session.onAcknowledged?.(message);
    } catch (error) {
      this.#platform.log("error", LOG_TAG, `session onAcknowledged handler threw: ${describe(error)}`);
    }
  }

  // ---- keep-alive (MQTT-3.1.2-23) ----

  #armKeepAlive(): void {
    if (this.#keepAliveMs === 0 || this.#state !== "connected") return;
    if (this.#keepAliveTimer !== undefined) this.#platform.clearTimer(this.#keepAliveTimer);
    let wait = this.#lastSentAt + this.#keepAliveMs - this.#platform.now();
    // Only while a PINGREQ is outstanding can nothing have been sent for a whole period.
    if (wait <= 0) wait = this.#keepAliveMs;
    this.#keepAliveTimer = this.#platform.setTimer(() => this.#onKeepAliveTimer(), wait);
  }

  #onKeepAliveTimer(): void {
    this.#keepAliveTimer = undefined;
    if (this.#state !== "connected") return;
    if (this.#platform.now() - this.#lastSentAt >= this.#keepAliveMs) this.#startPing();
    this.#armKeepAlive();
  }

  #startPing(): void {
    if (this.#pingTimer !== undefined) return;
    this.#pingSentAt = this.#platform.now();
    this.#pingTimer = this.#platform.setTimer(() => {
      this.#pingTimer = undefined;
      this.#shutdown(new MqttKeepAliveTimeoutError(`no PINGRESP within ${this.#pingTimeoutMs} ms: connection declared dead`));
    }, this.#pingTimeoutMs);
    this.stats.pingsSent++;
    this.#send(encodePacket({ type: "pingreq" })).catch(ignore);
  }

  #onPingresp(): void {
    if (this.#pingTimer === undefined) {
      this.#platform.log("debug", LOG_TAG, `${this.clientId}: PINGRESP without PINGREQ`);
      return;
    }
    this.#platform.clearTimer(this.#pingTimer);
    this.#pingTimer = undefined;
    const rtt = this.#platform.now() - this.#pingSentAt;
    for (const waiter of this.#pingWaiters.splice(0)) waiter.resolve(rtt);
  }

  #stopKeepAlive(): void {
    if (this.#keepAliveTimer !== undefined) this.#platform.clearTimer(this.#keepAliveTimer);
    if (this.#pingTimer !== undefined) this.#platform.clearTimer(this.#pingTimer);
    this.#keepAliveTimer = undefined;
    this.#pingTimer = undefined;
  }
}
