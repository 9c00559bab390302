// Seeded fuzzing of the virtual card's APDU and TLV parsing: whatever bytes arrive, transmit()
// resolves (never throws) with at least a status word, and the TLV reader only raises TlvFormatError.
import assert from "node:assert/strict";
import fc from "fast-check";
import { IotSafeCard } from "../../hosts/sim/card/iotsafe-card.js";
import { TlvFormatError, parseCommandTlvs } from "../../hosts/sim/card/command-tlv.js";
import { testProfile } from "./card-fixtures.js";

/** SW1 values the card may legitimately answer with (ISO 7816-4 §5.1.3 and iotsafe.md §4). */
const PLAUSIBLE_SW1 = new Set([0x61, 0x63, 0x67, 0x68, 0x69, 0x6a, 0x6c, 0x6d, 0x6e, 0x6f, 0x90, 0x91]);

const IOTSAFE_INS = [0x84, 0xcb, 0xb0, 0x2a, 0x2b, 0x2c, 0x2d, 0xb9, 0xcd, 0x24, 0xd8, 0x46, 0x48, 0x4a, 0xc0, 0x70, 0xa4];
const TAGS = [0x33, 0x34, 0x49, 0x73, 0x74, 0x75, 0x76, 0x83, 0x84, 0x85, 0x86, 0x86, 0x91, 0x92, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0xa1, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5];

/** A TLV that may lie about its length, with IDs that often exist in the test profile. */
const tlvArbitrary = fc.record({
  tag: fc.constantFrom(...TAGS),
  value: fc.oneof(fc.constantFrom(Uint8Array.of(1), Uint8Array.of(4), Uint8Array.of(5), Uint8Array.of(2), Uint8Array.of(3), Uint8Array.of(0x30, 0x30, 0x31)), fc.uint8Array({ maxLength: 70 })),
  lengthForm: fc.constantFrom("short", "ber81", "two-byte", "lie"),
  lie: fc.integer({ min: 0, max: 255 }),
}).map(({ tag, value, lengthForm, lie }) => {
  const header =
    lengthForm === "short" ? [tag, value.length & 0x7f] :
    lengthForm === "ber81" ? [tag, 0x81, value.length] :
    lengthForm === "two-byte" ? [tag, value.length >> 8, value.length & 0xff] :
    [tag, lie];
  return Uint8Array.from([...header, ...value]);
});

const structuredApdu = fc.record({
  cla: fc.oneof(fc.constantFrom(0x00, 0x01, 0x80, 0x81, 0x02, 0x82, 0x40, 0xc0), fc.integer({ min: 0, max: 255 })),
  ins: fc.oneof(fc.constantFrom(...IOTSAFE_INS), fc.integer({ min: 0, max: 255 })),
  p1: fc.constantFrom(0x00, 0x01, 0x80, 0xc1, 0xc2, 0xc3, 0xc4, 0x02, 0x04),
  p2: fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x0c),
  tlvs: fc.array(tlvArbitrary, { maxLength: 5 }),
  le: fc.option(fc.integer({ min: 0, max: 255 })),
  lcMode: fc.constantFrom("right", "wrong", "none"),
}).map(({ cla, ins, p1, p2, tlvs, le, lcMode }) => {
  const data = tlvs.reduce<number[]>((all, t) => all.concat([...t]), []).slice(0, 255);
  const body: number[] = [];
  if (lcMode !== "none" && data.length > 0) body.push(lcMode === "right" ? data.length : (data.length + 1) & 0xff, ...data);
  if (le !== null) body.push(le);
  return Uint8Array.from([cla, ins, p1, p2, ...body]);
});

function checkAnswer(answer: Uint8Array): void {
  assert.ok(answer instanceof Uint8Array);
  assert.ok(answer.length >= 2 && answer.length <= 258, `answer of ${answer.length} bytes`);
  assert.ok(PLAUSIBLE_SW1.has(answer[answer.length - 2]!), `SW1 ${answer[answer.length - 2]!.toString(16)}`);
}

describe("card fuzz", () => {
  it("random byte strings never throw out of transmit() and always end in a status word", async () => {
    const card = new IotSafeCard(testProfile());
    await card.transmit(Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0x00, 0x00, 0x05, 0x59, 0x00, 0x10]));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (apdu) => {
        checkAnswer(await card.transmit(apdu));
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it("structured APDUs with TLVs (true and false lengths), in sequences on one card, in every response mode", async () => {
    for (const options of [{}, { responseDelivery: "get-response" as const, wrongLe: "6C" as const }, { signatureLength: "one-byte" as const }]) {
      await fc.assert(
        fc.asyncProperty(fc.array(structuredApdu, { minLength: 1, maxLength: 12 }), async (apdus) => {
          const card = new IotSafeCard(testProfile(options));
          await card.transmit(Uint8Array.from([0x01, 0xa4, 0x04, 0x00, 0x07, 0xa0, 0x00, 0x00, 0x05, 0x59, 0x00, 0x10]));
          for (const apdu of apdus) checkAnswer(await card.transmit(apdu));
        }),
        { seed: 42, numRuns: 400 },
      );
    }
  });

  it("the TLV reader returns in-bounds values or raises TlvFormatError, nothing else", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.array(tlvArbitrary, { maxLength: 6 }).map((ts) => Uint8Array.from(ts.flatMap((t) => [...t])))), (data) => {
        try {
          const tlvs = parseCommandTlvs(data);
          let covered = 0;
          for (const t of tlvs) {
            assert.ok(t.value.length <= data.length);
            covered += 1 + t.value.length;
          }
          assert.ok(covered <= data.length);
        } catch (error) {
          assert.ok(error instanceof TlvFormatError, String(error));
        }
      }),
      { seed: 42, numRuns: 5000 },
    );
  });
});
