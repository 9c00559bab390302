/**
 * Seeded, bounded property tests of everything the card layer and the IoT SAFE client parse:
 * hostile bytes from the card (TLVs, object info, signatures, public keys), hostile modem lines
 * (+CSIM/+CGLA/+CCHO), and a whole client driven by a card that answers random bytes. Every
 * failure must be one of the typed errors, every loop must end.
 * (Here rather than in test/unit: fast-check reads setTimeout at load time, which XS lacks.)
 */
import fc from "fast-check";
import { concatBytes, fromHex } from "../../modules/bytes/bytes.js";
import { ecdsaDerToRaw } from "../../modules/crypto/der.js";
import { IotSafeClient } from "../../modules/iotsafe/client.js";
import { IotSafeError, TlvError } from "../../modules/iotsafe/errors.js";
import { objectId, objectLabel, parseApplicationInfo, parseObjectInfo, parseObjectList } from "../../modules/iotsafe/objects.js";
import { parsePublicKeyTemplate } from "../../modules/iotsafe/public-key.js";
import { encodeSignatureTlv, parseSignatureResponse } from "../../modules/iotsafe/signature.js";
import { parseTlvs } from "../../modules/iotsafe/tlv.js";
import { decodeCommandApdu, decodeResponseApdu, encodeCommandApdu } from "../../modules/sim/apdu.js";
import { parseCchoAnswer, parseSimAccessAnswer } from "../../modules/sim/at-transport.js";
import { ApduFormatError, SimError, SimTransportResponseError } from "../../modules/sim/errors.js";
import { ManageChannelAccess } from "../../modules/sim/manage-channel.js";
import * as assert from "../lib/portable/assert.js";

const SEED = { seed: 42 };

/** Runs `fn`; any throw must be an instance of one of `allowed`. */
function onlyTyped(fn: () => unknown, allowed: (abstract new (...args: never[]) => Error)[]): void {
  try {
    fn();
  } catch (error) {
    if (!allowed.some((type) => error instanceof type)) throw new Error(`untyped failure: ${(error as Error)?.name}: ${(error as Error)?.message}`);
  }
}

/** TLV-shaped bytes: mostly well-formed items with IoT SAFE tags, sometimes corrupted. */
const TAGS = [0x10, 0x11, 0x20, 0x21, 0x33, 0x34, 0x49, 0x4a, 0x4b, 0x60, 0x73, 0x74, 0x83, 0x84, 0x85, 0x86, 0x91, 0x92, 0xb7, 0xc1, 0xc2, 0xc3, 0xc4];
const tlvItem: fc.Arbitrary<Uint8Array> = fc.letrec((tie) => ({
  item: fc.oneof(
    { depthSize: "small" },
    fc.tuple(fc.constantFrom(...TAGS), fc.uint8Array({ maxLength: 40 })).map(([tag, value]) => concatBytes(Uint8Array.of(tag, value.length), value)),
    fc.tuple(fc.constantFrom(0x34, 0x49, 0xc1, 0xc3), fc.array(tie("item") as fc.Arbitrary<Uint8Array>, { maxLength: 4 })).map(([tag, items]) => {
      const body = concatBytes(...items);
      return body.length > 255 ? body : concatBytes(Uint8Array.of(tag, body.length), body);
    }),
  ),
})).item as fc.Arbitrary<Uint8Array>;
const tlvBytes = fc.oneof(
  fc.array(tlvItem, { maxLength: 6 }).map((items) => concatBytes(...items)),
  fc.tuple(fc.array(tlvItem, { maxLength: 6 }), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([items, at, value]) => {
    const bytes = concatBytes(...items);
    if (bytes.length > 0) bytes[at % bytes.length] = value;
    return bytes;
  }),
  fc.uint8Array({ maxLength: 300 }),
);

describe("iotsafe fuzz: parsers of card data (fast-check, seeded)", function () {
  it("parseTlvs either accounts for every byte or throws TlvError", function () {
    fc.assert(
      fc.property(tlvBytes, (bytes) => {
        let tlvs;
        try {
          tlvs = parseTlvs(bytes, "fuzz");
        } catch (error) {
          assert.ok(error instanceof TlvError, String(error));
          return;
        }
        // Headers plus values add up to the input exactly, in the simple or the BER length form.
        const simple = tlvs.reduce((n, t) => n + 2 + t.value.length, 0);
        const ber = tlvs.reduce((n, t) => n + (t.value.length < 0x80 ? 2 : t.value.length < 0x100 ? 3 : 4) + t.value.length, 0);
        assert.ok(simple === bytes.length || ber === bytes.length, `TLVs cover ${simple}/${ber} of ${bytes.length} bytes`);
        for (const t of tlvs) assert.ok(t.value.buffer === bytes.buffer, "values are views into the input");
      }),
      { ...SEED, numRuns: 3000 },
    );
  });

  it("object list, object info, application info and public-key parsers fail only with TlvError", function () {
    fc.assert(
      fc.property(tlvBytes, (bytes) => {
        onlyTyped(() => parseObjectList(bytes), [TlvError]);
        onlyTyped(() => parseObjectInfo("file", bytes), [TlvError]);
        onlyTyped(() => parseObjectInfo("privateKey", bytes), [TlvError]);
        onlyTyped(() => parseApplicationInfo(bytes), [TlvError]);
        onlyTyped(() => parsePublicKeyTemplate(bytes), [TlvError]);
      }),
      { ...SEED, numRuns: 3000 },
    );
  });

  it("signature answers: any bytes parse to a valid signature or fail with TlvError", function () {
    const signatureish = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.uint8Array({ maxLength: 80 }).map((b) => concatBytes(Uint8Array.of(0x33, b.length), b)),
      fc.uint8Array({ maxLength: 80 }).map((b) => concatBytes(Uint8Array.of(0x33, 0, b.length), b)),
      fc.uint8Array({ maxLength: 80 }).map((b) => concatBytes(Uint8Array.of(0x30, b.length), b)),
    );
    fc.assert(
      fc.property(signatureish, fc.constantFrom(32, 48), (bytes, scalar) => {
        try {
          const s = parseSignatureResponse(bytes, scalar);
          assert.equal(s.raw.length, 2 * scalar);
          assert.deepEqual(ecdsaDerToRaw(s.der, scalar), s.raw);
        } catch (error) {
          assert.ok(error instanceof TlvError, String(error));
        }
      }),
      { ...SEED, numRuns: 3000 },
    );
  });

  it("raw r‖s survives both tag-33 forms and the DER conversion", function () {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.constantFrom("two-byte" as const, "one-byte" as const), (raw, form) => {
        const parsed = parseSignatureResponse(encodeSignatureTlv(raw, form));
        assert.deepEqual(parsed.raw, raw);
        assert.equal(parsed.lengthForm, form);
        assert.deepEqual(ecdsaDerToRaw(parsed.der, 32), raw);
      }),
      { ...SEED, numRuns: 2000 },
    );
  });
});

describe("iotsafe fuzz: APDU codec and modem answer lines", function () {
  it("decodeCommandApdu / decodeResponseApdu fail only with ApduFormatError; decoded commands re-encode identically", function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 270 }), (bytes) => {
        onlyTyped(() => decodeResponseApdu(bytes), [ApduFormatError]);
        let command;
        try {
          command = decodeCommandApdu(bytes);
        } catch (error) {
          assert.ok(error instanceof ApduFormatError, String(error));
          return;
        }
        try {
          assert.deepEqual(encodeCommandApdu(command, { case1WithP3: false }), bytes);
        } catch (error) {
          // Only CLA FF and the T=0 procedure INS values are refused on the way out.
          assert.ok(command.cla === 0xff || (command.ins & 0xf0) === 0x60 || (command.ins & 0xf0) === 0x90, String(error));
        }
      }),
      { ...SEED, numRuns: 3000 },
    );
  });

  const lineChars = fc.constantFrom(..."+CSIMGLAHO: ,\"0123456789ABCDEFabcdefxyz\t".split(""));
  const line = fc.oneof(
    fc.string({ unit: lineChars, maxLength: 60 }),
    fc.tuple(fc.constantFrom("+CSIM:", "+CGLA:", "+CCHO:"), fc.string({ unit: lineChars, maxLength: 60 })).map(([p, rest]) => p + rest),
    fc.string({ maxLength: 40 }),
  );

  it("+CSIM / +CGLA / +CCHO answers fail only with SimTransportResponseError; accepted CSIM answers have a status word", function () {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 4 }), (lines) => {
        for (const prefix of ["+CSIM:", "+CGLA:"]) {
          try {
            assert.ok(parseSimAccessAnswer(prefix, lines, "fuzz").length >= 2);
          } catch (error) {
            assert.ok(error instanceof SimTransportResponseError, String(error));
          }
        }
        onlyTyped(() => parseCchoAnswer(lines), [SimTransportResponseError]);
      }),
      { ...SEED, numRuns: 3000 },
    );
  });
});

describe("iotsafe fuzz: the client against a card answering random bytes", function () {
  /** Answers: random bytes, plausible status words, and procedure bytes that invite loops. */
  const answer = fc.oneof(
    fc.uint8Array({ maxLength: 90 }),
    fc.constantFrom("9000", "6300", "6143", "6100", "6C10", "6E00", "6A82", "6D00", "9F08", "63CF", "6282", "019000", "059000").map(fromHex),
    tlvBytes.map((b) => concatBytes(b, fromHex("9000"))),
  );

  it("every operation settles with a value or a typed error, within a bounded number of APDUs", async function () {
    this.timeout(60000);
    const operations: ((c: IotSafeClient) => Promise<unknown>)[] = [
      (c) => c.getApplicationInfo(),
      (c) => c.listObjects(),
      (c) => c.getObjectInfo("file", objectLabel("cert")),
      (c) => c.readFile(objectId("02")),
      (c) => c.getRandom(300),
      (c) => c.signDigest(objectId("01"), new Uint8Array(32)),
      (c) => c.signMessage(objectId("01"), new Uint8Array(300)),
      (c) => c.verifySignature(objectId("05"), { digest: new Uint8Array(32) }, new Uint8Array(64)),
      (c) => c.generateKeyPair(objectId("04")),
      (c) => c.readPublicKey(objectId("05")),
      (c) => c.computeDhWithPeer(objectId("04"), objectId("05"), concatBytes(Uint8Array.of(4), new Uint8Array(64))),
      (c) => c.computePrf({ mode: "secret", secret: new Uint8Array(48), labelAndSeed: new Uint8Array(77), length: 48 }),
      (c) => c.computeHkdfExtract({ ikm: new Uint8Array(32), salt: new Uint8Array(0) }),
      (c) => c.close(),
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(answer, { maxLength: 60 }), fc.array(fc.nat({ max: operations.length - 1 }), { minLength: 1, maxLength: 5 }), async (answers, picks) => {
        let sent = 0;
        const card = {
          name: "hostile card",
          async transmit(): Promise<Uint8Array> {
            sent++;
            if (sent > 2000) throw new Error("too many APDUs: a loop is not bounded");
            return answers[(sent - 1) % Math.max(1, answers.length)] ?? fromHex("6F00");
          },
        };
        const client = new IotSafeClient(new ManageChannelAccess(card), { maxFileSize: 4096 });
        for (const pick of picks) {
          try {
            await operations[pick]!(client);
          } catch (error) {
            if (!(error instanceof IotSafeError || error instanceof SimError)) {
              throw new Error(`operation ${pick}: untyped failure ${(error as Error)?.name}: ${(error as Error)?.message}`);
            }
          }
        }
        assert.ok(sent <= 2000);
      }),
      { ...SEED, numRuns: 400 },
    );
  });
});
