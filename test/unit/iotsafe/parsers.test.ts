import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { derTotalLength } from "../../../modules/iotsafe/client.js";
import { IotSafeArgumentError, TlvError } from "../../../modules/iotsafe/errors.js";
import { describeObject, encodeObjectRef, objectId, objectLabel, parseObjectInfo, parseObjectList } from "../../../modules/iotsafe/objects.js";
import { encodePublicKeyTemplate, parsePublicKeyTemplate } from "../../../modules/iotsafe/public-key.js";
import { encodeSignatureTlv, parseSignatureResponse, toRawSignature } from "../../../modules/iotsafe/signature.js";
import { encodeTlv, parseTlvs } from "../../../modules/iotsafe/tlv.js";
import * as assert from "../../lib/portable/assert.js";
import { JWT_R, JWT_S } from "./helpers.js";

const hex = (b: Uint8Array) => toHex(b).toUpperCase();
const RAW = JWT_R + JWT_S;
// iotsafe.md §5.1: both halves ≥ 0x80 → each INTEGER gets a 00 prefix; 72 bytes.
const DER = `3046022100${JWT_R}022100${JWT_S}`;

describe("iotsafe signature forms (iotsafe.md §2.2, §9.5–9.6)", () => {
  it("reads 33 00 40 r‖s (two-byte length)", () => {
    const s = parseSignatureResponse(fromHex(`330040${RAW}`));
    assert.equal(hex(s.raw), RAW);
    assert.equal(hex(s.der), DER);
    assert.equal(s.lengthForm, "two-byte");
  });

  it("reads 33 40 r‖s (one-byte length)", () => {
    const s = parseSignatureResponse(fromHex(`3340${RAW}`));
    assert.equal(hex(s.der), DER);
    assert.equal(s.lengthForm, "one-byte");
  });

  it("reads a DER value inside tag 33, and a bare DER answer", () => {
    assert.equal(hex(parseSignatureResponse(fromHex(`3348${DER}`)).raw), RAW);
    assert.equal(hex(parseSignatureResponse(fromHex(DER)).raw), RAW);
    assert.equal(hex(parseSignatureResponse(fromHex(`330048${DER}`)).raw), RAW);
  });

  it("converts halves with leading zeros to short INTEGERs and back to fixed width", () => {
    const r = "00" + "7F".repeat(31);
    const s = "0000" + "01".repeat(30);
    const sig = parseSignatureResponse(fromHex(`330040${r}${s}`));
    // r: 31 bytes, top bit clear → no prefix; s: 30 bytes
    assert.equal(hex(sig.der), `3041021F${"7F".repeat(31)}021E${"01".repeat(30)}`);
    assert.equal(hex(toRawSignature(sig.der)), r + s);
  });

  it("accepts raw or DER for verification input", () => {
    assert.equal(hex(toRawSignature(fromHex(DER))), RAW);
    assert.equal(hex(toRawSignature(fromHex(RAW))), RAW);
    assert.throws(() => toRawSignature(new Uint8Array(63)), TlvError);
  });

  it("encodes tag 33 in either form for VERIFY UPDATE", () => {
    assert.equal(hex(encodeSignatureTlv(fromHex(RAW))), `330040${RAW}`);
    assert.equal(hex(encodeSignatureTlv(fromHex(RAW), "one-byte")), `3340${RAW}`);
  });

  it("refuses everything else with TlvError", () => {
    const bad = [
      "",
      "33",
      `3341${RAW}`, // declared length does not match
      `330040${RAW}00`, // trailing byte
      `3320${RAW.slice(0, 64)}`, // 32 bytes is not 2 × 32
      `34 40 ${RAW}`, // not tag 33
    ];
    for (const h of bad) assert.throws(() => parseSignatureResponse(fromHex(h)), TlvError, undefined, h);
    assert.throws(() => parseSignatureResponse(fromHex(`3346${DER.slice(0, -2)}`)), TlvError);
    assert.throws(() => parseSignatureResponse(fromHex(RAW)), TlvError, /neither/);
  });

  it("uses the scalar length: 96 bytes raw for P-384", () => {
    assert.equal(parseSignatureResponse(fromHex(`330060${"11".repeat(96)}`), 48).raw.length, 96);
    assert.throws(() => parseSignatureResponse(fromHex(`330060${"11".repeat(96)}`), 32), TlvError);
  });
});

describe("iotsafe TLV", () => {
  it("parses one-byte lengths up to 255", () => {
    const tlvs = parseTlvs(fromHex("8401 01" + "C1 81" + "00".repeat(0x81)), "t");
    assert.equal(tlvs.length, 2);
    assert.equal(tlvs[1]!.value.length, 0x81);
  });

  it("falls back to BER lengths when the simple reading does not fit", () => {
    const tlvs = parseTlvs(fromHex("C18181" + "00".repeat(0x81) + "C2820100" + "00".repeat(256)), "t");
    assert.deepEqual(tlvs.map((t) => [t.tag, t.value.length]), [[0xc1, 0x81], [0xc2, 256]]);
  });

  it("refuses truncated or overlong input with TlvError naming the structure", () => {
    assert.throws(() => parseTlvs(fromHex("84"), "object list"), TlvError, /object list: tag 84 at offset 0 has no length/);
    assert.throws(() => parseTlvs(fromHex("8405 0102"), "x"), TlvError, /declares 5 bytes but 2 remain/);
    assert.throws(() => parseTlvs(fromHex("8483010203"), "x", "ber"), TlvError, /length form/);
    assert.throws(() => parseTlvs(fromHex("84810101"), "x", "ber"), TlvError, /non-minimal/);
    assert.throws(() => parseTlvs(new Uint8Array(2000), "x"), TlvError, /more than 512/);
  });

  it("encodes one-byte tags and lengths, refusing values over 255 bytes", () => {
    assert.equal(hex(encodeTlv(0x9e, fromHex("0102"))), "9E020102");
    assert.throws(() => encodeTlv(0x9e, new Uint8Array(256)), TlvError);
    assert.throws(() => encodeTlv(0x1ff, new Uint8Array(1)), TlvError);
  });
});

describe("iotsafe object references and information", () => {
  it("encodes IDs and labels with the tag of the object kind (iotsafe.md §3.1)", () => {
    assert.equal(hex(encodeObjectRef("privateKey", objectId("01"))), "840101");
    assert.equal(hex(encodeObjectRef("publicKey", objectId("303032"))), "8503303032");
    assert.equal(hex(encodeObjectRef("file", objectId(fromHex("0200")))), "83020200");
    assert.equal(hex(encodeObjectRef("secretKey", objectId("05"))), "860105");
    assert.equal(hex(encodeObjectRef("privateKey", objectLabel("key"))), "74036B6579");
    assert.equal(hex(encodeObjectRef("file", objectLabel("cert"))), "730463657274");
    assert.equal(describeObject("file", objectLabel("cert")), 'file label "cert"');
    assert.equal(describeObject("privateKey", objectId("303031")), "private key id 303031");
  });

  it("takes IDs of any length up to 127 bytes, never both ID and label", () => {
    assert.equal(encodeObjectRef("file", objectId(new Uint8Array(127))).length, 129);
    assert.throws(() => objectId(new Uint8Array(0)), IotSafeArgumentError);
    assert.throws(() => objectId(new Uint8Array(128)), IotSafeArgumentError);
    assert.throws(() => objectLabel(""), IotSafeArgumentError);
    const both = { id: Uint8Array.of(1), label: Uint8Array.of(2) } as unknown as { id: Uint8Array };
    assert.throws(() => encodeObjectRef("file", both), IotSafeArgumentError, /exactly one/);
  });

  it("finds the file size by tag, wherever 20 appears (Orange's parser expects it after 4A)", () => {
    assert.equal(parseObjectInfo("file", fromHex("830102 2002036B 600101 4A0101 210102")).fileSize, 875);
    assert.equal(parseObjectInfo("file", fromHex("C310 830102 600101 4A0101 210102 2002036B")).fileSize, 875);
  });

  it("refuses an object list holding something other than C1..C4", () => {
    assert.throws(() => parseObjectList(fromHex("C5 03 840101")), TlvError, /C5/);
    assert.deepEqual(parseObjectList(new Uint8Array(0)), []);
  });
});

describe("iotsafe public-key template", () => {
  const point = "04" + "AB".repeat(64);
  it("encodes 34 45 49 43 86 41 04 X Y (Lc 47 of PUT PUBLIC KEY UPDATE)", () => {
    const template = encodePublicKeyTemplate(fromHex(point));
    assert.equal(template.length, 0x47);
    assert.equal(hex(template), `34454943864104${"AB".repeat(64)}`);
  });

  it("parses the template wrapped in 34, or a bare 49", () => {
    assert.equal(hex(parsePublicKeyTemplate(fromHex(`34454943864104${"AB".repeat(64)}`))), point);
    assert.equal(hex(parsePublicKeyTemplate(fromHex(`4943864104${"AB".repeat(64)}`))), point);
  });

  it("refuses a compressed, short or missing point", () => {
    assert.throws(() => parsePublicKeyTemplate(fromHex(`3445494386410 2${"AB".repeat(64)}`.split(" ").join(""))), TlvError, /uncompressed/);
    assert.throws(() => parsePublicKeyTemplate(fromHex("3404 4902 8600")), TlvError);
    assert.throws(() => parsePublicKeyTemplate(fromHex("8401 01")), TlvError, /no public key template/);
  });
});

describe("iotsafe DER size from a file header (READ FILE fallback, iotsafe.md §5.2)", () => {
  it("computes 4 + LLLL for 30 82 LL LL and the short forms", () => {
    assert.equal(derTotalLength(fromHex("30820367")), 875);
    assert.equal(derTotalLength(fromHex("308180")), 3 + 0x80);
    assert.equal(derTotalLength(fromHex("3005")), 7);
    assert.equal(derTotalLength(fromHex("0482")), undefined);
    assert.equal(derTotalLength(fromHex("3082")), undefined);
    assert.equal(derTotalLength(fromHex("3080")), undefined);
  });
});
