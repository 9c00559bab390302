// Profile options that reproduce real cards and modems (iotsafe.md §6.3, §2.2, §2.3, §9):
// answers through 61xx + GET RESPONSE, 6Cxx on a wrong Le, signature encodings, session policy.
import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { IotSafeCard } from "../../hosts/sim/card/iotsafe-card.js";
import type { ProfileObject } from "../../hosts/sim/card/profile.js";
import {
  GSMA_AID,
  HELLO_WORLD_SHA256,
  KEY01_SCALAR,
  certificateFileBytes,
  openAndSelect,
  publicKeyObject,
  publicPointOf,
  send,
  testCard,
  testObjects,
  testProfile,
} from "./card-fixtures.js";


describe("card T=0: responseDelivery get-response (61xx)", () => {
  it("case 4 answers come as 61xx; GET RESPONSE hands them out in parts, then the final SW", async () => {
    const card = testCard({ responseDelivery: "get-response" });
    await openAndSelect(card);
    assert.equal(await send(card, "81CD000003850101"), "6147");
    const first = await send(card, "81C0000020");
    assert.equal(first.length, 2 * (32 + 2));
    assert.equal(first.slice(-4), "6127", "39 bytes still waiting");
    const rest = await send(card, "01C0000000"); // wolfSSL's CLA 01 and Le 00: all of the rest
    assert.equal(rest.slice(-4), "9000");
    assert.equal(first.slice(0, -4) + rest.slice(0, -4), "344549438641" + publicPointOf(KEY01_SCALAR));
  });

  it("GET RESPONSE asking for more than is waiting gets 6Cxx, then the exact Le works", async () => {
    const card = testCard({ responseDelivery: "get-response" });
    await openAndSelect(card);
    assert.equal(await send(card, "81CD000003850101"), "6147");
    assert.equal(await send(card, "81C0000050"), "6C47");
    assert.match(await send(card, "81C0000047"), /^344549438641[0-9A-F]{130}9000$/);
    assert.equal(await send(card, "81C0000047"), "6985", "nothing left");
  });

  it("another command drops the pending answer", async () => {
    const card = testCard({ responseDelivery: "get-response" });
    await openAndSelect(card);
    assert.equal(await send(card, "81CD000003850101"), "6147");
    assert.match(await send(card, "8184000008"), /^[0-9A-F]{16}9000$/, "case 2 with an exact Le comes directly");
    assert.equal(await send(card, "81C0000047"), "6985");
  });

  it("a status other than 9000 travels with the data: object list part 1 ends with 6300 after GET RESPONSE", async () => {
    const files: ProfileObject[] = Array.from({ length: 12 }, (_, i) => ({ kind: "file", id: (0x40 + i).toString(16), label: `certificate-${i}`, contents: "00" }));
    const card = new IotSafeCard(testProfile({ responseDelivery: "get-response" }, [...testObjects(), ...files]));
    await openAndSelect(card);
    const announced = await send(card, "81CB010000");
    assert.match(announced, /^61[0-9A-F]{2}$/);
    const part = await send(card, "81C00000" + announced.slice(2));
    assert.equal(part.slice(-4), "6300");
  });

  it("SELECT gives a plain 9000 (as the ZARIOT SIM does), or 61 0B + FCI with selectFci", async () => {
    const plain = testCard({ responseDelivery: "get-response" });
    assert.equal(await send(plain, "00A4040007" + GSMA_AID), "9000");
    const withFci = testCard({ responseDelivery: "get-response", selectFci: true });
    assert.equal(await send(withFci, "00A4040007" + GSMA_AID), "610B");
    assert.equal(await send(withFci, "00C000000B"), "6F098407" + GSMA_AID + "9000");
  });

  it("MANAGE CHANNEL always answers directly (019000 to Le 00, as on the ZARIOT SIM)", async () => {
    const card = testCard({ responseDelivery: "get-response", wrongLe: "6C" });
    assert.equal(await send(card, "0070000000"), "019000");
    assert.equal(await send(card, "0070000001"), "029000");
  });
});

describe("card T=0: wrongLe 6C", () => {
  it("case 2 with Le 00 or a wrong Le gets 6Cxx; the exact Le gets the data", async () => {
    const card = testCard({ wrongLe: "6C" });
    await openAndSelect(card);
    assert.equal(await send(card, "81CB000000"), "6C44");
    assert.equal(await send(card, "81CB000050"), "6C44");
    assert.equal((await send(card, "81CB000044")).length, 2 * (68 + 2));
    assert.equal((await send(card, "8184000000")).length, 2 * (256 + 2), "Le 00 is exactly 256 for GET RANDOM");
  });

  it("a 6Cxx answer does not advance the object list: resending with the exact Le gets the same part", async () => {
    const files: ProfileObject[] = Array.from({ length: 12 }, (_, i) => ({ kind: "file", id: (0x40 + i).toString(16), label: `certificate-${i}`, contents: "00" }));
    const card = new IotSafeCard(testProfile({ wrongLe: "6C" }, [...testObjects(), ...files]));
    await openAndSelect(card);
    const parts: string[] = [];
    let p2 = "00";
    for (;;) {
      const sixC = await send(card, `81CB01${p2}00`);
      assert.match(sixC, /^6C[0-9A-F]{2}$/);
      const again = await send(card, `81CB01${p2}00`);
      assert.equal(again, sixC, "still the same part");
      const answer = await send(card, `81CB01${p2}${sixC.slice(2)}`);
      parts.push(answer.slice(0, -4));
      if (answer.endsWith("9000")) break;
      assert.equal(answer.slice(-4), "6300");
      p2 = "01";
    }
    assert.ok(parts.length >= 2);
    assert.equal(new Set(parts).size, parts.length, "every part is different");
  });

  it("in lenient mode an Le shorter than the answer also gets 6Cxx, a longer one is an upper bound", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "81CB000010"), "6C44");
    assert.equal((await send(card, "81CB0000FF")).length, 2 * (68 + 2));
  });
});

describe("card options: applet variants", () => {
  it("signatureFormat der: tag 33 holds an ASN.1 ECDSA-Sig-Value that verifies", async () => {
    const card = testCard({ signatureFormat: "der" });
    await openAndSelect(card);
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000");
    const answer = await send(card, "812B8001229E20" + HELLO_WORLD_SHA256);
    assert.equal(answer.slice(0, 4), "3300");
    const length = parseInt(answer.slice(4, 6), 16);
    const der = Buffer.from(answer.slice(6, -4), "hex");
    assert.equal(der.length, length);
    assert.equal(der[0], 0x30);
    assert.ok(verify("sha256", Buffer.from("hello world"), { key: publicKeyObject(publicPointOf(KEY01_SCALAR)), dsaEncoding: "der" }, der));
  });

  it("reopenSession reject: INIT on an open session is 6985 until it is closed; default replace accepts it", async () => {
    const strict = testCard({ reopenSession: "reject" });
    await openAndSelect(strict);
    assert.equal(await send(strict, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(strict, "812A00010D840101A1010391020001920104"), "6985");
    assert.equal(await send(strict, "812A010100"), "9000");
    assert.equal(await send(strict, "812A00010D840101A1010391020001920104"), "9000");
    const lenient = testCard();
    await openAndSelect(lenient);
    assert.equal(await send(lenient, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(lenient, "812A00010D840101A1010391020001920104"), "9000");
  });

  it("sign, verify and put sessions are separate: the same number can be open for each", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812C00010D850101A1010391020001920104"), "9000");
    assert.equal(await send(card, "8124000103850105"), "9000");
    assert.equal(await send(card, "812A010100"), "9000");
    assert.equal(await send(card, "812C010100"), "9000");
    assert.equal(await send(card, "8124010100"), "9000");
  });

  it("maxSessions: B7 reports it and P2 must be below it", async () => {
    const card = testCard({ maxSessions: 2 });
    await openAndSelect(card);
    assert.ok((await send(card, "81CB000044")).includes("B70102"));
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812A00020D840101A1010391020001920104"), "6A86");
  });

  it("readFileChunk limits every READ FILE answer", async () => {
    const card = testCard({ readFileChunk: 100 });
    await openAndSelect(card);
    const answer = await send(card, "81B000000383010200");
    assert.equal(answer, certificateFileBytes().subarray(0, 100).toString("hex").toUpperCase() + "9000");
  });
});
