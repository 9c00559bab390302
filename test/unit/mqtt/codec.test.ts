// MQTT 3.1.1 packet encoding and decoding against byte strings written from the OASIS standard
// (29 October 2014): Table 2.4 (Remaining Length), Figure 1.2 (UTF-8 string), Figure 3.6 (CONNECT
// variable header), Figure 3.11 (PUBLISH variable header), Figures 3.21/3.23 (SUBSCRIBE),
// Figure 3.27 (SUBACK payload), Figure 3.30 (UNSUBSCRIBE), and the fixed headers of chapter 3.
import { asciiToBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import {
  decodePacket,
  decodeRemainingLength,
  encodePacket,
  encodeRemainingLength,
  topicFilterProblem,
  topicNameProblem,
  type MqttPacket,
} from "../../../modules/mqtt/codec.js";
import { MqttArgumentError, MqttRemainingLengthError } from "../../../modules/mqtt/errors.js";
import * as assert from "../../lib/portable/assert.js";

const hex = (text: string) => fromHex(text.replace(/\s+/g, ""));

/** Splits a whole packet into first byte and body the way the reader does, then decodes it. */
function decodeWhole(bytes: Uint8Array): MqttPacket {
  const length = decodeRemainingLength(bytes, 1);
  if (!length) throw new Error("incomplete");
  assert.equal(bytes.length, 1 + length.size + length.value, "whole packet");
  return decodePacket(bytes[0]!, bytes.subarray(1 + length.size));
}

describe("MQTT codec: Remaining Length (spec §2.2.3, Table 2.4)", () => {
  const table: [number, string][] = [
    [0, "00"],
    [64, "40"],
    [127, "7f"],
    [128, "8001"],
    [321, "c102"],
    [16383, "ff7f"],
    [16384, "808001"],
    [2097151, "ffff7f"],
    [2097152, "80808001"],
    [268435455, "ffffff7f"],
  ];
  for (const [value, encoded] of table) {
    it(`${value} is ${encoded}`, () => {
      assert.equal(toHex(encodeRemainingLength(value)), encoded);
      assert.deepEqual(decodeRemainingLength(fromHex(encoded), 0), { value, size: encoded.length / 2 });
    });
  }

  it("refuses values it cannot carry", () => {
    assert.throws(() => encodeRemainingLength(268435456), MqttArgumentError);
    assert.throws(() => encodeRemainingLength(-1), MqttArgumentError);
  });

  it("reports an incomplete field, and a fifth byte as an error", () => {
    assert.equal(decodeRemainingLength(hex("80 80"), 0), undefined);
    assert.throws(() => decodeRemainingLength(hex("ff ff ff ff 01"), 0), MqttRemainingLengthError, /4 bytes/);
  });
});

describe("MQTT codec: golden packets from the spec", () => {
  it("CONNECT with the Figure 3.6 flags (user name, password, will QoS 1, clean session, keep-alive 10)", () => {
    // Variable header exactly as Figure 3.6: 00 04 'MQTT' 04 CE 00 0A; payload fields in the
    // order of MQTT-3.1.3-1: client id "dev1", will topic "a/b", will message "bye", user "u", password "p".
    const expected = hex("10 20  00 04 4d 51 54 54  04  ce  00 0a  00 04 64 65 76 31  00 03 61 2f 62  00 03 62 79 65  00 01 75  00 01 70");
    const packet: MqttPacket = {
      type: "connect",
      clientId: "dev1",
      keepAliveSeconds: 10,
      cleanSession: true,
      will: { topic: "a/b", payload: asciiToBytes("bye"), qos: 1, retain: false },
      username: "u",
      password: asciiToBytes("p"),
    };
    assert.deepEqual(encodePacket(packet), expected);
    assert.deepEqual(decodeWhole(expected), { ...packet, protocolName: "MQTT", protocolLevel: 4 });
  });

  it("minimal CONNECT: client id only, clean session, keep-alive 60", () => {
    const expected = hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");
    assert.deepEqual(encodePacket({ type: "connect", clientId: "c", keepAliveSeconds: 60, cleanSession: true }), expected);
  });

  it("CONNACK: accepted, session present, refused (Figures 3.8, 3.9)", () => {
    assert.deepEqual(decodeWhole(hex("20 02 00 00")), { type: "connack", sessionPresent: false, returnCode: 0 });
    assert.deepEqual(decodeWhole(hex("20 02 01 00")), { type: "connack", sessionPresent: true, returnCode: 0 });
    assert.deepEqual(decodeWhole(hex("20 02 00 05")), { type: "connack", sessionPresent: false, returnCode: 5 });
    assert.deepEqual(encodePacket({ type: "connack", sessionPresent: true, returnCode: 0 }), hex("20 02 01 00"));
  });

  it("PUBLISH with the Figure 3.11 variable header (topic a/b, packet id 10) at QoS 1", () => {
    const expected = hex("32 09 00 03 61 2f 62 00 0a 68 69");
    const packet: MqttPacket = { type: "publish", topic: "a/b", payload: asciiToBytes("hi"), qos: 1, retain: false, dup: false, packetId: 10 };
    assert.deepEqual(encodePacket(packet), expected);
    assert.deepEqual(decodeWhole(expected), packet);
  });

  it("PUBLISH flags: DUP (bit 3), QoS (bits 2-1), RETAIN (bit 0) — Figure 3.10", () => {
    const dup = { type: "publish", topic: "a/b", payload: asciiToBytes("hi"), qos: 1, retain: false, dup: true, packetId: 10 } as const;
    assert.deepEqual(encodePacket(dup), hex("3a 09 00 03 61 2f 62 00 0a 68 69"));
    const retained = { type: "publish", topic: "a/b", payload: asciiToBytes("hi"), qos: 0, retain: true, dup: false } as const;
    assert.deepEqual(encodePacket(retained), hex("31 07 00 03 61 2f 62 68 69"));
    assert.deepEqual(decodeWhole(hex("31 07 00 03 61 2f 62 68 69")), retained);
  });

  it("PUBLISH with an empty payload and the Figure 1.2 UTF-8 topic (A, U+2A6D4)", () => {
    const topic = "A\u{2A6D4}";
    const expected = hex("30 07 00 05 41 f0 aa 9b 94");
    const packet: MqttPacket = { type: "publish", topic, payload: new Uint8Array(0), qos: 0, retain: false, dup: false };
    assert.deepEqual(encodePacket(packet), expected);
    assert.deepEqual(decodeWhole(expected), packet);
  });

  it("PUBACK, PUBREC, PUBREL (flags 0010), PUBCOMP, UNSUBACK with packet id 10", () => {
    const cases: [MqttPacket, string][] = [
      [{ type: "puback", packetId: 10 }, "40 02 00 0a"],
      [{ type: "pubrec", packetId: 10 }, "50 02 00 0a"],
      [{ type: "pubrel", packetId: 10 }, "62 02 00 0a"],
      [{ type: "pubcomp", packetId: 10 }, "70 02 00 0a"],
      [{ type: "unsuback", packetId: 10 }, "b0 02 00 0a"],
    ];
    for (const [packet, bytes] of cases) {
      assert.deepEqual(encodePacket(packet), hex(bytes), packet.type);
      assert.deepEqual(decodeWhole(hex(bytes)), packet, packet.type);
    }
  });

  it("SUBSCRIBE of Figures 3.21 and 3.23: id 10, a/b at QoS 1, c/d at QoS 2", () => {
    const expected = hex("82 0e 00 0a 00 03 61 2f 62 01 00 03 63 2f 64 02");
    const packet: MqttPacket = { type: "subscribe", packetId: 10, subscriptions: [{ topicFilter: "a/b", qos: 1 }, { topicFilter: "c/d", qos: 2 }] };
    assert.deepEqual(encodePacket(packet), expected);
    assert.deepEqual(decodeWhole(expected), packet);
  });

  it("SUBACK with the Figure 3.27 payload: QoS 0, QoS 2, failure", () => {
    const expected = hex("90 05 00 0a 00 02 80");
    const packet: MqttPacket = { type: "suback", packetId: 10, returnCodes: [0, 2, 0x80] };
    assert.deepEqual(encodePacket(packet), expected);
    assert.deepEqual(decodeWhole(expected), packet);
  });

  it("UNSUBSCRIBE of Figure 3.30: a/b and c/d", () => {
    const expected = hex("a2 0c 00 0a 00 03 61 2f 62 00 03 63 2f 64");
    const packet: MqttPacket = { type: "unsubscribe", packetId: 10, topicFilters: ["a/b", "c/d"] };
    assert.deepEqual(encodePacket(packet), expected);
    assert.deepEqual(decodeWhole(expected), packet);
  });

  it("PINGREQ, PINGRESP, DISCONNECT (Figures 3.33 ff.)", () => {
    assert.deepEqual(encodePacket({ type: "pingreq" }), hex("c0 00"));
    assert.deepEqual(encodePacket({ type: "pingresp" }), hex("d0 00"));
    assert.deepEqual(encodePacket({ type: "disconnect" }), hex("e0 00"));
    assert.deepEqual(decodeWhole(hex("d0 00")), { type: "pingresp" });
  });

  it("a PUBLISH with a two-byte Remaining Length (200-byte payload)", () => {
    const payload = new Uint8Array(200).fill(0x41);
    const bytes = encodePacket({ type: "publish", topic: "t", payload, qos: 0, retain: false, dup: false });
    // body = 2 + 1 (topic) + 200 = 203 = 0x4b + 1*128 -> cb 01
    assert.equal(toHex(bytes.subarray(0, 3)), "30cb01");
    assert.equal(bytes.length, 3 + 203);
  });
});

describe("MQTT codec: what the encoder refuses", () => {
  const publish = (topic: string) => encodePacket({ type: "publish", topic, payload: new Uint8Array(0), qos: 0, retain: false, dup: false });

  it("wildcards, an empty topic, U+0000 and lone surrogates in a topic name", () => {
    assert.throws(() => publish("a/+"), MqttArgumentError, /wildcard/);
    assert.throws(() => publish("a/#"), MqttArgumentError, /wildcard/);
    assert.throws(() => publish(""), MqttArgumentError, /empty/);
    assert.throws(() => publish("a\u0000b"), MqttArgumentError, /U\+0000/);
    assert.throws(() => publish("a\ud800"), MqttArgumentError, /surrogate/);
  });

  it("a string over 65535 bytes", () => {
    assert.throws(() => publish("x".repeat(65536)), MqttArgumentError, /65535/);
    assert.throws(() => publish("\u00e9".repeat(32768)), MqttArgumentError, /65536 bytes/, "32768 characters of 2 bytes each");
  });

  it("DUP or a packet id on QoS 0, a missing or zero packet id on QoS 1", () => {
    const base = { type: "publish", topic: "t", payload: new Uint8Array(0), retain: false } as const;
    assert.throws(() => encodePacket({ ...base, qos: 0, dup: true }), MqttArgumentError, /DUP/);
    assert.throws(() => encodePacket({ ...base, qos: 0, dup: false, packetId: 3 }), MqttArgumentError);
    assert.throws(() => encodePacket({ ...base, qos: 1, dup: false }), MqttArgumentError, /packet identifier/);
    assert.throws(() => encodePacket({ ...base, qos: 1, dup: false, packetId: 0 }), MqttArgumentError, /packet identifier/);
  });

  it("CONNECT: a password without a user name, an empty id without clean session", () => {
    assert.throws(() => encodePacket({ type: "connect", clientId: "c", keepAliveSeconds: 0, cleanSession: true, password: new Uint8Array(1) }), MqttArgumentError, /3\.1\.2-22/);
    assert.throws(() => encodePacket({ type: "connect", clientId: "", keepAliveSeconds: 0, cleanSession: false }), MqttArgumentError, /3\.1\.3-7/);
    assert.throws(() => encodePacket({ type: "connect", clientId: "c", keepAliveSeconds: 65536, cleanSession: true }), MqttArgumentError, /keep-alive/);
  });

  it("topic filters (§4.7.1): where # and + may stand", () => {
    for (const good of ["#", "+", "sport/tennis/#", "+/tennis/#", "sport/+", "/", "a//b", "$SYS/#"]) assert.equal(topicFilterProblem(good), undefined, good);
    for (const bad of ["sport/tennis#", "sport/tennis/#/ranking", "sport+", "a/#/", ""]) assert.ok(topicFilterProblem(bad), bad);
    assert.equal(topicNameProblem("Accounts payable"), undefined);
    assert.ok(topicNameProblem("sport/+"));
  });
});
