// Every IoT SAFE command of the virtual card, its happy paths and its error status words
// (iotsafe.md §2–§4). Cryptographic results are checked with node:crypto / OpenSSL.
import assert from "node:assert/strict";
import { createECDH, createHash, createHmac, verify } from "node:crypto";
import { IotSafeCard } from "../../hosts/sim/card/iotsafe-card.js";
import { sha256Blocks } from "../../hosts/sim/card/card-crypto.js";
import type { ProfileObject } from "../../hosts/sim/card/profile.js";
import {
  HELLO_WORLD_SHA256,
  KEY01_SCALAR,
  PSK06,
  openAndSelect,
  publicKeyObject,
  publicPointOf,
  send,
  testCard,
  testObjects,
  testProfile,
  verifiesRaw,
} from "./card-fixtures.js";

const hex = (b: Buffer | string) => (typeof b === "string" ? Buffer.from(b) : b).toString("hex").toUpperCase();
const lc = (data: string) => (data.length / 2).toString(16).toUpperCase().padStart(2, "0");
const tlv = (tag: string, value: string) => tag + lc(value) + value;
const apdu = (header: string, data: string) => header + lc(data) + data;

/** Splits a response's data into [tag, value] pairs (one-byte tags and lengths). */
function tlvs(dataHex: string): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < dataHex.length; ) {
    const tag = dataHex.slice(i, i + 2);
    const length = parseInt(dataHex.slice(i + 2, i + 4), 16);
    out.push([tag, dataHex.slice(i + 4, i + 4 + 2 * length)]);
    i += 4 + 2 * length;
  }
  return out;
}

/** TLS 1.2 P_SHA256 written here from RFC 5246 §5 with node's HMAC (independent of the card's). */
function pSha256(secret: Buffer, labelAndSeed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  let a = labelAndSeed;
  let total = 0;
  while (total < length) {
    a = createHmac("sha256", secret).update(a).digest();
    const block = createHmac("sha256", secret).update(Buffer.concat([a, labelAndSeed])).digest();
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

async function selectedCard(objects?: ProfileObject[], options = {}): Promise<IotSafeCard> {
  const card = new IotSafeCard(testProfile(options, objects ?? testObjects()));
  await openAndSelect(card);
  return card;
}

const SIGN_INIT_01_MODE3 = "812A00010D840101A1010391020001920104";

describe("card: GET DATA", () => {
  it("application info: 68 bytes, tags 10 11 B1 B2 B3 B4 90 91 92 93 94 B7 in order, counts of the store", async () => {
    const card = await selectedCard();
    const answer = await send(card, "81CB000044");
    assert.equal(answer.slice(-4), "9000");
    const data = answer.slice(0, -4);
    assert.equal(data.length / 2, 68);
    const fields = tlvs(data);
    assert.deepEqual(fields.map(([t]) => t), ["10", "11", "B1", "B2", "B3", "B4", "90", "91", "92", "93", "94", "B7"]);
    const value = Object.fromEntries(fields);
    assert.equal(value["11"]!.length, 64);
    assert.equal(value.B1, "04"); // files 02, 03, 0200, 07
    assert.equal(value.B2, "05"); // key pairs 01, 04, 303031, 303036, 1234
    assert.equal(value.B3, "01");
    assert.equal(value.B4, "01");
    assert.equal(value["91"]!.length, 4, "hash field is 2 bytes");
    assert.equal(parseInt(value["91"]!, 16) & 0x0001, 1, "SHA-256 supported");
    assert.equal(value["92"], "04");
    assert.equal(value.B7, "04");
  });

  it("application info with a short Le answers 6C44 (iotsafe.md §3.2); bad P1/P2 answer 6A86", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "81CB000010"), "6C44");
    assert.equal(await send(card, "81CB000100"), "6A86");
    assert.equal(await send(card, "81CB050000"), "6A86");
  });

  it("private key info (C1) by ID and by label: label, ID, access, state, key type, usage, functions, algorithms", async () => {
    const card = await selectedCard();
    const byId = await send(card, "81CBC10003840101");
    const byLabel = await send(card, apdu("81CBC100", tlv("74", hex("client-key"))));
    assert.equal(byId, byLabel);
    assert.equal(byId.slice(-4), "9000");
    const [[outer, body]] = tlvs(byId.slice(0, -4)) as [[string, string]];
    assert.equal(outer, "C1");
    const info = Object.fromEntries(tlvs(body));
    assert.equal(info["74"], hex("client-key"));
    assert.equal(info["84"], "01");
    assert.equal(info["4A"], "01", "activated: the container holds a key");
    assert.equal(info["4B"], "13", "NIST P-256 persistent");
    assert.equal(info["4E"], "02", "TLS 1.2 CertificateVerify usage from the profile");
    assert.equal(parseInt(info["61"]!, 16) & 0x01, 1, "signature function");
    assert.equal(info["92"], "04");
  });

  it("public key (C2), secret key (C4) and empty containers report their state", async () => {
    const card = await selectedCard();
    const publicInfo = Object.fromEntries(tlvs(tlvs((await send(card, "81CBC20003850105")).slice(0, -4))[0]![1]));
    assert.equal(publicInfo["85"], "05");
    assert.equal(publicInfo["4A"], "00", "container 05 is empty");
    assert.equal(publicInfo["60"], "03", "read + update");
    const secretInfo = Object.fromEntries(tlvs(tlvs((await send(card, "81CBC40003860106")).slice(0, -4))[0]![1]));
    assert.equal(secretInfo["86"], "06");
    assert.equal(secretInfo["76"], hex("psk"));
    assert.equal(secretInfo["4B"], "A0");
    assert.equal(secretInfo["4A"], "01");
  });

  it("object info errors: unknown object 6A82, ID and label together 6A80, no reference 6A80, P2 ≠ 00 6A86", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "81CBC3000383010900"), "6A82");
    assert.equal(await send(card, apdu("81CBC300", "830102" + tlv("73", hex("client-certificate")))), "6A80");
    assert.equal(await send(card, "81CBC30000"), "6A80");
    assert.equal(await send(card, "81CBC30103830102"), "6A86");
    // A private key ID asked for as a file: files are a separate namespace.
    assert.equal(await send(card, "81CBC30003830104"), "6A82");
  });

  it("object list: one Cx per object; pages of at most 240 bytes with 6300 and P2=01 until 9000", async () => {
    const files: ProfileObject[] = Array.from({ length: 24 }, (_, i) => ({
      kind: "file",
      id: (0x40 + i).toString(16),
      label: `file-number-${i}`,
      contents: "00",
    }));
    const card = await selectedCard([...testObjects(), ...files]);
    const pages: string[] = [];
    let answer = await send(card, "81CB010000");
    for (;;) {
      const sw = answer.slice(-4);
      const page = answer.slice(0, -4);
      assert.ok(page.length / 2 <= 240, `page of ${page.length / 2} bytes`);
      pages.push(page);
      if (sw === "9000") break;
      assert.equal(sw, "6300");
      answer = await send(card, "81CB010100");
    }
    assert.ok(pages.length >= 3, `${pages.length} pages`);
    const entries = pages.flatMap((p) => tlvs(p));
    assert.equal(entries.length, testObjects().length + 24);
    assert.deepEqual(new Set(entries.map(([t]) => t)), new Set(["C1", "C2", "C3", "C4"]));
    const fileIds = entries.filter(([t]) => t === "C3").map(([, body]) => Object.fromEntries(tlvs(body))["83"]);
    for (const f of files) assert.ok(fileIds.includes(f.id.toUpperCase()), `file ${f.id} listed`);
    // After the last part there is nothing to continue.
    assert.equal(await send(card, "81CB010100"), "6985");
  });

  it("a small store fits in one answer with 9000", async () => {
    const card = await selectedCard([{ kind: "file", id: "02", contents: "01" }]);
    assert.equal(await send(card, "81CB010000"), "C3108301026001014A0101210101200200019000");
  });
});

describe("card: READ FILE", () => {
  it("by label (73), from an offset", async () => {
    const card = await selectedCard();
    const answer = await send(card, apdu("81B00003", tlv("73", hex("ca-certificate"))));
    assert.equal(answer, "01FF9000"); // file 03 is 30 03 02 01 FF
  });

  it("errors: unreadable file 6985, unknown file 6A82, offset past the end 6A86, no reference 6A80", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "81B0000003830107"), "6985");
    assert.equal(await send(card, "81B0000003830199"), "6A82");
    assert.equal(await send(card, "81B0036C03830102"), "6A86");
    assert.equal(await send(card, "81B0000000"), "6A80");
  });
});

describe("card: GET RANDOM", () => {
  it("answers Le bytes (00 = 256), different each time; no Le 6700; P1/P2 6A86", async () => {
    const card = await selectedCard();
    const a = await send(card, "8184000010");
    const b = await send(card, "8184000010");
    assert.match(a, /^[0-9A-F]{32}9000$/);
    assert.notEqual(a, b);
    assert.equal((await send(card, "8184000000")).length, 2 * 258);
    assert.equal(await send(card, "81840000"), "6700");
    assert.equal(await send(card, "8184010010"), "6A86");
  });
});

describe("card: COMPUTE SIGNATURE", () => {
  const point01 = publicPointOf(KEY01_SCALAR);

  it("mode 01 (full text) over two UPDATEs (P1 00 then 80) signs SHA-256 of the whole message", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "812A00010D840101A1010191020001920104"), "9000");
    assert.equal(await send(card, apdu("812B0001", tlv("9B", hex("hello ")))), "9000");
    const answer = await send(card, apdu("812B8001", tlv("9B", hex("world"))));
    assert.match(answer, /^330040[0-9A-F]{128}9000$/);
    assert.ok(verifiesRaw(point01, Buffer.from("hello world"), answer.slice(6, -4)));
  });

  it("mode 01 accepts the 9B length as a fixed 3 bytes (Orange #1) and as BER 81 xx", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "812A00010D840101A1010191020001920104"), "9000");
    const fixed = await send(card, apdu("812B8001", "9B00000B" + hex("hello world")));
    assert.ok(verifiesRaw(point01, Buffer.from("hello world"), fixed.slice(6, -4)));
    const long = Buffer.alloc(200, 0x61);
    const ber = await send(card, apdu("812B8001", "9B81C8" + hex(long)));
    assert.ok(verifiesRaw(point01, long, ber.slice(6, -4)));
  });

  it("mode 02 (last block): from the FIPS 180-4 initial hash value, and from a state after one block", async () => {
    const card = await selectedCard();
    // H(0) of SHA-256, FIPS 180-4 §5.3.3.
    const iv = "6A09E667BB67AE853C6EF372A54FF53A510E527F9B05688C1F83D9AB5BE0CD19";
    assert.equal(await send(card, "812A00010D840101A1010291020001920104"), "9000");
    const fromStart = await send(card, apdu("812B8001", tlv("9A", hex("hello world")) + tlv("9C", iv) + tlv("9D", "00000000")));
    assert.ok(verifiesRaw(point01, Buffer.from("hello world"), fromStart.slice(6, -4)));

    const firstBlock = Buffer.alloc(64, 0x42);
    const state = hex(Buffer.from(sha256Blocks(Buffer.from(iv, "hex"), firstBlock)));
    const afterOne = await send(card, apdu("812B8001", tlv("9A", hex("tail")) + tlv("9C", state) + tlv("9D", "00000040")));
    assert.ok(verifiesRaw(point01, Buffer.concat([firstBlock, Buffer.from("tail")]), afterOne.slice(6, -4)));
    // A byte count that is not whole blocks cannot be resumed.
    assert.equal(await send(card, apdu("812B8001", tlv("9A", "00") + tlv("9C", state) + tlv("9D", "00000041"))), "6A80");
  });

  it("mode 03 with SHA-384 (91 02 0002) takes a 48-byte digest", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "812A00010D840101A1010391020002920104"), "9000");
    const message = Buffer.from("sha-384 message");
    const digest = createHash("sha384").update(message).digest();
    const answer = await send(card, apdu("812B8001", tlv("9E", hex(digest))));
    const ok = verify("sha384", message, { key: publicKeyObject(point01), dsaEncoding: "ieee-p1363" }, Buffer.from(answer.slice(6, -4), "hex"));
    assert.ok(ok);
  });

  it("a session stays usable after its last block (Thales signs again without closing)", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, SIGN_INIT_01_MODE3), "9000");
    for (let i = 0; i < 2; i++) {
      const answer = await send(card, "812B8001229E20" + HELLO_WORLD_SHA256);
      assert.ok(verifiesRaw(point01, Buffer.from("hello world"), answer.slice(6, -4)));
    }
  });

  it("INIT errors: unknown key 6A82, empty container 6985, no mode 6A80, bad mode 6A80, 1-byte hash 6A80, RSA 6A80, session ≥ B7 6A86, P1 6A86", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "812A00010D840109A1010391020001920104"), "6A82");
    assert.equal(await send(card, "812A00010D840104A1010391020001920104"), "6985");
    assert.equal(await send(card, "812A00010A84010191020001920104"), "6A80");
    assert.equal(await send(card, "812A00010D840101A1010491020001920104"), "6A80");
    assert.equal(await send(card, "812A00010C840101A10103910101920104"), "6A80");
    assert.equal(await send(card, "812A00010D840101A1010391020001920101"), "6A80");
    assert.equal(await send(card, "812A00040D840101A1010391020001920104"), "6A86");
    assert.equal(await send(card, "812A02010D840101A1010391020001920104"), "6A86");
    // By ID and label at once.
    assert.equal(await send(card, apdu("812A0001", "840101" + tlv("74", hex("client-key")) + "A10103")), "6A80");
    // Closing a session that is not open.
    assert.equal(await send(card, "812A010200"), "6A86");
  });

  it("UPDATE errors: no session 6985, wrong digest length 6A80, tag of another mode 6985, after close 6985", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "812B8001229E20" + HELLO_WORLD_SHA256), "6985");
    assert.equal(await send(card, SIGN_INIT_01_MODE3), "9000");
    assert.equal(await send(card, "812B8001219E1F" + HELLO_WORLD_SHA256.slice(2)), "6A80");
    assert.equal(await send(card, apdu("812B8001", tlv("9B", hex("text")))), "6985");
    assert.equal(await send(card, "812B800100"), "6A80"); // last block without any digest
    assert.equal(await send(card, "812B4001229E20" + HELLO_WORLD_SHA256), "6A86");
    assert.equal(await send(card, "812A010100"), "9000");
    assert.equal(await send(card, "812B8001229E20" + HELLO_WORLD_SHA256), "6985");
  });

  it("a key without the signature function cannot sign (6985)", async () => {
    const card = await selectedCard();
    assert.match(await send(card, "81B9000003840104"), /9000$/);
    assert.equal(await send(card, "812A00010D840104A1010391020001920104"), "6985");
  });
});

describe("card: VERIFY SIGNATURE", () => {
  async function signHello(card: IotSafeCard): Promise<string> {
    assert.equal(await send(card, SIGN_INIT_01_MODE3), "9000");
    const answer = await send(card, "812B8001229E20" + HELLO_WORLD_SHA256);
    assert.equal(await send(card, "812A010100"), "9000");
    return answer.slice(6, -4);
  }

  it("mode 03: 33 with a two-byte length, a one-byte length, or a DER value → 9000; another digest → 6D01", async () => {
    const card = await selectedCard();
    const raw = await signHello(card);
    assert.equal(await send(card, "812C00010D850101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812D8001659E20" + HELLO_WORLD_SHA256 + "330040" + raw), "9000");
    assert.equal(await send(card, "812D8001649E20" + HELLO_WORLD_SHA256 + "3340" + raw), "9000");
    const integer = (h: string) => {
      let v = h.replace(/^(00)+/, "");
      if (parseInt(v.slice(0, 2), 16) & 0x80) v = "00" + v;
      return "02" + lc(v) + v;
    };
    const der = "30" + lc(integer(raw.slice(0, 64)) + integer(raw.slice(64))) + integer(raw.slice(0, 64)) + integer(raw.slice(64));
    assert.equal(await send(card, apdu("812D8001", "9E20" + HELLO_WORLD_SHA256 + tlv("33", der))), "9000");
    const otherDigest = hex(createHash("sha256").update("hello world!").digest());
    assert.equal(await send(card, "812D8001659E20" + otherDigest + "330040" + raw), "6D01");
  });

  it("verifies with a PUT peer key in a public-key container (85 05), in full-text mode 01", async () => {
    const peer = createECDH("prime256v1");
    const peerPoint = peer.generateKeys("hex", "uncompressed").toUpperCase();
    const card = await selectedCard();
    assert.equal(await send(card, "8124000203850105"), "9000");
    assert.equal(await send(card, "81D8800247344549438641" + peerPoint), "9000");
    assert.equal(await send(card, "8124010200"), "9000");
    const { sign, createPrivateKey } = await import("node:crypto");
    const privateKey = createPrivateKey({
      key: {
        kty: "EC",
        crv: "P-256",
        d: peer.getPrivateKey().toString("base64url"),
        x: Buffer.from(peerPoint.slice(2, 66), "hex").toString("base64url"),
        y: Buffer.from(peerPoint.slice(66), "hex").toString("base64url"),
      },
      format: "jwk",
    });
    const message = Buffer.from("server key exchange params");
    const signature = sign("sha256", message, { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("hex").toUpperCase();
    assert.equal(await send(card, "812C00010D850105A1010191020001920104"), "9000");
    assert.equal(await send(card, apdu("812D0001", tlv("9B", hex(message.subarray(0, 10))))), "9000");
    assert.equal(await send(card, apdu("812D8001", tlv("9B", hex(message.subarray(10))) + "330040" + signature)), "9000");
  });

  it("errors: empty container 6985, no signature on the last block 6A80, malformed signature 6A80, no session 6985", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "812C00010D850105A1010391020001920104"), "6985");
    assert.equal(await send(card, "812D8001229E20" + HELLO_WORLD_SHA256), "6985");
    assert.equal(await send(card, "812C00010D850101A1010391020001920104"), "9000");
    assert.equal(await send(card, "812D8001229E20" + HELLO_WORLD_SHA256), "6A80");
    assert.equal(await send(card, apdu("812D8001", "9E20" + HELLO_WORLD_SHA256 + tlv("33", "0102030405"))), "6A80");
  });
});

describe("card: GENERATE KEY PAIR and READ PUBLIC KEY", () => {
  it("READ PUBLIC KEY of key pair 01 (by 85 and by 84) is the point OpenSSL derives from its scalar", async () => {
    const card = await selectedCard();
    const expected = "344549438641" + publicPointOf(KEY01_SCALAR) + "9000";
    assert.equal(await send(card, "81CD000003850101"), expected);
    assert.equal(await send(card, "81CD000003840101"), expected);
    assert.equal(await send(card, apdu("81CD0000", tlv("74", hex("client-key")))), expected);
  });

  it("GENERATE KEY PAIR by label; a new pair each time; the pair signs", async () => {
    const objects: ProfileObject[] = [{ kind: "private-key", id: "09", label: "scratch", access: { update: true } }];
    const card = await selectedCard(objects);
    const first = await send(card, apdu("81B90000", tlv("74", hex("scratch"))));
    const second = await send(card, "81B9000003840109");
    assert.match(first, /^840109850109344549438641(04[0-9A-F]{128})9000$/);
    assert.notEqual(first, second);
    const point = second.slice(24, -4);
    assert.equal(await send(card, "81CD000003850109"), "344549438641" + point + "9000");
    assert.equal(await send(card, "812A00010D840109A1010391020001920104"), "9000");
    const signed = await send(card, "812B8001229E20" + HELLO_WORLD_SHA256);
    assert.ok(verifiesRaw(point, Buffer.from("hello world"), signed.slice(6, -4)));
  });

  it("a pair with its own public-key container (publicId) fills that container too", async () => {
    const objects: ProfileObject[] = [
      { kind: "private-key", id: "303031", publicId: "303032", access: { update: true } },
      { kind: "public-key", id: "303032" },
    ];
    const card = await selectedCard(objects);
    const generated = await send(card, "81B90000058403303031");
    const point = generated.slice(generated.indexOf("3445494386410") + 12, -4);
    const info = await send(card, "81CBC200058503303032");
    assert.ok(info.includes("4A0101"), `container 303032 is now activated: ${info}`);
    const read = await send(card, "81CD0000058503303032");
    assert.equal(read, "344549438641" + point + "9000");
  });

  it("errors: read-only container 6985, unknown 6A82, no reference 6A80, P1 6A86; READ of empty 6985, of unreadable 6985", async () => {
    const objects: ProfileObject[] = [
      ...testObjects(),
      { kind: "public-key", id: "0A", access: { read: false }, contents: publicPointOf(KEY01_SCALAR) },
    ];
    const card = await selectedCard(objects);
    assert.equal(await send(card, "81B9000003840101"), "6985");
    assert.equal(await send(card, "81B9000003840199"), "6A82");
    assert.equal(await send(card, "81B9000000"), "6A80");
    assert.equal(await send(card, "81B9010003840104"), "6A86");
    assert.equal(await send(card, "81CD000003850105"), "6985");
    assert.equal(await send(card, "81CD00000385010A"), "6985");
    assert.equal(await send(card, "81CD000003850199"), "6A82");
  });
});

describe("card: PUT PUBLIC KEY and COMPUTE DH", () => {
  it("COMPUTE DH before PUT PUBLIC KEY: 6985 (iotsafe.md §9.11); after it, OpenSSL's ECDH value", async () => {
    const card = await selectedCard();
    const generated = await send(card, "81B9000003840104");
    const cardPoint = generated.slice(24, -4);
    assert.equal(await send(card, "8146000006840104850105"), "6985");
    const peer = createECDH("prime256v1");
    const peerPoint = peer.generateKeys("hex", "uncompressed").toUpperCase();
    // Split over two UPDATEs: P1 00 then 80.
    const data = "344549438641" + peerPoint;
    assert.equal(await send(card, "8124000103850105"), "9000");
    assert.equal(await send(card, apdu("81D80001", data.slice(0, 40))), "9000");
    assert.equal(await send(card, apdu("81D88001", data.slice(40))), "9000");
    assert.equal(await send(card, "8124010100"), "9000");
    const expected = peer.computeSecret(Buffer.from(cardPoint, "hex")).toString("hex").toUpperCase();
    assert.equal(await send(card, "8146000006840104850105"), expected + "9000");
    // The order of the two references does not matter.
    assert.equal(await send(card, "8146000006850105840104"), expected + "9000");
  });

  it("errors: empty private container 6985, missing public reference 6A80, not a point 6A80, read-only target 6985, no session 6985", async () => {
    const objects: ProfileObject[] = [...testObjects(), { kind: "public-key", id: "0B", contents: publicPointOf(KEY01_SCALAR) }];
    const card = await selectedCard(objects);
    assert.equal(await send(card, "8146000006840104850101"), "6985");
    assert.equal(await send(card, "8146000003840101"), "6A80");
    assert.equal(await send(card, "81D8800247344549438641" + "04" + "00".repeat(64)), "6985");
    assert.equal(await send(card, "8124000203850105"), "9000");
    assert.equal(await send(card, "81D8800247344549438641" + "04" + "11".repeat(64)), "6A80");
    assert.equal(await send(card, "812400030385010B"), "6985");
    assert.equal(await send(card, "8124010300"), "6A86");
  });

  it("DH with the persistent key 01 and a stored peer key", async () => {
    const peer = createECDH("prime256v1");
    const peerPoint = peer.generateKeys("hex", "uncompressed");
    const objects: ProfileObject[] = [
      { kind: "private-key", id: "01", contents: KEY01_SCALAR },
      { kind: "public-key", id: "05", contents: peerPoint },
    ];
    const card = await selectedCard(objects);
    const expected = peer.computeSecret(Buffer.from(publicPointOf(KEY01_SCALAR), "hex")).toString("hex").toUpperCase();
    assert.equal(await send(card, "8146000006840101850105"), expected + "9000");
  });
});

describe("card: COMPUTE PRF and COMPUTE HKDF", () => {
  const labelSeed = hex("master secret") + "11".repeat(64);

  it("mode 01 (PSK in the store): TLS 1.2 PRF over the RFC 4279 pre-master of the PSK", async () => {
    const card = await selectedCard();
    const psk = Buffer.from(PSK06, "hex");
    const premaster = Buffer.concat([Buffer.of(0, psk.length), Buffer.alloc(psk.length), Buffer.of(0, psk.length), psk]);
    const expected = pSha256(premaster, Buffer.from(labelSeed, "hex"), 48);
    assert.equal(await send(card, apdu("81480100", "860106" + tlv("D2", labelSeed) + "D30130")), hex(expected) + "9000");
  });

  it("mode 02 (PSK + ECDHE): RFC 5489 pre-master with the D4 secret", async () => {
    const card = await selectedCard();
    const psk = Buffer.from(PSK06, "hex");
    const ecdhe = Buffer.alloc(32, 0x5a);
    const premaster = Buffer.concat([Buffer.of(0, 32), ecdhe, Buffer.of(0, psk.length), psk]);
    const expected = pSha256(premaster, Buffer.from(labelSeed, "hex"), 48);
    assert.equal(await send(card, apdu("81480200", "860106" + tlv("D4", hex(ecdhe)) + tlv("D2", labelSeed) + "D30130")), hex(expected) + "9000");
  });

  it("PRF errors: no D2 6A80, no D3 6A80, mode 00 without D1 6A80, unknown secret 6A82, P1 03 6A86", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, apdu("81480000", tlv("D1", "01") + "D30130")), "6A80");
    assert.equal(await send(card, apdu("81480000", tlv("D1", "01") + tlv("D2", labelSeed))), "6A80");
    assert.equal(await send(card, apdu("81480000", tlv("D2", labelSeed) + "D30130")), "6A80");
    assert.equal(await send(card, apdu("81480100", "860199" + tlv("D2", labelSeed) + "D30130")), "6A82");
    assert.equal(await send(card, apdu("81480300", tlv("D2", labelSeed) + "D30130")), "6A86");
  });

  it("HKDF-Extract: RFC 5869 test case 1 PRK; SHA-384 gives 48 bytes; empty salt or IKM 6A80", async () => {
    const card = await selectedCard();
    const ikm = "0B".repeat(22);
    const salt = "000102030405060708090A0B0C";
    const prk = "077709362C2E32DF0DDC3F0DC47BBA6390B6C73BB50F9C3122EC844AD7C2B3E5";
    assert.equal(await send(card, apdu("814A0000", tlv("D1", ikm) + tlv("D5", salt) + "91020001")), prk + "9000");
    const prk384 = createHmac("sha384", Buffer.from(salt, "hex")).update(Buffer.from(ikm, "hex")).digest();
    assert.equal(await send(card, apdu("814A0000", tlv("D1", ikm) + tlv("D5", salt) + "91020002")), hex(prk384) + "9000");
    assert.equal(await send(card, apdu("814A0000", tlv("D1", ikm) + "D500" + "91020001")), "6A80");
    assert.equal(await send(card, apdu("814A0000", tlv("D1", ikm) + "91020001")), "6A80");
    assert.equal(await send(card, apdu("814A0000", "D100" + tlv("D5", salt))), "6A80");
    assert.equal(await send(card, apdu("814A0000", tlv("D1", ikm) + tlv("D5", salt) + "91020008")), "6A80");
  });
});

describe("card: generic errors", () => {
  it("an unknown INS with the applet selected is 6D00; a malformed APDU 6700; an extended APDU 6700; bad TLV 6A80", async () => {
    const card = await selectedCard();
    assert.equal(await send(card, "81FE000000"), "6D00");
    assert.equal(await send(card, "81CB"), "6700");
    assert.equal(await send(card, "81CBC3000583010200"), "6700"); // Lc 05 but 4 bytes follow
    assert.equal(await send(card, "81CBC30000000383010200"), "6700");
    assert.equal(await send(card, "81CBC30003830502"), "6A80"); // TLV longer than the data
  });
});
