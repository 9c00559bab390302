// Framing packets out of a byte stream, and hostile input: every malformed packet of the MQTT 3.1.1
// rules ends in its typed error, never in a hang, an over-read or an unbounded buffer.
import { fromHex } from "../../../modules/bytes/bytes.js";
import {
  MqttMalformedPacketError,
  MqttPacketTooLargeError,
  MqttRemainingLengthError,
  MqttReservedFlagsError,
  MqttStringError,
} from "../../../modules/mqtt/errors.js";
import { MqttPacketReader } from "../../../modules/mqtt/reader.js";
import type { MqttPacket } from "../../../modules/mqtt/codec.js";
import * as assert from "../../lib/portable/assert.js";

const hex = (text: string) => fromHex(text.replace(/\s+/g, ""));

function readAll(reader: MqttPacketReader, bytes: Uint8Array): MqttPacket[] {
  reader.push(bytes);
  const out: MqttPacket[] = [];
  for (let p = reader.next(); p; p = reader.next()) out.push(p);
  return out;
}

describe("MQTT packet reader: framing", () => {
  it("assembles packets delivered one byte at a time", () => {
    const reader = new MqttPacketReader();
    const bytes = hex("32 09 00 03 61 2f 62 00 0a 68 69");
    const packets: MqttPacket[] = [];
    for (const b of bytes) packets.push(...readAll(reader, Uint8Array.of(b)));
    assert.equal(packets.length, 1);
    assert.equal(packets[0]!.type, "publish");
    assert.equal(reader.buffered, 0);
  });

  it("returns several packets from one chunk and keeps a partial tail", () => {
    const reader = new MqttPacketReader();
    const packets = readAll(reader, hex("20 02 00 00  d0 00  40 02 00 07  90 03 00"));
    assert.deepEqual(packets.map((p) => p.type), ["connack", "pingresp", "puback"]);
    assert.equal(reader.buffered, 3);
    assert.deepEqual(readAll(reader, hex("01 01")), [{ type: "suback", packetId: 1, returnCodes: [1] }]);
  });

  it("refuses an oversized packet from its header alone, before buffering its body", () => {
    const reader = new MqttPacketReader(64);
    reader.push(hex("30 80 01")); // announces 128 bytes of body
    const error = assert.throws(() => reader.next(), MqttPacketTooLargeError);
    assert.equal((error as MqttPacketTooLargeError).size, 131);
    assert.equal((error as MqttPacketTooLargeError).limit, 64);
    assert.ok(reader.buffered <= 3);
  });

  it("accepts a packet of exactly the limit", () => {
    const reader = new MqttPacketReader(9);
    assert.equal(readAll(reader, hex("30 07 00 01 74 61 62 63 64")).length, 1);
  });

  it("stays failed after an error (the stream cannot be resynchronised)", () => {
    const reader = new MqttPacketReader();
    reader.push(hex("00 00"));
    assert.throws(() => reader.next(), MqttMalformedPacketError);
    assert.throws(() => reader.push(hex("d0 00")), MqttMalformedPacketError);
    assert.throws(() => reader.next(), MqttMalformedPacketError);
  });
});

describe("MQTT packet reader: hostile packets", () => {
  const cases: [string, string, abstract new (...args: never[]) => Error, RegExp?][] = [
    ["Remaining Length of five bytes", "30 ff ff ff ff 01", MqttRemainingLengthError],
    ["reserved packet type 0", "00 00", MqttMalformedPacketError, /reserved/],
    ["reserved packet type 15", "f0 00", MqttMalformedPacketError, /reserved/],
    ["PUBACK with flags 0001", "41 02 00 0a", MqttReservedFlagsError],
    ["PUBREL with flags 0000 instead of 0010", "60 02 00 0a", MqttReservedFlagsError],
    ["SUBSCRIBE with flags 0000", "80 06 00 01 00 01 61 00", MqttReservedFlagsError],
    ["PUBLISH with QoS 3", "36 07 00 03 61 2f 62 00 01", MqttReservedFlagsError, /QoS 3/],
    ["PUBLISH QoS 0 with DUP", "38 05 00 03 61 2f 62", MqttReservedFlagsError, /DUP/],
    ["CONNACK with reserved acknowledge flags", "20 02 02 00", MqttReservedFlagsError],
    ["CONNACK of 3 bytes", "20 03 00 00 00", MqttMalformedPacketError, /must be 2/],
    ["CONNACK refusing with session present", "20 02 01 05", MqttMalformedPacketError, /3\.2\.2-4/],
    ["PINGRESP with a body", "d0 01 00", MqttMalformedPacketError],
    ["PUBACK with packet id 0", "40 02 00 00", MqttMalformedPacketError, /identifier 0/],
    ["topic length past the packet", "30 05 00 09 61 2f 62", MqttStringError, /runs past/],
    ["topic length field cut off", "30 01 00", MqttStringError],
    ["topic with an overlong encoding of NUL (C0 80)", "30 04 00 02 c0 80", MqttStringError, /UTF-8/],
    ["topic with an encoded surrogate (ED A0 80)", "30 05 00 03 ed a0 80", MqttStringError, /UTF-8/],
    ["topic with U+0000", "30 05 00 03 61 00 62", MqttStringError, /U\+0000/],
    ["topic ending inside a UTF-8 sequence", "30 04 00 02 41 f0", MqttStringError, /inside/],
    ["topic with a code point above U+10FFFF (F4 90 80 80)", "30 06 00 04 f4 90 80 80", MqttStringError],
    ["PUBLISH topic with a wildcard", "30 05 00 03 61 2f 23", MqttMalformedPacketError, /wildcard/],
    ["PUBLISH with an empty topic", "30 02 00 00", MqttMalformedPacketError, /empty/],
    ["QoS 1 PUBLISH without room for its packet id", "32 06 00 03 61 2f 62 00", MqttMalformedPacketError],
    ["SUBACK with reserved return code 3", "90 03 00 01 03", MqttMalformedPacketError, /reserved/],
    ["SUBACK without return codes", "90 02 00 01", MqttMalformedPacketError],
    ["SUBSCRIBE requesting QoS with reserved bits", "82 06 00 01 00 01 61 04", MqttReservedFlagsError],
    ["SUBSCRIBE with an invalid filter", "82 07 00 01 00 02 61 23 00", MqttMalformedPacketError, /#/],
    ["UNSUBSCRIBE without filters", "a2 02 00 01", MqttMalformedPacketError],
    ["CONNECT with the reserved flag", "10 0d 00 04 4d 51 54 54 04 03 00 3c 00 01 63", MqttReservedFlagsError],
    ["CONNECT with will QoS but no will flag", "10 0d 00 04 4d 51 54 54 04 0a 00 3c 00 01 63", MqttReservedFlagsError],
    ["CONNECT with a password but no user name", "10 10 00 04 4d 51 54 54 04 42 00 3c 00 01 63 00 01 70", MqttMalformedPacketError, /3\.1\.2-22/],
    ["CONNECT with trailing bytes", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 01 63 ff", MqttMalformedPacketError, /trailing/],
  ];
  for (const [title, bytes, type, pattern] of cases) {
    it(title, () => {
      const reader = new MqttPacketReader();
      reader.push(hex(bytes));
      assert.throws(() => reader.next(), type, pattern);
    });
  }

  it("a truncated packet is simply incomplete, not an error", () => {
    const reader = new MqttPacketReader();
    reader.push(hex("32 09 00 03 61"));
    assert.equal(reader.next(), undefined);
  });
});
