import { fromHex, toHex } from "../../../modules/bytes/bytes.js";
import {
  ClassNotSupportedError,
  ConditionsNotSatisfiedError,
  DataInvalidatedError,
  FunctionNotSupportedError,
  IncompatibleObjectError,
  IncorrectDataError,
  IncorrectParametersError,
  InstructionNotSupportedError,
  InsufficientMemoryError,
  IotSafeArgumentError,
  IotSafeResponseError,
  IotSafeStatusError,
  ObjectNotFoundError,
  RemoteAdminError,
  SecurityStatusError,
  SignatureMismatchError,
  StoreIntegrityError,
  UnknownAppletError,
  WrongLengthError,
} from "../../../modules/iotsafe/errors.js";
import { objectId, objectLabel } from "../../../modules/iotsafe/objects.js";
import { ApplicationNotFoundError } from "../../../modules/sim/errors.js";
import { ManageChannelAccess } from "../../../modules/sim/manage-channel.js";
import { IotSafeClient } from "../../../modules/iotsafe/client.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { ScriptedTransport } from "../sim/scripted-transport.js";
import { clientOver, HELLO_DIGEST, JWT_R, JWT_S, OPEN_CHANNEL_1 } from "./helpers.js";

const hex = (b: Uint8Array) => toHex(b).toUpperCase();
const SIGN_INIT_01 = "812A00010D840101A1010391020001920104";
const SIGN_UPDATE = `812B8001229E20${HELLO_DIGEST}`;

describe("iotsafe client: class byte", () => {
  it("retries once with 0n on 6E00 and keeps 0n for the rest of the card's life", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CB000044", "6E00"],
      ["01CB000044", "100101 9000"],
      ["0184000004", "01020304 9000"],
    ]);
    const info = await client.getApplicationInfo();
    assert.equal(info.simAllianceVersion, 1);
    assert.equal(client.classStyle, "interindustry");
    await client.getRandom(4);
    card.assertDone();
  });

  it("throws ClassNotSupportedError naming the command when both forms answer 6E00, and keeps its setting", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["8184000004", "6E00"],
      ["0184000004", "6E00"],
    ]);
    await assert.rejects(client.getRandom(4), ClassNotSupportedError, /GET RANDOM: 6E00 invalid class/);
    assert.equal(client.classStyle, "proprietary");
    card.assertDone();
  });

  it("starts with 0n when configured and flips to 8n on 6E00", async () => {
    const { card, client } = clientOver(
      [
        ...OPEN_CHANNEL_1,
        ["0184000002", "6E00"],
        ["8184000002", "0102 9000"],
      ],
      { classStyle: "interindustry" },
    );
    await client.getRandom(2);
    assert.equal(client.classStyle, "proprietary");
    card.assertDone();
  });
});

describe("iotsafe client: every error status word becomes a typed error naming command, object and meaning", () => {
  const cases: [string, new (...args: never[]) => Error, RegExp][] = [
    ["6A82", ObjectNotFoundError, /not found/],
    ["6A88", ObjectNotFoundError, /not found/],
    ["6985", ConditionsNotSatisfiedError, /conditions of use/],
    ["6982", SecurityStatusError, /security status/],
    ["6700", WrongLengthError, /wrong length/],
    ["6A80", IncorrectDataError, /incorrect data/],
    ["6A86", IncorrectParametersError, /P1\/P2/],
    ["6B00", IncorrectParametersError, /P1\/P2/],
    ["6A81", FunctionNotSupportedError, /not supported/],
    ["6D00", InstructionNotSupportedError, /invalid instruction/],
    ["6D01", SignatureMismatchError, /signature does not match/],
    ["6400", StoreIntegrityError, /integrity/],
    ["6981", IncompatibleObjectError, /file structure/],
    ["6984", DataInvalidatedError, /invalidated/],
    ["6989", RemoteAdminError, /remote admin/],
    ["6A84", InsufficientMemoryError, /insufficient memory/],
    ["6F00", UnknownAppletError, /unknown error/],
    ["6999", IotSafeStatusError, /command not allowed/],
    ["6300", IotSafeStatusError, /more data/],
  ];
  for (const [sw, ErrorClass, meaning] of cases) {
    it(`${sw} → ${ErrorClass.name}`, async () => {
      const { client } = clientOver([...OPEN_CHANNEL_1, ["81CD000003850107", sw]]);
      const error = await assert.rejects(client.readPublicKey(objectId("07")), ErrorClass);
      assert.ok(error instanceof IotSafeStatusError);
      assert.match(error.message, new RegExp(`^READ PUBLIC KEY \\(public key id 07\\): ${sw} `));
      assert.match(error.message, meaning);
      assert.equal((error as IotSafeStatusError).status.hex, sw);
      assert.equal((error as IotSafeStatusError).command, "READ PUBLIC KEY");
      assert.equal((error as IotSafeStatusError).object, "public key id 07");
    });
  }

  it("names labels in errors", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CBC1000674046B657931", "6A82"]]);
    await assert.rejects(client.getObjectInfo("privateKey", objectLabel("key1")), ObjectNotFoundError, /GET DATA private key info \(private key label "key1"\): 6A82/);
  });

  it("reports a missing applet (1NCE trace: 019000, 6A82 for every AID) and closes the channel", async () => {
    const { card, client } = clientOver([
      ["0070000001", "019000"],
      ["01A4040007A0000005590010", "6A82"],
      ["01A4040007A0000002480400", "6A82"],
      ["01A404000FA00000003053F12401770101495341", "6A82"],
      ["0070800100", "9000"],
    ]);
    await assert.rejects(client.getRandom(8), ApplicationNotFoundError, /A0000005590010 → 6A82/);
    card.assertDone();
  });
});

describe("iotsafe client: signature sessions", () => {
  it("closes the session after an UPDATE error and reports the UPDATE's typed error", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      [SIGN_INIT_01, "9000"],
      [SIGN_UPDATE, "6985"],
      ["812A010100", "9000"],
    ]);
    await assert.rejects(client.signDigest(objectId("01"), fromHex(HELLO_DIGEST)), ConditionsNotSatisfiedError, /COMPUTE SIGNATURE UPDATE \(private key id 01\): 6985/);
    card.assertDone();
  });

  it("checks the INIT status word (wolfSSL ignores it) and still closes", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "6A86"],
      [SIGN_INIT_01, "6A82"],
      ["812A010100", "6A86"],
    ]);
    await assert.rejects(client.signDigest(objectId("01"), fromHex(HELLO_DIGEST)), ObjectNotFoundError, /COMPUTE SIGNATURE INIT/);
    card.assertDone();
  });

  it("uses the configured session number", async () => {
    const { card, client } = clientOver(
      [
        ...OPEN_CHANNEL_1,
        ["812A010000", "9000"],
        ["812A00000D840101A1010391020001920104", "9000"],
        [`812B8000229E20${HELLO_DIGEST}`, `330040${JWT_R}${JWT_S}9000`],
        ["812A010000", "9000"],
      ],
      { sessions: { sign: 0 } },
    );
    await client.signDigest(objectId("01"), fromHex(HELLO_DIGEST));
    card.assertDone();
  });

  it("reports a malformed signature answer as IotSafeResponseError naming the command", async () => {
    const { client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      [SIGN_INIT_01, "9000"],
      [SIGN_UPDATE, "330040" + "00".repeat(10) + "9000"],
      ["812A010100", "9000"],
    ]);
    await assert.rejects(client.signDigest(objectId("01"), fromHex(HELLO_DIGEST)), IotSafeResponseError, /COMPUTE SIGNATURE UPDATE \(private key id 01\)/);
  });

  it("accepts a DER signature inside tag 33", async () => {
    const der = `3046022100${JWT_R}022100${JWT_S}`;
    const { client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      [SIGN_INIT_01, "9000"],
      [SIGN_UPDATE, `3348${der}9000`],
      ["812A010100", "9000"],
    ]);
    const signature = await client.signDigest(objectId("01"), fromHex(HELLO_DIGEST));
    assert.equal(hex(signature.raw), JWT_R + JWT_S);
    assert.equal(hex(signature.der), der);
  });

  it("sends VERIFY UPDATE's tag 33 in the form the applet used in its sign answer", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      [SIGN_INIT_01, "9000"],
      [SIGN_UPDATE, `3340${JWT_R}${JWT_S}9000`],
      ["812A010100", "9000"],
      ["812C010200", "9000"],
      ["812C00020D850101A1010391020001920104", "9000"],
      [`812D8002649E20${HELLO_DIGEST}3340${JWT_R}${JWT_S}`, "9000"],
      ["812C010200", "9000"],
    ]);
    const signature = await client.signDigest(objectId("01"), fromHex(HELLO_DIGEST));
    assert.ok(await client.verifySignature(objectId("01"), { digest: fromHex(HELLO_DIGEST) }, signature.der));
    card.assertDone();
  });

  it("signs a message in mode 01, split into 9B blocks of at most 127 bytes (P1 00, then 80)", async () => {
    const message = new Uint8Array(200).fill(0x61);
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      ["812A00010D840101A1010191020001920104", "9000"],
      [`812B0001819B7F${"61".repeat(127)}`, "9000"],
      [`812B80014B9B49${"61".repeat(73)}`, `330040${JWT_R}${JWT_S}9000`],
      ["812A010100", "9000"],
    ]);
    const signature = await client.signMessage(objectId("01"), message);
    assert.equal(hex(signature.raw), JWT_R + JWT_S);
    card.assertDone();
  });

  it("refuses a digest that fits no hash, before sending anything", async () => {
    const { card, client } = clientOver([]);
    await assert.rejects(client.signDigest(objectId("01"), new Uint8Array(31)), IotSafeArgumentError, /31 bytes/);
    await assert.rejects(client.signDigest(objectId("01"), new Uint8Array(48), { hash: "sha256" }), IotSafeArgumentError);
    assert.equal(card.sent.length, 0);
  });

  it("sends SHA-384 as 91 02 00 02", async () => {
    const digest = "AA".repeat(48);
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      ["812A00010D840101A1010391020002920104", "9000"],
      [`812B8001329E30${digest}`, `330060${"01".repeat(96)}9000`],
      ["812A010100", "9000"],
    ]);
    const signature = await client.signDigest(objectId("01"), fromHex(digest), { scalarLength: 48 });
    assert.equal(signature.raw.length, 96);
    card.assertDone();
  });
});

describe("iotsafe client: GET DATA", () => {
  it("parses the 68-byte application info of iotsafe.md §3.2", async () => {
    const info = "1001 01" + "1120" + "41".repeat(32) + "B101 08" + "B201 04" + "B301 04" + "B401 02" + "9001 0F" + "9102 0007" + "9201 04" + "9301 01" + "9401 03" + "B701 04";
    assert.equal(fromHex(info).length, 68);
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CB000044", info + "9000"]]);
    const app = await client.getApplicationInfo();
    assert.equal(app.simAllianceVersion, 1);
    assert.equal(app.proprietaryId!.length, 32);
    assert.equal(app.maxFiles, 8);
    assert.equal(app.maxPrivateKeys, 4);
    assert.equal(app.maxPublicKeys, 4);
    assert.equal(app.maxSecretKeys, 2);
    assert.equal(app.cryptoFunctions, 0x0f);
    assert.equal(app.hashAlgorithms, 0x0007);
    assert.equal(app.signatureAlgorithms, 0x04);
    assert.equal(app.keyAgreementAlgorithms, 0x01);
    assert.equal(app.keyDerivationAlgorithms, 0x03);
    assert.equal(app.maxSessions, 4);
  });

  it("accepts the one-byte hash field of a buggy applet (iotsafe.md §9.7)", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CB000044", "100101 910101 9000"]]);
    assert.equal((await client.getApplicationInfo()).hashAlgorithms, 1);
  });

  it("pages the object list on 6300 with P2 = 01 and splits groups holding several objects", async () => {
    const page1 = "C10F 840101 600101 4A0101 4B0113 4E0103" + "C30A 830102 600101 2002 036B";
    const page2 = "C313 830103 600101 2002 0200 730466696C65 8301 04" + "C4 0C 86 01 05 4B01A0 6101 08 9401 01";
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CB010000", page1 + "6300"],
      ["81CB010100", page2 + "9000"],
    ]);
    // the second C3 group holds two files: 03 (size 0200), then a labelled file with ID 04.
    const list = await client.listObjects();
    card.assertDone();
    assert.deepEqual(
      list.map((o) => [o.kind, o.id ? hex(o.id) : "", o.fileSize ?? -1]),
      [
        ["privateKey", "01", -1],
        ["file", "02", 0x036b],
        ["file", "03", 0x0200],
        ["file", "04", -1],
        ["secretKey", "05", -1],
      ],
    );
    assert.equal(list[0]!.keyType, 0x13);
    assert.equal(list[0]!.keyUsage, 0x03);
    assert.equal(list[3]!.label && toHex(list[3]!.label), "66696c65");
    assert.equal(list[4]!.keyDerivationAlgorithms, 1);
  });

  it("bounds the number of object-list pages", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CB010000", "6300"], ["81CB010100", "6300"]], { maxObjectListPages: 2 });
    await assert.rejects(client.listObjects(), IotSafeResponseError, /2 pages/);
  });

  it("parses private key info C1 with label, optional algorithms, by tag not position", async () => {
    const c1 = "C122 7404 6B657931 8401 01 4E01 02 4B01 13 6001 00 4A01 01 6101 05 9201 04 9102 0001 6F01 01";
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CBC10003840101", c1 + "9000"]]);
    const info = await client.getObjectInfo("privateKey", objectId("01"));
    assert.equal(toHex(info.label!), "6b657931");
    assert.equal(info.keyUsage, 2);
    assert.equal(info.state, 1);
    assert.equal(info.cryptoFunctions, 5);
    assert.equal(info.hashAlgorithms, 1);
    assert.equal(info.keyAgreementAlgorithms, 1);
  });

  it("reports a malformed object info as IotSafeResponseError", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CBC30003830102", "C3108301 9000"]]);
    await assert.rejects(client.getObjectInfo("file", objectId("02")), IotSafeResponseError, /GET DATA file info \(file id 02\)/);
  });
});

describe("iotsafe client: READ FILE edge cases", () => {
  it("falls back to the object list for the size when the file is not DER", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830103", "6A86"],
      ["81B000000383010300", "48656C6C6F" + "9000"],
      ["81CB010000", "C30A 830103 600101 2002 0005" + "9000"],
    ]);
    assert.equal(toHex(await client.readFile(objectId("03"))), "48656c6c6f");
    card.assertDone();
  });

  it("fails clearly when no size can be found", async () => {
    const { client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830103", "6D00"],
      ["81B000000383010300", "48656C6C6F" + "9000"],
      ["81CB010000", "6D00"],
    ]);
    await assert.rejects(client.readFile(objectId("03")), IotSafeResponseError, /cannot determine the file size/);
  });

  it("does not fall back when the file does not exist (6A82)", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CBC30003830109", "6A82"]]);
    await assert.rejects(client.readFile(objectId("09")), ObjectNotFoundError, /file id 09/);
  });

  it("stops with an error on an empty answer before the declared size", async () => {
    const { client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830102", "8301022002 0010 9000"],
      ["81B000000383010200", "0102030405 9000"],
      ["81B000050383010200", "9000"],
    ]);
    await assert.rejects(client.readFile(objectId("02")), IotSafeResponseError, /ended at 5 of 16/);
  });

  it("accepts 6282 (end of file) with data, and trims data past the declared size", async () => {
    const { client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830102", "8301022002 0004 9000"],
      ["81B000000383010200", "0102030400000000 6282"],
    ]);
    assert.equal(toHex(await client.readFile(objectId("02"))), "01020304");
  });

  it("refuses files over the size limit before reading them", async () => {
    const { card, client } = clientOver([...OPEN_CHANNEL_1, ["81CBC30003830102", "8301022002 4000 9000"]], { maxFileSize: 4096 });
    await assert.rejects(client.readFile(objectId("02")), IotSafeResponseError, /16384 bytes exceeds the limit of 4096/);
    card.assertDone();
  });

  it("refuses an oversized DER header in the fallback", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CBC30003830102", "6D00"], ["81B000000383010200", "3083FFFFFF00 9000"]], { maxFileSize: 4096 });
    await assert.rejects(client.readFile(objectId("02")), IotSafeResponseError, /exceeds the limit/);
  });
});

describe("iotsafe client: random, keys, derivation", () => {
  it("splits GET RANDOM above 256 bytes and accepts 6300 (Thales)", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["8184000000", "01".repeat(256) + "6300"],
      ["8184000004", "02020202 9000"],
    ]);
    const random = await client.getRandom(260);
    assert.equal(random.length, 260);
    assert.equal(random[259], 2);
    card.assertDone();
  });

  it("asks again when the card returns fewer random bytes, refuses more", async () => {
    const short = clientOver([...OPEN_CHANNEL_1, ["8184000008", "01020304 9000"], ["8184000004", "05060708 9000"]]);
    assert.equal(toHex(await short.client.getRandom(8)), "0102030405060708");
    const long = clientOver([...OPEN_CHANNEL_1, ["8184000002", "010203 9000"]]);
    await assert.rejects(long.client.getRandom(2), IotSafeResponseError, /got 3/);
    await assert.rejects(long.client.getRandom(0), IotSafeArgumentError);
  });

  it("reads the public key back when GENERATE KEY PAIR answers without one", async () => {
    const point = "04" + "77".repeat(64);
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81B9000003840104", "840104 850106 9000"],
      ["81CD000003850106", `34454943864104${point.slice(2)}9000`],
    ]);
    const pair = await client.generateKeyPair(objectId("04"));
    assert.equal(hex(pair.publicKey), point.toUpperCase());
    assert.equal(hex(pair.publicKeyId!), "06");
    card.assertDone();
  });

  it("gives key generation its long timeout and ordinary commands the default", async () => {
    const point = "04" + "77".repeat(64);
    const { card, client } = clientOver(
      [...OPEN_CHANNEL_1, ["81B9000003840104", `34454943864104${point.slice(2)}9000`], ["8184000001", "01 9000"]],
      { timeouts: { keyGeneration: 60000, default: 3000 } },
    );
    await client.generateKeyPair(objectId("04"));
    await client.getRandom(1);
    assert.deepEqual(card.timeouts.slice(2), [60000, 3000]);
  });

  it("refuses a public-key template without an EC point", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["81CD000003850104", "3405 4903 8701 00 9000"]]);
    await assert.rejects(client.readPublicKey(objectId("04")), IotSafeResponseError, /no EC point/);
  });

  it("puts the peer key before COMPUTE DH (iotsafe.md §2.5)", async () => {
    const point = "04" + "88".repeat(64);
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["8124010200", "9000"],
      ["8124000203850105", "9000"],
      [`81D880024734454943864104${point.slice(2)}`, "9000"],
      ["8124010200", "9000"],
      ["8146000006840104850105", "CD".repeat(32) + "9000"],
    ]);
    assert.equal(hex(await client.computeDhWithPeer(objectId("04"), objectId("05"), fromHex(point))), "CD".repeat(32));
    card.assertDone();
  });

  it("refuses a PUT PUBLIC KEY of something that is not an uncompressed point", async () => {
    const { client } = clientOver([]);
    await assert.rejects(client.putPublicKey(objectId("05"), fromHex("02" + "11".repeat(32))), Error, /uncompressed point/);
  });

  it("sends HKDF-Extract with an all-zero salt when the salt is empty and checks the PRK length (wolfSSL #7175)", async () => {
    const ikm = "0B".repeat(22);
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      [`814A00004ED116${ikm}D530${"00".repeat(48)}91020002`, "EE".repeat(48) + "9000"],
      [`814A00003ED116${ikm}D520${"00".repeat(32)}91020001`, "EE".repeat(48) + "9000"],
    ]);
    assert.equal((await client.computeHkdfExtract({ ikm: fromHex(ikm), salt: new Uint8Array(0), hash: "sha384" })).length, 48);
    await assert.rejects(client.computeHkdfExtract({ ikm: fromHex(ikm), salt: new Uint8Array(0) }), IotSafeResponseError, /48 bytes, expected 32/);
    card.assertDone();
  });

  it("sends PRF mode 01 with the PSK's ID and mode 02 with the pre-master secret", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["814801000C860107D20461626364D30108", "11".repeat(8) + "9000"],
      ["8148020010860107D4020102D20461626364D30104", "22".repeat(4) + "9000"],
    ]);
    const labelAndSeed = fromHex("61626364");
    assert.equal((await client.computePrf({ mode: "psk", secretKey: objectId("07"), labelAndSeed, length: 8 })).length, 8);
    assert.equal((await client.computePrf({ mode: "psk-ecdhe", secretKey: objectId("07"), preMasterSecret: fromHex("0102"), labelAndSeed, length: 4 })).length, 4);
    card.assertDone();
  });

  it("refuses a PRF answer of the wrong length", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["8148000009D10101D20161D30108", "11".repeat(7) + "9000"]]);
    await assert.rejects(client.computePrf({ mode: "secret", secret: fromHex("01"), labelAndSeed: fromHex("61"), length: 8 }), IotSafeResponseError, /got 7/);
  });
});

describe("iotsafe client: channel life, recovery, counters", () => {
  it("recovers stale channels once before the first open (MCU rebooted, modem and SIM stayed up)", async () => {
    const card = new ScriptedTransport([
      ["0070800100", "9000"],
      ["0070800200", "6A88"],
      ["0070800300", "6A88"],
      ...OPEN_CHANNEL_1,
      ["8184000001", "01 9000"],
      ["8184000001", "02 9000"],
    ]);
    const client = new IotSafeClient(new ManageChannelAccess(card));
    await client.getRandom(1);
    await client.getRandom(1);
    card.assertDone();
  });

  it("closes the channel a transport failure left and reopens one", async () => {
    let failNext = false;
    const scripted = new ScriptedTransport([
      ...OPEN_CHANNEL_1,
      ["0070800100", "9000"], // the channel the failed operation held is given back first
      ["0070000001", "029000"],
      ["02A4040007A0000005590010", "9000"],
      ["8284000001", "07 9000"],
    ]);
    const transport = {
      name: "flaky",
      async transmit(apdu: Uint8Array): Promise<Uint8Array> {
        if (failNext) {
          failNext = false;
          throw new Error("modem timeout");
        }
        return scripted.transmit(apdu);
      },
    };
    const client = new IotSafeClient(new ManageChannelAccess(transport), { recoverStaleChannels: false });
    await client.open();
    failNext = true;
    await assert.rejects(client.getRandom(1), Error, /modem timeout/);
    assert.ok(!client.isOpen);
    assert.equal(toHex(await client.getRandom(1)), "07");
    scripted.assertDone();
  });

  it("serialises concurrent operations: a sign never interleaves with a read", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      [SIGN_INIT_01, "9000"],
      [SIGN_UPDATE, `330040${JWT_R}${JWT_S}9000`],
      ["812A010100", "9000"],
      ["8184000002", "0102 9000"],
    ]);
    const [signature, random] = await Promise.all([client.signDigest(objectId("01"), fromHex(HELLO_DIGEST)), client.getRandom(2)]);
    assert.equal(signature.raw.length, 64);
    assert.equal(random.length, 2);
    card.assertDone();
  });

  it("counts APDUs and bytes per operation", async () => {
    const platform = new ManualPlatform();
    const { client } = clientOver(
      [
        ...OPEN_CHANNEL_1,
        ["812A010100", "9000"],
        [SIGN_INIT_01, "9000"],
        [SIGN_UPDATE, "6143"],
        ["81C0000043", `330040${JWT_R}${JWT_S}9000`],
        ["812A010100", "9000"],
        ["8184000002", "0102 9000"],
      ],
      { platform },
    );
    const seen: string[] = [];
    client.onOperation = (stats) => seen.push(`${stats.operation}:${stats.apdus}`);
    await client.signDigest(objectId("01"), fromHex(HELLO_DIGEST));
    // channel open (2) + stale close + INIT + UPDATE + GET RESPONSE + close = 7 APDUs
    assert.deepEqual(client.lastOperation && { apdus: client.lastOperation.apdus, ok: client.lastOperation.ok }, { apdus: 7, ok: true });
    assert.equal(client.lastOperation!.bytesSent, 5 + 12 + 5 + 18 + 39 + 5 + 5);
    assert.equal(client.lastOperation!.bytesReceived, 3 + 2 + 2 + 2 + 2 + 69 + 2);
    await client.getRandom(2);
    assert.deepEqual(seen, ["sign:7", "getRandom:1"]);
    assert.equal(client.totals["sign"]!.count, 1);
    assert.equal(client.counters.apdus, 8);
  });

  it("bumps the store generation on 63CF (remote admin completed) and treats it as success", async () => {
    const { client } = clientOver([...OPEN_CHANNEL_1, ["8184000002", "0102 63CF"]]);
    assert.equal(client.storeGeneration, 0);
    assert.equal((await client.getRandom(2)).length, 2);
    assert.equal(client.storeGeneration, 1);
  });
});
