import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { apduCase, decodeCommandApdu, decodeResponseApdu, encodeCommandApdu, encodeResponseApdu } from "../../../modules/sim/apdu.js";
import { ApduEncodingError, ApduFormatError } from "../../../modules/sim/errors.js";
import { StatusWord } from "../../../modules/sim/status.js";
import * as assert from "../../lib/portable/assert.js";

const hex = (bytes: Uint8Array) => toHex(bytes).toUpperCase();

describe("sim/apdu: short APDU codec", () => {
  it("encodes case 1 in the T=0 form with P3 = 00, as AT+CSIM clients send it (iotsafe.md §1.3 step 4, §5.1 step 8)", () => {
    assert.equal(hex(encodeCommandApdu({ cla: 0x00, ins: 0x70, p1: 0x80, p2: 0x01 })), "0070800100");
    assert.equal(hex(encodeCommandApdu({ cla: 0x81, ins: 0x2a, p1: 0x01, p2: 0x01 })), "812A010100");
  });

  it("encodes case 1 as four bytes when asked", () => {
    assert.equal(hex(encodeCommandApdu({ cla: 0x00, ins: 0x70, p1: 0x80, p2: 0x01 }, { case1WithP3: false })), "00708001");
  });

  it("encodes case 2: MANAGE CHANNEL open with Le 01, GET RANDOM 32, and Le 256 as 00", () => {
    assert.equal(hex(encodeCommandApdu({ cla: 0x00, ins: 0x70, p1: 0, p2: 0, le: 1 })), "0070000001");
    assert.equal(hex(encodeCommandApdu({ cla: 0x81, ins: 0x84, p1: 0, p2: 0, le: 0x20 })), "8184000020");
    assert.equal(hex(encodeCommandApdu({ cla: 0x81, ins: 0xcb, p1: 0x01, p2: 0, le: 256 })), "81CB010000");
  });

  it("encodes case 3: SELECT of the IoT SAFE AID on channel 1 (iotsafe.md §5.1 step 2)", () => {
    const select = { cla: 0x01, ins: 0xa4, p1: 0x04, p2: 0x00, data: fromHex("A0000005590010") };
    assert.equal(apduCase(select), 3);
    assert.equal(hex(encodeCommandApdu(select)), "01A4040007A0000005590010");
  });

  it("encodes case 4: READ FILE at offset 0 with Le 00 (iotsafe.md §5.2 step 4)", () => {
    const read = { cla: 0x81, ins: 0xb0, p1: 0, p2: 0, data: fromHex("830102"), le: 256 };
    assert.equal(apduCase(read), 4);
    assert.equal(hex(encodeCommandApdu(read)), "81B000000383010200");
  });

  it("decodes what it encodes, for every case", () => {
    for (const text of ["00708001", "0070000001", "01A4040007A0000005590010", "81B000000383010200"]) {
      assert.equal(hex(encodeCommandApdu(decodeCommandApdu(fromHex(text)), { case1WithP3: false })), text);
    }
    assert.deepEqual(decodeCommandApdu(fromHex("8184000000")).le, 256);
  });

  it("refuses fields it cannot encode", () => {
    assert.throws(() => encodeCommandApdu({ cla: 0x80, ins: 0x2a, p1: 0, p2: 0, data: new Uint8Array(256) }), ApduEncodingError, /255/);
    assert.throws(() => encodeCommandApdu({ cla: 0x80, ins: 0x84, p1: 0, p2: 0, le: 0 }), ApduEncodingError, /Le/);
    assert.throws(() => encodeCommandApdu({ cla: 0x80, ins: 0x84, p1: 0, p2: 0, le: 257 }), ApduEncodingError, /Le/);
    assert.throws(() => encodeCommandApdu({ cla: 0x80, ins: 0x61, p1: 0, p2: 0 }), ApduEncodingError, /T=0/);
    assert.throws(() => encodeCommandApdu({ cla: 0x80, ins: 0x90, p1: 0, p2: 0 }), ApduEncodingError, /T=0/);
    assert.throws(() => encodeCommandApdu({ cla: 0xff, ins: 0xa4, p1: 0, p2: 0 }), ApduEncodingError, /FF/);
    assert.throws(() => encodeCommandApdu({ cla: 0x80, ins: 0xa4, p1: 256, p2: 0 }), ApduEncodingError, /P1/);
    assert.throws(() => encodeCommandApdu({ cla: 0x80, ins: 0xa4, p1: 0, p2: -1 }), ApduEncodingError, /P2/);
  });

  it("refuses malformed command bytes", () => {
    assert.throws(() => decodeCommandApdu(fromHex("0070")), ApduFormatError, /header/);
    assert.throws(() => decodeCommandApdu(fromHex("81A40400 05 A000")), ApduFormatError, /Lc/);
    assert.throws(() => decodeCommandApdu(fromHex("81A40400 00 0102")), ApduFormatError, /extended/);
  });

  it("splits a response into data and status word (+CSIM: 6,\"019000\")", () => {
    const response = decodeResponseApdu(fromHex("019000"));
    assert.deepEqual(response.data, Uint8Array.of(1));
    assert.equal(response.status.hex, "9000");
    assert.equal(hex(encodeResponseApdu({ data: Uint8Array.of(1), status: new StatusWord(0x90, 0) })), "019000");
  });

  it("refuses a response without a status word", () => {
    assert.throws(() => decodeResponseApdu(Uint8Array.of(0x90)), ApduFormatError, /status word/);
    assert.throws(() => decodeResponseApdu(new Uint8Array(0)), ApduFormatError);
  });
});
