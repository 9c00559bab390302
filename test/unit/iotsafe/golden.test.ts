/**
 * Byte-exact APDU sequences from iotsafe.md §5 (worked examples) and §10 (traces). The expected
 * strings are copied from the document; answers are the ones the document shows (with filler
 * where it elides bytes).
 */
import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { objectId } from "../../../modules/iotsafe/objects.js";
import * as assert from "../../lib/portable/assert.js";
import { clientOver, HELLO_DIGEST, JWT_R, JWT_S, OPEN_CHANNEL_1 } from "./helpers.js";

const hex = (b: Uint8Array) => toHex(b).toUpperCase();

describe("iotsafe golden: §5.1 sign a SHA-256 digest with private key 01", () => {
  it("sends exactly steps 1–8 and converts r‖s to the 72-byte DER of the worked example", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "6A86"], // 3: close a stale session 1 (error ignored)
      ["812A00010D840101A1010391020001920104", "9000"], // 4: SIGN INIT
      [`812B8001229E20${HELLO_DIGEST}`, "6143"], // 5: SIGN UPDATE, last block
      ["81C0000043", `330040${JWT_R}${JWT_S}9000`], // 6: GET RESPONSE
      ["812A010100", "9000"], // 7: close session 1
      ["0070800100", "9000"], // 8: close channel 1
    ]);
    const signature = await client.signDigest(objectId("01"), fromHex(HELLO_DIGEST));
    await client.close();
    card.assertDone();
    assert.equal(hex(signature.raw), JWT_R + JWT_S);
    // "both halves start with a byte ≥ 0x80, so each INTEGER gets a 00 prefix … 30 46 02 21 00 r 02 21 00 s, 72 bytes"
    assert.equal(hex(signature.der), `3046022100${JWT_R}022100${JWT_S}`);
    assert.equal(signature.der.length, 72);
    assert.equal(signature.lengthForm, "two-byte");
  });

  it("accepts the one-byte-length applet: 6142 then 3340…", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      ["812A00010D840101A1010391020001920104", "9000"],
      [`812B8001229E20${HELLO_DIGEST}`, "6142"],
      ["81C0000042", `3340${JWT_R}${JWT_S}9000`],
      ["812A010100", "9000"],
    ]);
    const signature = await client.signDigest(objectId("01"), fromHex(HELLO_DIGEST));
    card.assertDone();
    assert.equal(hex(signature.raw), JWT_R + JWT_S);
    assert.equal(signature.lengthForm, "one-byte");
  });

  it("signs with the 3-byte ASCII ID \"006\" of the ZARIOT SIM", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      ["812A00010F8403303036A1010391020001920104", "9000"],
      [`812B8001229E20${HELLO_DIGEST}`, "6143"],
      ["81C0000043", `330040${JWT_R}${JWT_S}9000`],
      ["812A010100", "9000"],
    ]);
    await client.signDigest(objectId("303036"), fromHex(HELLO_DIGEST));
    card.assertDone();
  });
});

describe("iotsafe golden: §5.2 read a certificate file (file ID 02)", () => {
  // 875 bytes (0x036B), a DER SEQUENCE 30 82 03 67 …, answered 240 bytes at a time like the simulator.
  const certificate = new Uint8Array(875);
  certificate.set([0x30, 0x82, 0x03, 0x67]);
  for (let i = 4; i < certificate.length; i++) certificate[i] = (i * 7) & 0xff;
  const chunk = (from: number) => hex(certificate.subarray(from, Math.min(875, from + 240)));

  it("gets the size from GET DATA C3 (bare answer) and reads with the offset in P1P2", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830102", "830102600101 4A0101 210102 2002036B 9000"],
      ["81B000000383010200", chunk(0) + "9000"],
      ["81B000F00383010200", chunk(240) + "9000"],
      ["81B001E00383010200", chunk(480) + "9000"],
      ["81B002D00383010200", chunk(720) + "9000"],
    ]);
    const file = await client.readFile(objectId("02"));
    card.assertDone();
    assert.deepEqual(file, certificate);
  });

  it("skips an outer C3 header and advances by the bytes actually returned", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830102", "C310 830102 600101 4A0101 210102 2002036B 9000"],
      ["81B000000383010200", hex(certificate.subarray(0, 100)) + "9000"], // a short answer (Sequans truncation)
      ["81B000640383010200", hex(certificate.subarray(100, 875)).slice(0, 2 * 256) + "9000"],
      ["81B001640383010200", hex(certificate.subarray(356, 612)) + "9000"],
      ["81B002640383010200", hex(certificate.subarray(612, 875)).slice(0, 2 * 256) + "9000"],
      ["81B003640383010200", hex(certificate.subarray(868, 875)) + "9000"],
    ]);
    assert.deepEqual(await client.readFile(objectId("02")), certificate);
    card.assertDone();
  });

  it("falls back to the DER header when the applet has no file-info GET DATA (6D00)", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830102", "6D00"],
      ["81B000000383010200", chunk(0) + "9000"],
      ["81B000F00383010200", chunk(240) + "9000"],
      ["81B001E00383010200", chunk(480) + "9000"],
      ["81B002D00383010200", chunk(720) + "9000"],
    ]);
    assert.deepEqual(await client.readFile(objectId("02")), certificate);
    card.assertDone();
  });

  it("asks for smaller chunks when configured (Orange's Le = 50 for Sequans)", async () => {
    const small = fromHex("3003020101");
    const { card, client } = clientOver(
      [
        ...OPEN_CHANNEL_1,
        ["81CBC30003830102", "8301022002 0005 9000"],
        ["81B000000383010232", hex(small) + "9000"],
      ],
      { readChunkLength: 50 },
    );
    assert.deepEqual(await client.readFile(objectId("02")), small);
    card.assertDone();
  });
});

describe("iotsafe golden: §5.3 other sequences", () => {
  const X = "11".repeat(32);
  const Y = "22".repeat(32);

  it("GET RANDOM 32: 8184000020", async () => {
    const { card, client } = clientOver([...OPEN_CHANNEL_1, ["8184000020", "5A".repeat(32) + "9000"]]);
    const random = await client.getRandom(32);
    assert.equal(random.length, 32);
    card.assertDone();
  });

  it("key pair in container 04: 81B9000003840104 → 61xx → GET RESPONSE (77 bytes) → 84..85..34 45 49 43 86 41 04 X Y", async () => {
    const answer = `840104 850104 3445494386410 4${X}${Y}`.split(" ").join("");
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81B9000003840104", "614D"],
      ["81C000004D", answer + "9000"],
    ]);
    const pair = await client.generateKeyPair(objectId("04"));
    card.assertDone();
    assert.equal(hex(pair.publicKey), `04${X}${Y}`);
    assert.equal(hex(pair.privateKeyId!), "04");
    assert.equal(hex(pair.publicKeyId!), "04");
  });

  it("reads a public key: 81CD000003850104 → 34 45 49 43 86 41 04 X Y", async () => {
    const { card, client } = clientOver([...OPEN_CHANNEL_1, ["81CD000003850104", `34454943864104${X}${Y}9000`]]);
    assert.equal(hex(await client.readPublicKey(objectId("04"))), `04${X}${Y}`);
    card.assertDone();
  });

  it("puts the peer ECDH point into container 05 (open 8124000203850105, update 81D88002 47…, close 8124010200)", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["8124010200", "6A86"], // stale session closed first
      ["8124000203850105", "9000"],
      [`81D880024734454943864104${X}${Y}`, "9000"],
      ["8124010200", "9000"],
    ]);
    await client.putPublicKey(objectId("05"), fromHex(`04${X}${Y}`));
    card.assertDone();
  });

  it("computes ECDH: 8146000006840104850105 → the 32-byte x-coordinate", async () => {
    const { card, client } = clientOver([...OPEN_CHANNEL_1, ["8146000006840104850105", "AB".repeat(32) + "9000"]]);
    const secret = await client.computeDh(objectId("04"), objectId("05"));
    assert.equal(hex(secret), "AB".repeat(32));
    card.assertDone();
  });
});

describe("iotsafe golden: §10 traces", () => {
  it("ZARIOT key generation: 81B90000058403303031 → 6151 → 81C0000051 → IDs 303031 / 303032 and the point", async () => {
    const x = "8782CB26" + "33".repeat(24) + "CA58D936";
    const y = "789A264A" + "44".repeat(24) + "FE53D64F";
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81B90000058403303031", "6151"],
      ["81C0000051", `840330303185033030323445494386410 4${x}${y}9000`.split(" ").join("")],
    ]);
    const pair = await client.generateKeyPair(objectId("303031"));
    card.assertDone();
    assert.equal(hex(pair.privateKeyId!), "303031");
    assert.equal(hex(pair.publicKeyId!), "303032"); // the applet changed the ID: read it back, never assume
    assert.equal(hex(pair.publicKey), `04${x}${y}`);
  });

  it("m33mu session with 2-byte IDs: 8184000008, 81B900000484021234, 81CD00000485021234, 81CBC3000483020200", async () => {
    const point = "04" + "55".repeat(64);
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["8184000008", "0102030405060708" + "9000"],
      ["81B900000484021234", `34454943864104${point.slice(2)}9000`], // m33mu answers only the 34 TLV
      ["81CD00000485021234", `34454943864104${point.slice(2)}9000`],
      ["81CBC3000483020200", "C30E 83020200 600101 4A0101 20020300 9000"],
    ]);
    assert.equal((await client.getRandom(8)).length, 8);
    const pair = await client.generateKeyPair(objectId("1234"));
    assert.equal(hex(pair.publicKey), point.toUpperCase());
    assert.equal(pair.privateKeyId, undefined);
    assert.equal(hex(await client.readPublicKey(objectId("1234"))), point.toUpperCase());
    const info = await client.getObjectInfo("file", objectId("0200"));
    assert.equal(hex(info.id!), "0200");
    assert.equal(info.fileSize, 0x0300);
    card.assertDone();
  });

  it("atsign verify on session 2: update 812D800265 9E20<hash> 330040<sig>; 9000 → true, 6D01 → false", async () => {
    const steps = (answer: string) => [
      ["812C010200", "6A86"],
      ["812C00020F8503303032A1010391020001920104", "9000"],
      [`812D8002659E20${HELLO_DIGEST}330040${JWT_R}${JWT_S}`, answer],
      ["812C010200", "9000"],
    ] as [string, string][];
    const valid = clientOver([...OPEN_CHANNEL_1, ...steps("9000")]);
    assert.equal(await valid.client.verifySignature(objectId("303032"), { digest: fromHex(HELLO_DIGEST) }, fromHex(JWT_R + JWT_S)), true);
    valid.card.assertDone();
    const invalid = clientOver([...OPEN_CHANNEL_1, ...steps("6D01")]);
    // The DER form of the same signature is accepted too.
    const der = fromHex(`3046022100${JWT_R}022100${JWT_S}`);
    assert.equal(await invalid.client.verifySignature(objectId("303032"), { digest: fromHex(HELLO_DIGEST) }, der), false);
    invalid.card.assertDone();
  });

  it("atsign PRF: 8148000032 … D30110 → 6110 → GET RESPONSE of 16 bytes", async () => {
    // Lc 0x32 = 50 = D1 L secret (2+32) + D2 L label‖seed (2+11) + D3 01 10 (3)
    const secret = "C0".repeat(32);
    const labelSeed = "6B657920657870616E7369"; // 11 bytes
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      [`8148000032D120${secret}D20B${labelSeed}D30110`, "6110"],
      ["81C0000010", "7E".repeat(16) + "9000"],
    ]);
    const output = await client.computePrf({ mode: "secret", secret: fromHex(secret), labelAndSeed: fromHex(labelSeed), length: 16 });
    assert.equal(hex(output), "7E".repeat(16));
    card.assertDone();
  });

  it("atsign read public key: 6147 then GET RESPONSE 81C0000047", async () => {
    const point = "04" + "66".repeat(64);
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CD0000058503303032", "6147"],
      ["81C0000047", `34454943864104${point.slice(2)}9000`],
    ]);
    assert.equal(hex(await client.readPublicKey(objectId("303032"))), point.toUpperCase());
    card.assertDone();
  });
});
