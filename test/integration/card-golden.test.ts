// Golden tests: the command APDUs of iotsafe.md §5 (worked examples) and §10 (traces from real
// SIMs, client code and simulators), sent byte for byte to the virtual card. Expected answers come
// from the document; random parts (signatures, keys) are checked by structure and with OpenSSL.
import assert from "node:assert/strict";
import { createECDH, createPublicKey } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IotSafeCard } from "../../hosts/sim/card/iotsafe-card.js";
import { PROFILE_FORMAT, type SimProfile } from "../../hosts/sim/card/profile.js";
import {
  HELLO_WORLD_SHA256,
  KEY006_SCALAR,
  KEY01_SCALAR,
  certificateFileBytes,
  openAndSelect,
  publicKeyObject,
  publicPointOf,
  send,
  testCard,
  testProfile,
  verifiesRaw,
} from "./card-fixtures.js";

const HELLO = Buffer.from("hello world");

/** Checks ECDSA over a bare digest with `openssl pkeyutl` (no message needed). */
function opensslVerifiesDigest(pointHex: string, digestHex: string, rawSignatureHex: string): boolean {
  const dir = mkdtempSync(join(tmpdir(), "card-golden-"));
  try {
    const pem = publicKeyObject(pointHex).export({ type: "spki", format: "pem" }) as string;
    const raw = Buffer.from(rawSignatureHex, "hex");
    const integer = (b: Buffer) => {
      let v = b;
      while (v.length > 1 && v[0] === 0) v = v.subarray(1);
      if (v[0]! & 0x80) v = Buffer.concat([Buffer.of(0), v]);
      return Buffer.concat([Buffer.of(0x02, v.length), v]);
    };
    const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
    writeFileSync(join(dir, "pub.pem"), pem);
    writeFileSync(join(dir, "digest.bin"), Buffer.from(digestHex, "hex"));
    writeFileSync(join(dir, "sig.der"), Buffer.concat([Buffer.of(0x30, body.length), body]));
    try {
      execFileSync("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", join(dir, "pub.pem"), "-in", join(dir, "digest.bin"), "-sigfile", join(dir, "sig.der")], { stdio: "pipe" });
      return true;
    } catch {
      return false;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("card golden: iotsafe.md §5.1 sign a SHA-256 digest with key 01 (CLA 81, channel 1)", () => {
  it("runs steps 1–8 with the documented answers; the signature verifies against key 01", async () => {
    const card = testCard();
    assert.equal(await send(card, "0070000001"), "019000"); // 1 MANAGE CHANNEL open
    assert.equal(await send(card, "01A4040007A0000005590010"), "9000"); // 2 SELECT
    assert.equal(await send(card, "812A010100"), "6A86"); // 3 close a stale session 1: none open
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000"); // 4 SIGN INIT
    const update = await send(card, "812B8001229E20" + HELLO_WORLD_SHA256); // 5 SIGN UPDATE, data directly
    assert.equal(update.length, 2 * (3 + 64 + 2));
    assert.equal(update.slice(0, 6), "330040");
    assert.equal(update.slice(-4), "9000");
    assert.ok(verifiesRaw(publicPointOf(KEY01_SCALAR), HELLO, update.slice(6, -4)), "signature verifies with OpenSSL");
    assert.equal(await send(card, "812A010100"), "9000"); // 7 close session 1
    assert.equal(await send(card, "0070800100"), "9000"); // 8 close channel 1
  });

  it("step 5–6 through 61xx: 6143 then GET RESPONSE 81C0000043 gives 330040 r‖s 9000", async () => {
    const card = testCard({ responseDelivery: "get-response" });
    await openAndSelect(card);
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812B8001229E20" + HELLO_WORLD_SHA256), "6143");
    const answer = await send(card, "81C0000043");
    assert.equal(answer.length, 138); // "+CSIM: 138" counts these hex characters
    assert.match(answer, /^330040[0-9A-F]{128}9000$/);
    assert.ok(verifiesRaw(publicPointOf(KEY01_SCALAR), HELLO, answer.slice(6, -4)));
  });

  it("a one-byte-length applet gives 6142 / 3340…", async () => {
    const card = testCard({ responseDelivery: "get-response", signatureLength: "one-byte" });
    await openAndSelect(card);
    assert.equal(await send(card, "812A00010D840101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812B8001229E20" + HELLO_WORLD_SHA256), "6142");
    const answer = await send(card, "81C0000042");
    assert.match(answer, /^3340[0-9A-F]{128}9000$/);
    assert.ok(verifiesRaw(publicPointOf(KEY01_SCALAR), HELLO, answer.slice(4, -4)));
  });

  it("the same with 3-byte ASCII IDs (ZARIOT): init 812A00010F8403303036…, update → 6143, GET RESPONSE → 330040…", async () => {
    const card = testCard({ responseDelivery: "get-response" });
    await openAndSelect(card);
    assert.equal(await send(card, "812A00010F8403303036A1010391020001920104"), "9000");
    assert.equal(await send(card, "812B8001229E20" + HELLO_WORLD_SHA256), "6143");
    const answer = await send(card, "81C0000043");
    assert.match(answer, /^330040[0-9A-F]{128}9000$/);
    assert.ok(verifiesRaw(publicPointOf(KEY006_SCALAR), HELLO, answer.slice(6, -4)));
  });
});

describe("card golden: iotsafe.md §5.2 read a certificate file (ID 02)", () => {
  it("GET DATA C3 (without and with Le 00) finds size 20 02 036B = 875 inside a C3 structure", async () => {
    const card = testCard();
    await openAndSelect(card);
    for (const apdu of ["81CBC30003830102", "81CBC3000383010200"]) {
      const answer = await send(card, apdu);
      assert.equal(answer.slice(-4), "9000");
      assert.equal(answer.slice(0, 2), "C3");
      assert.equal(parseInt(answer.slice(2, 4), 16), answer.length / 2 - 2 - 2, "C3 length covers the rest");
      assert.ok(answer.includes("830102"), "contains the file ID");
      assert.ok(answer.includes("2002036B"), "contains the size 875");
    }
  });

  it("the bare form is byte-exact: 83 01 02 60 01 01 4A 01 01 21 01 02 20 02 03 6B", async () => {
    const objects = [{ kind: "file" as const, id: "02", usage: "certificate" as const, contents: certificateFileBytes().toString("hex") }];
    const card = new IotSafeCard(testProfile({ objectInfo: "bare" }, objects));
    await openAndSelect(card);
    assert.equal(await send(card, "81CBC30003830102"), "8301026001014A01012101022002036B9000");
  });

  it("READ FILE from offset 0, advancing by the bytes returned (240 per answer), yields the whole file", async () => {
    const card = testCard();
    await openAndSelect(card);
    const chunks: Buffer[] = [];
    let offset = 0;
    while (offset < 875) {
      const p1p2 = offset.toString(16).toUpperCase().padStart(4, "0");
      const answer = await send(card, `81B0${p1p2}0383010200`);
      assert.equal(answer.slice(-4), "9000");
      const chunk = Buffer.from(answer.slice(0, -4), "hex");
      assert.ok(chunk.length > 0 && chunk.length <= 240, `chunk of ${chunk.length} bytes`);
      chunks.push(chunk);
      offset += chunk.length;
    }
    assert.deepEqual(chunks.map((c) => c.length), [240, 240, 240, 155]);
    assert.deepEqual(Buffer.concat(chunks), certificateFileBytes());
    // At the end: an empty answer (Thales stops on it).
    assert.equal(await send(card, "81B0036B0383010200"), "9000");
  });

  it("Orange's explicit Le (50 bytes per READ FILE) is honoured", async () => {
    const card = testCard();
    await openAndSelect(card);
    const answer = await send(card, "81B000320383010232");
    assert.equal(answer, certificateFileBytes().subarray(50, 100).toString("hex").toUpperCase() + "9000");
  });
});

describe("card golden: iotsafe.md §5.3 other sequences", () => {
  it("random: 8184000020 returns 32 bytes + 9000", async () => {
    const card = testCard();
    await openAndSelect(card);
    assert.match(await send(card, "8184000020"), /^[0-9A-F]{64}9000$/);
  });

  it("ephemeral key pair in 04, read it back, peer point into 05, ECDH matches OpenSSL", async () => {
    const card = testCard();
    await openAndSelect(card);
    const generated = await send(card, "81B9000003840104");
    const match = /^840104850104344549438641(04[0-9A-F]{128})9000$/.exec(generated);
    assert.ok(match, `key generation answer ${generated}`);
    const cardPoint = match[1]!;
    // The point is on P-256: OpenSSL accepts it as a key.
    assert.equal(publicKeyObject(cardPoint).asymmetricKeyDetails?.namedCurve, "prime256v1");
    assert.equal(await send(card, "81CD000003850104"), "344549438641" + cardPoint + "9000");

    const peer = createECDH("prime256v1");
    const peerPoint = peer.generateKeys("hex", "uncompressed").toUpperCase();
    assert.equal(await send(card, "8124000203850105"), "9000");
    assert.equal(await send(card, "81D8800247344549438641" + peerPoint), "9000");
    assert.equal(await send(card, "8124010200"), "9000");
    const shared = await send(card, "8146000006840104850105");
    assert.equal(shared, peer.computeSecret(Buffer.from(cardPoint, "hex")).toString("hex").toUpperCase() + "9000");
  });
});

describe("card golden: iotsafe.md §10 traces", () => {
  it("no applet (1NCE, Orange issue #7): 019000, 6A82, 6D00, 6D00, 6D00, 6A86, 6700, 9000", async () => {
    // A UICC without the GSMA applet: only a Thales AID is installed.
    const card = testCard({ aids: ["a0000002480400"] });
    const trace: [string, string][] = [
      ["0070000001", "019000"],
      ["01A4040007A0000005590010", "6A82"],
      ["01CB010000", "6D00"],
      ["012A010100", "6D00"],
      ["012A00010E84021234A1010191020001920104", "6D00"],
      ["012C010100", "6A86"],
      ["012C00010E8502ABCDA1010191020001920104", "6700"],
      ["0070800100", "9000"],
    ];
    for (const [command, expected] of trace) assert.equal(await send(card, command), expected, command);
  });

  it("ZARIOT key generation: 81B90000058403303031 → 6151, GET RESPONSE 81C0000051 → 84 03 303031 85 03 303032 34 45 … (point on P-256)", async () => {
    const card = testCard({ responseDelivery: "get-response" });
    assert.equal(await send(card, "0070000000"), "019000"); // atsign opens with Le 00
    assert.equal(await send(card, "01A4040007A0000005590010"), "9000");
    assert.equal(await send(card, "81B90000058403303031"), "6151");
    const answer = await send(card, "81C0000051");
    const match = /^840330303185033030323445494386410(4[0-9A-F]{128})9000$/.exec(answer);
    assert.ok(match, answer);
    const point = "0" + match[1]!;
    assert.doesNotThrow(() => createPublicKey({ key: publicKeyObject(point).export({ format: "der", type: "spki" }), format: "der", type: "spki" }));
    // READ PUBLIC KEY by the public ID the card reported: 6147, then the same point.
    assert.equal(await send(card, "81CD0000058503303032"), "6147");
    assert.equal(await send(card, "81C0000047"), "344549438641" + point + "9000");
  });

  it("atsign flow: random 8n84000000, sign (6143 → 330040…), verify on session 2 (9000, 6D01 when altered), closes", async () => {
    const card = testCard({ responseDelivery: "get-response" });
    assert.equal(await send(card, "0070000000"), "019000");
    assert.equal(await send(card, "01A4040007A0000005590010"), "9000");
    assert.match(await send(card, "8184000000"), /^[0-9A-F]{512}9000$/);
    assert.equal(await send(card, "812A00010F8403303036A1010391020001920104"), "9000");
    assert.equal(await send(card, "812B8001229E20" + HELLO_WORLD_SHA256), "6143");
    const signed = await send(card, "81C0000043");
    assert.match(signed, /^330040[0-9A-F]{128}9000$/);
    const signature = signed.slice(6, -4);
    assert.equal(await send(card, "812C00020F8503303037A1010391020001920104"), "9000");
    assert.equal(await send(card, "812D8002659E20" + HELLO_WORLD_SHA256 + "330040" + signature), "9000");
    const altered = signature.slice(0, -2) + ((parseInt(signature.slice(-2), 16) ^ 1).toString(16).padStart(2, "0").toUpperCase());
    assert.equal(await send(card, "812D8002659E20" + HELLO_WORLD_SHA256 + "330040" + altered), "6D01");
    assert.equal(await send(card, "812A010100"), "9000");
    assert.equal(await send(card, "812C010200"), "9000");
    assert.equal(await send(card, "0070800100"), "9000");
  });

  it("m33mu session: SELECT on CLA 01 without MANAGE CHANNEL, random, keygen/read with 2-byte ID 1234, GET DATA C3 of 0200", async () => {
    const card = testCard();
    assert.equal(await send(card, "01A4040007A0000005590010"), "9000");
    assert.match(await send(card, "8184000008"), /^[0-9A-F]{16}9000$/);
    const generated = await send(card, "81B900000484021234");
    assert.ok(generated.includes("34454943864104"), generated);
    const point = generated.slice(generated.indexOf("34454943864104") + 12, -4);
    assert.equal(await send(card, "81CD00000485021234"), "344549438641" + point + "9000");
    const info = await send(card, "81CBC3000483020200");
    assert.ok(info.includes("83020200") && info.includes("2002"), info);
  });

  it("Thales PRF known answers through COMPUTE PRF mode 00 (extended master secret, then key expansion)", async () => {
    const secret1 = "C0485B054863F6DFA458789768B9035C6CACB160DD1A01834811F5783309DB81";
    const seed1 = "CE15B44D68440B652624244DB8D2FB7DD601C759E9EB627FB10529AB0DB76049";
    const expected1 = "A1F02A766DA04C8FD83A40E358267528F8D815C48E3DC353D55FE3861C350622C78B48FE6F49F6E13E1B6B175CFE59FB";
    const seed2 =
      "CB52E451A752CA812EA9646F2E5A0EC138C3D4D8AEFA744E17F01499867450815DCADEED3917D046311A4B5D73BBD75E500CE963A7D05D8122EA9745F2E0D9E9";
    // EXPECTED_RESULT2 of the Thales test, 16 bytes per row.
    const expected2 = [
      "ed 6c 66 44 c0 75 65 3f 19 19 fd 05 a1 1a 93 c8",
      "05 72 67 b9 c2 cb d0 9e 6d 88 82 b3 55 47 3e 8e",
      "17 97 37 cd c0 06 3b bf ee 5d 65 24 ea c1 72 4b",
      "57 51 41 d7 16 42 7b 9f aa f7 5c 9f 0e 09 03 a5",
      "41 11 30 f2 73 72 49 4d 8a f5 20 ef fa d6 4c f3",
      "4c a2 23 1d 2b d7 b4 cf 01 5c 40 e8 5d 4c 62 b2",
      "b7 58 88 ac a4 d5 79 95 36 53 42 f6 2f 23 95 e4",
      "7f e0 5e 75 49 53 ba 2e 1a c7 a1 d7 f9 66 e9 2c",
      "35 20 20 39 5e 6c cb 59 70 dd 8a 67 39 8c e1 ce",
      "09 58 6a 20 f6 d4 e0 91 2b aa db 68 3b 41 44 20",
      "70 f9 59 0b bb 17 5d 0e df dc 2d 85 c0 b0 c6 84",
      "9a 7e 18 71 55 f8 e9 87 b0 d8 1f c4 3f 51 6c 9a",
      "22 96 92 eb d7 ac 88 c5 0c a1 47 15 df 32 80 23",
      "c4 9d 87 76 a2 ab 7c f8 b5 25 8d 26 9a 2f 17 ba",
      "6b d6 f7 53 f3 9d ec 18 90 ba a4 28 3b 31 39 92",
      "2d 80 d1 e7 d3 da 69 66 98 77 12 5b 8c 0b 41",
    ].join("").replace(/ /g, "").toUpperCase();
    const ascii = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
    const tlv = (tag: string, hex: string) => tag + (hex.length / 2).toString(16).toUpperCase().padStart(2, "0") + hex;
    const apdu = (data: string) => "81480000" + (data.length / 2).toString(16).toUpperCase().padStart(2, "0") + data;
    const card = testCard();
    await openAndSelect(card);
    const first = await send(card, apdu(tlv("D1", secret1) + tlv("D2", ascii("extended master secret") + seed1) + "D30130"));
    assert.equal(first, expected1 + "9000");
    const second = await send(card, apdu(tlv("D1", expected1) + tlv("D2", ascii("key expansion") + seed2) + "D301FF"));
    assert.equal(expected2.length, 2 * 255);
    assert.equal(second, expected2 + "9000");
  });

  it("Thales PUT PUBLIC KEY payload without the 34 wrapper (49 43 86 41 04 9E5B7F77…) is accepted and read back", async () => {
    const point =
      "049E5B7F778B7997617C8993B6406608EFE2D3F2D6751D6B3F5F5320FFFD6A7DC9A8F6C5C1474F64D668364AE2ED8DC4C1C6C4767423B013937B4499F52C4F89A0";
    const card = testCard();
    await openAndSelect(card);
    assert.equal(await send(card, "8124000003850105"), "9000");
    assert.equal(await send(card, "81D8800045" + "49438641" + point), "9000");
    assert.equal(await send(card, "8124010000"), "9000");
    assert.equal(await send(card, "81CD000003850105"), "344549438641" + point + "9000");
  });

  it("Thales sign test digest 7712aae3…2e9a8298 with key container 1 verifies against READ PUBLIC KEY 02", async () => {
    const profile: SimProfile = {
      format: PROFILE_FORMAT,
      objects: [{ kind: "private-key" as const, id: "01", publicId: "02", contents: KEY01_SCALAR }],
    };
    const card = new IotSafeCard(profile);
    await openAndSelect(card);
    const digest = "7712AAE3BBAAE5C007475A7336F3DDE0BC63380A348D2390C3519E782E9A8298";
    // Thales uses session 0 and class 0n.
    assert.equal(await send(card, "012A00000D840101A1010391020001920104"), "9000");
    const signed = await send(card, "012B8000229E20" + digest);
    assert.match(signed, /^330040[0-9A-F]{128}9000$/);
    const publicKey = await send(card, "01CD000003850102");
    assert.match(publicKey, /^344549438641(04[0-9A-F]{128})9000$/);
    const point = publicKey.slice(12, -4);
    assert.equal(point, publicPointOf(KEY01_SCALAR));
    assert.ok(opensslVerifiesDigest(point, digest, signed.slice(6, -4)), "openssl pkeyutl -verify accepts the signature");
  });
});
