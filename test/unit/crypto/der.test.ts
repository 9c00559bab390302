// DER reader/writer (modules/crypto/der.ts). Expected encodings are from X.690 and RFC 5280 examples.
// Runs on Node and inside XS; the fast-check fuzz lives in test/integration/crypto-der-fuzz.test.ts,
// and a small deterministic mutation loop here keeps hostile-input coverage inside XS as well.
import { asciiToBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import {
  bitIsSet,
  children,
  decodeBitString,
  decodeBitStringBytes,
  decodeBoolean,
  decodeOid,
  decodeOne,
  decodeSmallInteger,
  decodeTime,
  decodeUnsignedInteger,
  DerError,
  DerReader,
  ecdsaDerToRaw,
  ecdsaRawToDer,
  encodeElement,
  encodeOid,
  encodeSequence,
  encodeSmallInteger,
  encodeTime,
  encodeUnsignedInteger,
  readElement,
  TAG,
} from "../../../modules/crypto/der.js";
import { CertificateError, parseCertificate, pemToCertificates } from "../../../modules/crypto/x509.js";
import * as assert from "../../lib/portable/assert.js";
import * as T from "./test-certificates.js";

describe("DER", () => {
  describe("reading", () => {
    it("reads short and long form lengths and gives views", () => {
      const input = fromHex("0403aabbcc");
      const { element, next } = readElement(input);
      assert.equal(element.tag, TAG.OCTET_STRING);
      assert.equal(toHex(element.value), "aabbcc");
      assert.equal(next, 5);
      assert.ok(element.value.buffer === input.buffer);
      const long = new Uint8Array(3 + 200);
      long.set([0x04, 0x81, 200]);
      assert.equal(decodeOne(long).value.length, 200);
      const longer = new Uint8Array(4 + 300);
      longer.set([0x04, 0x82, 0x01, 0x2c]);
      assert.equal(decodeOne(longer).value.length, 300);
    });

    it("refuses indefinite, non-minimal and oversized lengths, and truncation", () => {
      assert.throws(() => readElement(fromHex("3080")), DerError, /indefinite/);
      assert.throws(() => readElement(fromHex("04817f" + "00".repeat(127))), DerError, /non-minimal/);
      assert.throws(() => readElement(fromHex("0482007f" + "00".repeat(127))), DerError, /non-minimal/);
      assert.throws(() => readElement(fromHex("0485010000000000")), DerError, /too large/);
      assert.throws(() => readElement(fromHex("0403aabb")), DerError, /declares 3/);
      assert.throws(() => readElement(fromHex("04")), DerError, /truncated length/);
      assert.throws(() => readElement(fromHex("")), DerError, /truncated tag/);
      assert.throws(() => readElement(fromHex("0482ff")), DerError, /truncated length/);
      assert.throws(() => decodeOne(fromHex("0500" + "00")), DerError, /trailing/);
    });

    it("reads high tag numbers but bounds them", () => {
      const { element } = readElement(fromHex("9f2a0100"));
      assert.equal(element.tag, 0x9f2a);
      assert.throws(() => readElement(fromHex("9f8181818101")), DerError, /tag too long/);
      assert.throws(() => readElement(fromHex("9f800100")), DerError, /non-minimal high tag/);
      assert.throws(() => readElement(fromHex("9f050100")), DerError, /non-minimal high tag/);
    });

    it("walks children and fields with DerReader", () => {
      // SEQUENCE { INTEGER 5, [0] { NULL }, BOOLEAN TRUE }
      const seq = decodeOne(fromHex("300a020105a00205000101ff"));
      assert.deepEqual(
        children(seq).map((c) => c.tag),
        [TAG.INTEGER, 0xa0, TAG.BOOLEAN],
      );
      const r = new DerReader(seq, "Test");
      assert.equal(decodeSmallInteger(r.next(TAG.INTEGER, "n").value), 5);
      assert.equal(r.optional(0xa1), undefined);
      assert.ok(r.optional(0xa0));
      assert.throws(() => r.next(TAG.INTEGER, "flag"), DerError, /Test flag: expected INTEGER, found BOOLEAN/);
      assert.equal(decodeBoolean(r.next(TAG.BOOLEAN).value), true);
      r.end();
      assert.throws(() => r.next(), DerError, /missing/);
      const r2 = new DerReader(seq, "Short");
      r2.next();
      assert.throws(() => r2.end(), DerError, /unexpected/);
    });
  });

  describe("values", () => {
    it("OIDs (X.690 §8.19 and RFC 5280 examples)", () => {
      assert.equal(decodeOid(fromHex("2a864886f70d01010b")), "1.2.840.113549.1.1.11");
      assert.equal(decodeOid(fromHex("550403")), "2.5.4.3");
      assert.equal(decodeOid(fromHex("8837")), "2.999");
      assert.equal(toHex(encodeOid("1.2.840.10045.3.1.7")), "06082a8648ce3d030107");
      assert.equal(toHex(encodeOid("2.999")), "06028837");
      assert.throws(() => decodeOid(fromHex("2a86")), DerError, /truncated/);
      assert.throws(() => decodeOid(fromHex("2a8001")), DerError, /non-minimal/);
      assert.throws(() => decodeOid(new Uint8Array(0)), DerError);
      assert.throws(() => decodeOid(fromHex("ffffffffffffffffff7f")), DerError, /too large/);
      assert.throws(() => encodeOid("1"), DerError);
      assert.throws(() => encodeOid("1.x.3"), DerError);
    });

    it("INTEGERs: minimal, non-negative, round-trip", () => {
      assert.equal(toHex(decodeUnsignedInteger(fromHex("00ff"))), "ff");
      assert.equal(toHex(decodeUnsignedInteger(fromHex("00"))), "00");
      assert.throws(() => decodeUnsignedInteger(fromHex("0001")), DerError, /non-minimal/);
      assert.throws(() => decodeUnsignedInteger(fromHex("80")), DerError, /negative/);
      assert.throws(() => decodeUnsignedInteger(new Uint8Array(0)), DerError, /empty/);
      assert.equal(toHex(encodeUnsignedInteger(fromHex("0000ff"))), "020200ff");
      assert.equal(toHex(encodeUnsignedInteger(fromHex("7f"))), "02017f");
      assert.equal(toHex(encodeSmallInteger(0)), "020100");
      assert.equal(toHex(encodeSmallInteger(65537)), "0203010001");
      assert.equal(decodeSmallInteger(fromHex("010001")), 65537);
      assert.throws(() => decodeSmallInteger(fromHex("0100000000000000")), DerError, /too large/);
      assert.throws(() => encodeSmallInteger(-1), DerError);
    });

    it("BOOLEAN and BIT STRING (named bits, unused bits zero)", () => {
      assert.equal(decodeBoolean(fromHex("00")), false);
      assert.throws(() => decodeBoolean(fromHex("01")), DerError);
      assert.throws(() => decodeBoolean(fromHex("ffff")), DerError);
      // keyUsage digitalSignature + keyCertSign = bits 0 and 5: 1000 0100, 2 unused bits (RFC 5280 §4.2.1.3 numbering).
      const ku = decodeBitString(fromHex("0284"));
      assert.equal(ku.unusedBits, 2);
      assert.ok(bitIsSet(ku.bytes, 0) && bitIsSet(ku.bytes, 5) && !bitIsSet(ku.bytes, 1) && !bitIsSet(ku.bytes, 8));
      assert.throws(() => decodeBitString(fromHex("0285")), DerError, /not zero/);
      assert.throws(() => decodeBitString(fromHex("08ff")), DerError);
      assert.throws(() => decodeBitString(fromHex("01")), DerError);
      assert.throws(() => decodeBitStringBytes(fromHex("01ff")), DerError, /unused bits/);
      assert.equal(toHex(decodeBitStringBytes(fromHex("00abcd"))), "abcd");
    });

    it("times: UTCTime (1950–2049 window), GeneralizedTime, impossible dates refused", () => {
      const utc = (s: string) => decodeTime({ tag: TAG.UTC_TIME, value: asciiToBytes(s), raw: new Uint8Array(0) });
      const gen = (s: string) => decodeTime({ tag: TAG.GENERALIZED_TIME, value: asciiToBytes(s), raw: new Uint8Array(0) });
      assert.equal(utc("491231235959Z"), Date.UTC(2049, 11, 31, 23, 59, 59));
      assert.equal(utc("500101000000Z"), Date.UTC(1950, 0, 1));
      assert.equal(gen("20500101000000Z"), Date.UTC(2050, 0, 1));
      assert.equal(gen("99991231235959Z"), Date.UTC(9999, 11, 31, 23, 59, 59));
      assert.equal(new Date(gen("00500101000000Z")).getUTCFullYear(), 50, "year 0050 is not 1950");
      assert.equal(utc("240229000000Z"), Date.UTC(2024, 1, 29));
      assert.throws(() => utc("230229000000Z"), DerError, /no such day/);
      assert.throws(() => utc("250431000000Z"), DerError, /no such day/);
      assert.throws(() => utc("251301000000Z"), DerError, /range/);
      assert.throws(() => utc("2501010000Z"), DerError, /malformed/);
      assert.throws(() => utc("250101000000+0100"), DerError, /malformed/);
      assert.throws(() => gen("20250101000000.5Z"), DerError, /malformed/);
      assert.throws(() => decodeTime({ tag: TAG.INTEGER, value: new Uint8Array(1), raw: new Uint8Array(0) }), DerError);
      assert.equal(toHex(encodeTime(Date.UTC(2049, 0, 2, 3, 4, 5))), "170d" + toHex(asciiToBytes("490102030405Z")));
      assert.equal(toHex(encodeTime(Date.UTC(2050, 0, 2, 3, 4, 5))), "180f" + toHex(asciiToBytes("20500102030405Z")));
    });

    it("ECDSA signatures: raw r‖s ↔ DER Ecdsa-Sig-Value", () => {
      const raw = fromHex("00" + "11".repeat(31) + "80" + "22".repeat(31));
      const der = ecdsaRawToDer(raw);
      // r loses its leading zero octet, s gains a sign octet.
      assert.equal(toHex(der), "3044" + "021f" + "11".repeat(31) + "022100" + "80" + "22".repeat(31));
      assert.deepEqual(ecdsaDerToRaw(der, 32), raw);
      assert.throws(() => ecdsaDerToRaw(der, 31), DerError, /longer/);
      assert.throws(() => ecdsaRawToDer(new Uint8Array(63)), DerError);
      assert.throws(() => ecdsaDerToRaw(fromHex("3006020101020101" + "00"), 32), DerError);
      assert.throws(() => ecdsaDerToRaw(fromHex("30060201010201"), 32), DerError);
    });

    it("writes nested structures that read back", () => {
      const built = encodeSequence(encodeOid("2.5.4.3"), encodeElement(TAG.UTF8_STRING, asciiToBytes("x".repeat(300))));
      const r = new DerReader(decodeOne(built, TAG.SEQUENCE), "built");
      assert.equal(decodeOid(r.next(TAG.OID).value), "2.5.4.3");
      assert.equal(r.next(TAG.UTF8_STRING).value.length, 300);
      r.end();
    });
  });

  describe("hostile input (deterministic mutations, also run inside XS)", () => {
    it("every single-byte change and truncation of a real certificate yields a certificate or a typed error", () => {
      const der = pemToCertificates(T.leafPem)[0]!;
      let seed = 12345;
      const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
      let parsed = 0;
      let refused = 0;
      const attempt = (bytes: Uint8Array) => {
        try {
          parseCertificate(bytes);
          parsed++;
        } catch (error) {
          if (!(error instanceof CertificateError)) throw new Error(`unexpected ${String(error)} for ${toHex(bytes)}`);
          refused++;
        }
      };
      for (let i = 0; i < 300; i++) {
        const mutated = Uint8Array.from(der);
        const count = 1 + (next() % 3);
        for (let k = 0; k < count; k++) mutated[next() % mutated.length] = next() & 0xff;
        attempt(mutated);
      }
      for (let cut = 0; cut < der.length; cut += 7) attempt(der.subarray(0, cut));
      assert.ok(refused > 100, `refused ${refused}`);
      assert.ok(parsed > 0, "some mutations only touch values (key bytes, signature) and still parse");
    });
  });
});
