/**
 * MQTT 3.1.1 control packets (OASIS standard, 29 October 2014): encoding and decoding of all
 * fourteen packet types, in both directions (the client sends some, the tests' fake broker and the
 * fuzzers need the others). Decoding treats its input as hostile: every length is checked against
 * what is left, reserved bits are enforced, strings must be well-formed UTF-8 without U+0000, and
 * failures are typed errors (errors.ts). Encoding refuses what the protocol cannot carry.
 */
import { concatBytes, utf8ToBytes } from "../bytes/bytes.js";
import {
  MqttArgumentError,
  MqttMalformedPacketError,
  MqttRemainingLengthError,
  MqttReservedFlagsError,
  MqttStringError,
} from "./errors.js";

/** Control packet types (MQTT 3.1.1 Table 2.1). */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

const TYPE_NAMES = ["reserved(0)", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "reserved(15)"];

export function packetTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** The largest Remaining Length four bytes can carry (0xFF 0xFF 0xFF 0x7F). */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** Strings and binary fields carry a 16-bit length. */
export const MAX_STRING_BYTES = 65_535;
/** SUBACK return code for a refused subscription. */
export const SUBACK_FAILURE = 0x80;
export const PROTOCOL_NAME = "MQTT";
export const PROTOCOL_LEVEL = 4;

export type QoS = 0 | 1 | 2;

export interface WillMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

export interface ConnectPacket {
  type: "connect";
  /** Default "MQTT". */
  protocolName?: string;
  /** Default 4 (MQTT 3.1.1). */
  protocolLevel?: number;
  clientId: string;
  keepAliveSeconds: number;
  cleanSession: boolean;
  will?: WillMessage;
  username?: string;
  password?: Uint8Array;
}

export interface ConnackPacket {
  type: "connack";
  sessionPresent: boolean;
  returnCode: number;
}

export interface PublishPacket {
  type: "publish";
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present exactly when qos > 0. */
  packetId?: number;
}

export interface PacketIdPacket {
  type: "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback";
  packetId: number;
}

export interface Subscription {
  topicFilter: string;
  qos: QoS;
}

export interface SubscribePacket {
  type: "subscribe";
  packetId: number;
  subscriptions: Subscription[];
}

export interface SubackPacket {
  type: "suback";
  packetId: number;
  /** 0, 1, 2 (granted QoS) or 0x80 (failure), one per requested filter. */
  returnCodes: number[];
}

export interface UnsubscribePacket {
  type: "unsubscribe";
  packetId: number;
  topicFilters: string[];
}

export interface EmptyPacket {
  type: "pingreq" | "pingresp" | "disconnect";
}

export type MqttPacket = ConnectPacket | ConnackPacket | PublishPacket | PacketIdPacket | SubscribePacket | SubackPacket | UnsubscribePacket | EmptyPacket;

// ---------------------------------------------------------------------------------------------
// Validation shared by encoder and decoder

/**
 * Checks `text` against MQTT-1.5.3-1/2 (no U+0000, no lone surrogates) and returns its UTF-8 length,
 * or the problem. Iterates by code point: XS keeps strings as UTF-8, where charCodeAt(i) on
 * non-ASCII text costs O(i).
 */
function inspectString(text: string): { problem?: string; utf8Length: number } {
  let utf8Length = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0) return { problem: "contains U+0000", utf8Length };
    if (cp >= 0xd800 && cp <= 0xdfff) return { problem: "contains a lone surrogate", utf8Length };
    utf8Length += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return { utf8Length };
}

function stringProblem(text: string): string | undefined {
  return inspectString(text).problem;
}

/** Why `topic` is not a valid topic name (for PUBLISH), or undefined (MQTT-4.7.1-1, 4.7.3-1). */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return "is empty";
  if (topic.includes("+") || topic.includes("#")) return "contains a wildcard (+ or #)";
  return stringProblem(topic);
}

/** Why `filter` is not a valid topic filter (for SUBSCRIBE/UNSUBSCRIBE), or undefined (MQTT-4.7.1-2/3). */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return "is empty";
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) return "has # that is not a whole last level";
    if (level.includes("+") && level !== "+") return "has + that is not a whole level";
  }
  return stringProblem(filter);
}

function checkPacketId(packetId: number | undefined, what: string): number {
  if (packetId === undefined || !Number.isInteger(packetId) || packetId < 1 || packetId > 0xffff) {
    throw new MqttArgumentError(`${what}: packet identifier must be 1..65535, got ${String(packetId)}`);
  }
  return packetId;
}

function checkQos(qos: number, what: string): QoS {
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new MqttArgumentError(`${what}: QoS must be 0, 1 or 2, got ${String(qos)}`);
  return qos;
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** The variable-length Remaining Length field (MQTT 3.1.1 §2.2.3). */
export function encodeRemainingLength(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > MAX_REMAINING_LENGTH) {
    throw new MqttArgumentError(`remaining length ${value} is outside 0..${MAX_REMAINING_LENGTH}`);
  }
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Uint8Array.from(out);
}

function u16(value: number): Uint8Array {
  return Uint8Array.of((value >> 8) & 0xff, value & 0xff);
}

function encodeString(text: string, what: string): Uint8Array {
  // Every UTF-16 code unit takes at least one UTF-8 byte: refuse early, before encoding a huge string.
  if (text.length > MAX_STRING_BYTES) throw new MqttArgumentError(`${what} is over ${MAX_STRING_BYTES} bytes`);
  const { problem, utf8Length } = inspectString(text);
  if (problem) throw new MqttArgumentError(`${what} ${problem}`);
  if (utf8Length > MAX_STRING_BYTES) throw new MqttArgumentError(`${what} is ${utf8Length} bytes (at most ${MAX_STRING_BYTES})`);
  return encodeBinary(utf8ToBytes(text), what);
}

function encodeBinary(bytes: Uint8Array, what: string): Uint8Array {
  if (bytes.length > MAX_STRING_BYTES) throw new MqttArgumentError(`${what} is ${bytes.length} bytes (at most ${MAX_STRING_BYTES})`);
  return concatBytes(u16(bytes.length), bytes);
}

function encodeTopicName(topic: string, what: string): Uint8Array {
  const problem = topicNameProblem(topic);
  if (problem) throw new MqttArgumentError(`${what} ${JSON.stringify(topic)} ${problem}`);
  return encodeString(topic, what);
}

function encodeTopicFilter(filter: string, what: string): Uint8Array {
  const problem = topicFilterProblem(filter);
  if (problem) throw new MqttArgumentError(`${what} ${JSON.stringify(filter)} ${problem}`);
  return encodeString(filter, what);
}

function frame(firstByte: number, parts: Uint8Array[]): Uint8Array {
  const body = concatBytes(...parts);
  return concatBytes(Uint8Array.of(firstByte), encodeRemainingLength(body.length), body);
}

/** Encodes one control packet; MqttArgumentError for anything the protocol cannot carry. */
export function encodePacket(packet: MqttPacket): Uint8Array {
  switch (packet.type) {
    case "connect":
      return encodeConnect(packet);
    case "connack": {
      if (!Number.isInteger(packet.returnCode) || packet.returnCode < 0 || packet.returnCode > 255) throw new MqttArgumentError(`CONNACK return code ${packet.returnCode}`);
      return frame(PacketType.CONNACK << 4, [Uint8Array.of(packet.sessionPresent ? 1 : 0, packet.returnCode)]);
    }
    case "publish":
      return encodePublish(packet);
    case "puback":
      return frame(PacketType.PUBACK << 4, [u16(checkPacketId(packet.packetId, "PUBACK"))]);
    case "pubrec":
      return frame(PacketType.PUBREC << 4, [u16(checkPacketId(packet.packetId, "PUBREC"))]);
    case "pubrel":
      return frame((PacketType.PUBREL << 4) | 0x02, [u16(checkPacketId(packet.packetId, "PUBREL"))]);
    case "pubcomp":
      return frame(PacketType.PUBCOMP << 4, [u16(checkPacketId(packet.packetId, "PUBCOMP"))]);
    case "unsuback":
      return frame(PacketType.UNSUBACK << 4, [u16(checkPacketId(packet.packetId, "UNSUBACK"))]);
    case "subscribe": {
      if (packet.subscriptions.length === 0) throw new MqttArgumentError("SUBSCRIBE needs at least one topic filter");
      const parts = [u16(checkPacketId(packet.packetId, "SUBSCRIBE"))];
      for (const s of packet.subscriptions) {
        parts.push(encodeTopicFilter(s.topicFilter, "SUBSCRIBE topic filter"), Uint8Array.of(checkQos(s.qos, "SUBSCRIBE")));
      }
      return frame((PacketType.SUBSCRIBE << 4) | 0x02, parts);
    }
    case "suback": {
      if (packet.returnCodes.length === 0) throw new MqttArgumentError("SUBACK needs at least one return code");
      for (const code of packet.returnCodes) {
        if (code !== 0 && code !== 1 && code !== 2 && code !== SUBACK_FAILURE) throw new MqttArgumentError(`SUBACK return code ${code}`);
      }
      return frame(PacketType.SUBACK << 4, [u16(checkPacketId(packet.packetId, "SUBACK")), Uint8Array.from(packet.returnCodes)]);
    }
    case "unsubscribe": {
      if (packet.topicFilters.length === 0) throw new MqttArgumentError("UNSUBSCRIBE needs at least one topic filter");
      const parts = [u16(checkPacketId(packet.packetId, "UNSUBSCRIBE"))];
      for (const f of packet.topicFilters) parts.push(encodeTopicFilter(f, "UNSUBSCRIBE topic filter"));
      return frame((PacketType.UNSUBSCRIBE << 4) | 0x02, parts);
    }
    case "pingreq":
      return Uint8Array.of(PacketType.PINGREQ << 4, 0);
    case "pingresp":
      return Uint8Array.of(PacketType.PINGRESP << 4, 0);
    case "disconnect":
      return Uint8Array.of(PacketType.DISCONNECT << 4, 0);
  }
}

function encodeConnect(packet: ConnectPacket): Uint8Array {
  const keepAlive = packet.keepAliveSeconds;
  if (!Number.isInteger(keepAlive) || keepAlive < 0 || keepAlive > 0xffff) throw new MqttArgumentError(`keep-alive must be 0..65535 seconds, got ${keepAlive}`);
  if (packet.clientId.length === 0 && !packet.cleanSession) throw new MqttArgumentError("an empty client identifier needs clean session (MQTT-3.1.3-7)");
  if (packet.password !== undefined && packet.username === undefined) throw new MqttArgumentError("a password needs a user name (MQTT-3.1.2-22)");
  const level = packet.protocolLevel ?? PROTOCOL_LEVEL;
  if (!Number.isInteger(level) || level < 0 || level > 255) throw new MqttArgumentError(`protocol level ${level}`);
  let flags = 0;
  if (packet.username !== undefined) flags |= 0x80;
  if (packet.password !== undefined) flags |= 0x40;
  if (packet.will) {
    flags |= 0x04 | (checkQos(packet.will.qos, "will") << 3);
    if (packet.will.retain) flags |= 0x20;
  }
  if (packet.cleanSession) flags |= 0x02;
  const parts = [
    encodeString(packet.protocolName ?? PROTOCOL_NAME, "protocol name"),
    Uint8Array.of(level, flags),
    u16(keepAlive),
    encodeString(packet.clientId, "client identifier"),
  ];
  if (packet.will) parts.push(encodeTopicName(packet.will.topic, "will topic"), encodeBinary(packet.will.payload, "will message"));
  if (packet.username !== undefined) parts.push(encodeString(packet.username, "user name"));
  if (packet.password !== undefined) parts.push(encodeBinary(packet.password, "password"));
  return frame(PacketType.CONNECT << 4, parts);
}

function encodePublish(packet: PublishPacket): Uint8Array {
  const qos = checkQos(packet.qos, "PUBLISH");
  if (qos === 0 && packet.dup) throw new MqttArgumentError("DUP must be 0 on a QoS 0 PUBLISH (MQTT-3.3.1-2)");
  if (qos === 0 && packet.packetId !== undefined) throw new MqttArgumentError("a QoS 0 PUBLISH has no packet identifier (MQTT-2.3.1-5)");
  const parts = [encodeTopicName(packet.topic, "topic name")];
  if (qos > 0) parts.push(u16(checkPacketId(packet.packetId, "PUBLISH")));
  parts.push(packet.payload);
  const firstByte = (PacketType.PUBLISH << 4) | (packet.dup ? 0x08 : 0) | (qos << 1) | (packet.retain ? 0x01 : 0);
  return frame(firstByte, parts);
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Reads the Remaining Length starting at `offset`: its value and how many bytes it took, or
 * undefined when the field is not complete yet. A fifth byte is an error (§2.2.3: at most four).
 */
export function decodeRemainingLength(bytes: Uint8Array, offset: number): { value: number; size: number } | undefined {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < 4; i++) {
    const byte = bytes[offset + i];
    if (byte === undefined) return undefined;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return { value, size: i + 1 };
    multiplier *= 128;
  }
  throw new MqttRemainingLengthError("remaining length field continues past 4 bytes");
}

/** Strictly decodes MQTT UTF-8: well-formed (shortest form, no surrogates, <= U+10FFFF) and without U+0000. */
function decodeUtf8Strict(bytes: Uint8Array, what: string): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let need: number;
    let cp: number;
    let min: number;
    if (b < 0x80) {
      if (b === 0) throw new MqttStringError(`${what} contains U+0000 (MQTT-1.5.3-2)`);
      out += String.fromCharCode(b);
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      min = 0x10000;
    } else {
      throw new MqttStringError(`${what} is not well-formed UTF-8 (byte 0x${b.toString(16)} at ${i})`);
    }
    if (i + need >= bytes.length) throw new MqttStringError(`${what} ends inside a UTF-8 sequence`);
    for (let k = 1; k <= need; k++) {
      const n = bytes[i + k]!;
      if ((n & 0xc0) !== 0x80) throw new MqttStringError(`${what} is not well-formed UTF-8 (byte 0x${n.toString(16)} at ${i + k})`);
      cp = (cp << 6) | (n & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      throw new MqttStringError(`${what} is not well-formed UTF-8 (code point U+${cp.toString(16).toUpperCase()} at ${i})`);
    }
    out += String.fromCodePoint(cp);
    i += need + 1;
  }
  return out;
}

/** A cursor over one packet's body; every read checks what is left. */
class BodyReader {
  #offset = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly packetName: string,
  ) {}

  get remaining(): number {
    return this.bytes.length - this.#offset;
  }

  u8(what: string): number {
    if (this.remaining < 1) throw new MqttMalformedPacketError(`${this.packetName} ends before its ${what}`);
    return this.bytes[this.#offset++]!;
  }

  u16(what: string): number {
    if (this.remaining < 2) throw new MqttMalformedPacketError(`${this.packetName} ends before its ${what}`);
    const value = (this.bytes[this.#offset]! << 8) | this.bytes[this.#offset + 1]!;
    this.#offset += 2;
    return value;
  }

  packetId(): number {
    const id = this.u16("packet identifier");
    if (id === 0) throw new MqttMalformedPacketError(`${this.packetName} has packet identifier 0 (MQTT-2.3.1-1)`);
    return id;
  }

  binary(what: string): Uint8Array {
    if (this.remaining < 2) throw new MqttStringError(`${this.packetName} ends before the length of its ${what}`);
    const length = this.u16(what);
    if (length > this.remaining) throw new MqttStringError(`${this.packetName}: ${what} of ${length} bytes runs past the packet (${this.remaining} left)`);
    const value = this.bytes.slice(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  string(what: string): string {
    return decodeUtf8Strict(this.binary(what), `${this.packetName} ${what}`);
  }

  rest(): Uint8Array {
    const value = this.bytes.slice(this.#offset);
    this.#offset = this.bytes.length;
    return value;
  }

  end(): void {
    if (this.remaining !== 0) throw new MqttMalformedPacketError(`${this.packetName} has ${this.remaining} unexpected trailing bytes`);
  }
}

function expectFlags(flags: number, expected: number, name: string): void {
  if (flags !== expected) {
    throw new MqttReservedFlagsError(`${name} fixed-header flags are 0x${flags.toString(16)}, must be 0x${expected.toString(16)} (MQTT-2.2.2-2)`);
  }
}

function expectLength(body: Uint8Array, length: number, name: string): void {
  if (body.length !== length) throw new MqttMalformedPacketError(`${name} remaining length is ${body.length}, must be ${length}`);
}

/**
 * Decodes one packet from its first byte (type and flags) and its body (exactly Remaining Length
 * bytes). Throws a MqttMalformedPacketError subclass for anything that breaks the 3.1.1 encoding.
 */
export function decodePacket(firstByte: number, body: Uint8Array): MqttPacket {
  const type = firstByte >> 4;
  const flags = firstByte & 0x0f;
  const name = packetTypeName(type);
  switch (type) {
    case PacketType.CONNECT:
      expectFlags(flags, 0, name);
      return decodeConnect(new BodyReader(body, name));
    case PacketType.CONNACK: {
      expectFlags(flags, 0, name);
      expectLength(body, 2, name);
      const ackFlags = body[0]!;
      if ((ackFlags & 0xfe) !== 0) throw new MqttReservedFlagsError(`CONNACK acknowledge flags 0x${ackFlags.toString(16)} set reserved bits 7-1`);
      const returnCode = body[1]!;
      const sessionPresent = (ackFlags & 1) === 1;
      if (returnCode !== 0 && sessionPresent) throw new MqttMalformedPacketError(`CONNACK refuses (return code ${returnCode}) yet sets session present (MQTT-3.2.2-4)`);
      return { type: "connack", sessionPresent, returnCode };
    }
    case PacketType.PUBLISH:
      return decodePublish(flags, new BodyReader(body, name));
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
    case PacketType.UNSUBACK: {
      expectFlags(flags, type === PacketType.PUBREL ? 0x02 : 0, name);
      expectLength(body, 2, name);
      const packetId = new BodyReader(body, name).packetId();
      const kind = type === PacketType.PUBACK ? "puback" : type === PacketType.PUBREC ? "pubrec" : type === PacketType.PUBREL ? "pubrel" : type === PacketType.PUBCOMP ? "pubcomp" : "unsuback";
      return { type: kind, packetId };
    }
    case PacketType.SUBSCRIBE: {
      expectFlags(flags, 0x02, name);
      const reader = new BodyReader(body, name);
      const packetId = reader.packetId();
      const subscriptions: Subscription[] = [];
      while (reader.remaining > 0) {
        const topicFilter = reader.string("topic filter");
        const problem = topicFilterProblem(topicFilter);
        if (problem) throw new MqttMalformedPacketError(`SUBSCRIBE topic filter ${JSON.stringify(topicFilter)} ${problem}`);
        const qos = reader.u8("requested QoS");
        if (qos > 2) throw new MqttReservedFlagsError(`SUBSCRIBE requested QoS byte 0x${qos.toString(16)} (reserved bits set or QoS 3; MQTT-3.8.3-4)`);
        subscriptions.push({ topicFilter, qos: qos as QoS });
      }
      if (subscriptions.length === 0) throw new MqttMalformedPacketError("SUBSCRIBE without a topic filter (MQTT-3.8.3-3)");
      return { type: "subscribe", packetId, subscriptions };
    }
    case PacketType.SUBACK: {
      expectFlags(flags, 0, name);
      const reader = new BodyReader(body, name);
      const packetId = reader.packetId();
      const returnCodes = Array.from(reader.rest());
      if (returnCodes.length === 0) throw new MqttMalformedPacketError("SUBACK without a return code");
      for (const code of returnCodes) {
        if (code !== 0 && code !== 1 && code !== 2 && code !== SUBACK_FAILURE) throw new MqttMalformedPacketError(`SUBACK return code 0x${code.toString(16)} is reserved (MQTT-3.9.3-2)`);
      }
      return { type: "suback", packetId, returnCodes };
    }
    case PacketType.UNSUBSCRIBE: {
      expectFlags(flags, 0x02, name);
      const reader = new BodyReader(body, name);
      const packetId = reader.packetId();
      const topicFilters: string[] = [];
      while (reader.remaining > 0) {
        const filter = reader.string("topic filter");
        const problem = topicFilterProblem(filter);
        if (problem) throw new MqttMalformedPacketError(`UNSUBSCRIBE topic filter ${JSON.stringify(filter)} ${problem}`);
        topicFilters.push(filter);
      }
      if (topicFilters.length === 0) throw new MqttMalformedPacketError("UNSUBSCRIBE without a topic filter (MQTT-3.10.3-2)");
      return { type: "unsubscribe", packetId, topicFilters };
    }
    case PacketType.PINGREQ:
    case PacketType.PINGRESP:
    case PacketType.DISCONNECT: {
      expectFlags(flags, 0, name);
      expectLength(body, 0, name);
      return { type: type === PacketType.PINGREQ ? "pingreq" : type === PacketType.PINGRESP ? "pingresp" : "disconnect" };
    }
    default:
      throw new MqttMalformedPacketError(`packet type ${type} is reserved`);
  }
}

function decodeConnect(reader: BodyReader): ConnectPacket {
  const protocolName = reader.string("protocol name");
  const protocolLevel = reader.u8("protocol level");
  const flags = reader.u8("connect flags");
  if (flags & 0x01) throw new MqttReservedFlagsError("CONNECT flags set the reserved bit 0 (MQTT-3.1.2-3)");
  const keepAliveSeconds = reader.u16("keep alive");
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  if (!hasWill && (willQos !== 0 || willRetain)) throw new MqttReservedFlagsError("CONNECT sets will QoS or will retain without the will flag (MQTT-3.1.2-11)");
  if (willQos === 3) throw new MqttReservedFlagsError("CONNECT will QoS 3 (MQTT-3.1.2-14)");
  if (hasPassword && !hasUsername) throw new MqttMalformedPacketError("CONNECT has a password flag without a user name flag (MQTT-3.1.2-22)");
  const clientId = reader.string("client identifier");
  const packet: ConnectPacket = { type: "connect", protocolName, protocolLevel, clientId, keepAliveSeconds, cleanSession: (flags & 0x02) !== 0 };
  if (hasWill) {
    const topic = reader.string("will topic");
    const problem = topicNameProblem(topic);
    if (problem) throw new MqttMalformedPacketError(`CONNECT will topic ${JSON.stringify(topic)} ${problem}`);
    packet.will = { topic, payload: reader.binary("will message"), qos: willQos as QoS, retain: willRetain };
  }
  if (hasUsername) packet.username = reader.string("user name");
  if (hasPassword) packet.password = reader.binary("password");
  reader.end();
  return packet;
}

function decodePublish(flags: number, reader: BodyReader): PublishPacket {
  const dup = (flags & 0x08) !== 0;
  const qos = (flags >> 1) & 0x03;
  const retain = (flags & 0x01) !== 0;
  if (qos === 3) throw new MqttReservedFlagsError("PUBLISH with QoS 3 (reserved)");
  if (qos === 0 && dup) throw new MqttReservedFlagsError("PUBLISH with QoS 0 and DUP set (MQTT-3.3.1-2)");
  const topic = reader.string("topic name");
  const problem = topicNameProblem(topic);
  if (problem) throw new MqttMalformedPacketError(`PUBLISH topic name ${JSON.stringify(topic)} ${problem} (MQTT-3.3.2-2)`);
  const packet: PublishPacket = { type: "publish", topic, payload: new Uint8Array(0), qos: qos as QoS, retain, dup };
  if (qos > 0) packet.packetId = reader.packetId();
  packet.payload = reader.rest();
  return packet;
}
