import { asciiToBytes, bytesEqual, bytesToAscii, bytesToUtf8, BytesError, concatBytes, fromHex, readUintBE, toHex, uintToBytesBE, utf8ToBytes } from "../../modules/bytes/bytes.js";
import * as assert from "../lib/portable/assert.js";

describe("bytes", () => {
  it("round-trips hex in both cases and ignores spaces", () => {
    assert.deepEqual(fromHex("00 7F80ff"), Uint8Array.of(0x00, 0x7f, 0x80, 0xff));
    assert.equal(toHex(Uint8Array.of(0x00, 0x7f, 0x80, 0xff)), "007f80ff");
  });
  it("rejects odd-length and non-hex input with BytesError", () => {
    assert.throws(() => fromHex("abc"), BytesError, /odd length/);
    assert.throws(() => fromHex("0g"), BytesError, /invalid hex digit/);
  });
  it("concatenates and compares", () => {
    const joined = concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3));
    assert.ok(bytesEqual(joined, Uint8Array.of(1, 2, 3)));
    assert.ok(!bytesEqual(joined, Uint8Array.of(1, 2)));
  });
  it("encodes ASCII and refuses other characters", () => {
    assert.equal(bytesToAscii(asciiToBytes("AT+CSIM\r")), "AT+CSIM\r");
    assert.throws(() => asciiToBytes("é"), BytesError);
  });
  it("encodes and decodes UTF-8, including astral characters", () => {
    const text = "temp °C ☃ 😀";
    assert.equal(bytesToUtf8(utf8ToBytes(text)), text);
    assert.deepEqual(utf8ToBytes("€"), Uint8Array.of(0xe2, 0x82, 0xac));
  });
  it("encodes a lone surrogate as U+FFFD", () => {
    assert.deepEqual(utf8ToBytes("a\ud800b"), Uint8Array.of(0x61, 0xef, 0xbf, 0xbd, 0x62));
  });
  it("replaces malformed UTF-8 instead of throwing or reading past the end", () => {
    assert.equal(bytesToUtf8(Uint8Array.of(0x41, 0xe2, 0x82)), "A\ufffd\ufffd");
    assert.equal(bytesToUtf8(Uint8Array.of(0xc0, 0x80)), "\ufffd\ufffd");
  });
  it("reads and writes big-endian integers with bounds checks", () => {
    assert.equal(readUintBE(Uint8Array.of(1, 2, 3), 1, 2), 0x0203);
    assert.throws(() => readUintBE(Uint8Array.of(1, 2), 1, 2), BytesError);
    assert.deepEqual(uintToBytesBE(0x010203, 3), Uint8Array.of(1, 2, 3));
    assert.throws(() => uintToBytesBE(256, 1), BytesError);
  });
});
