// The IoT SAFE client against the virtual IoT SAFE card (hosts/sim/card), card reached directly as
// an APDU transport. Every cryptographic result is checked by node:crypto / openssl, never by the
// client's or the card's own crypto.
import assert from "node:assert/strict";
import { createECDH, createHash, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IotSafeCard } from "../../hosts/sim/card/iotsafe-card.js";
import type { CardOptions } from "../../hosts/sim/card/profile.js";
import { IotSafeClient, type IotSafeClientOptions } from "../../modules/iotsafe/client.js";
import { SimClientCredential } from "../../modules/iotsafe/credential.js";
import { createSimCsr, csrToPem } from "../../modules/iotsafe/csr.js";
import { ConditionsNotSatisfiedError, ObjectNotFoundError } from "../../modules/iotsafe/errors.js";
import { objectId, objectLabel } from "../../modules/iotsafe/objects.js";
import { CardStatusError } from "../../modules/sim/errors.js";
import { ManageChannelAccess } from "../../modules/sim/manage-channel.js";
import { cardTransport, deviceProfile, type DeviceIdentity, makeDeviceIdentity, openssl, PSK_HEX, softwareHkdfExtract, softwarePrf } from "./iotsafe-helpers.js";

const digestOf = (message: Buffer | string) => createHash("sha256").update(message).digest();

describe("iotsafe client ↔ virtual IoT SAFE card", function () {
  let identity: DeviceIdentity;
  before(function () {
    identity = makeDeviceIdentity();
  });

  function setup(cardOptions: Partial<CardOptions> = {}, clientOptions: IotSafeClientOptions = {}) {
    const card = new IotSafeCard(deviceProfile(identity, cardOptions));
    const client = new IotSafeClient(new ManageChannelAccess(cardTransport(card)), clientOptions);
    return { card, client };
  }

  it("serves a TLS credential: the chain read from the SIM, a signature node:crypto verifies with the certificate's key", async function () {
    const { client } = setup();
    const credential = new SimClientCredential(client, { privateKey: objectId("01"), certificates: [objectId("02")] });
    const [leaf] = await credential.certificateChain();
    assert.deepEqual(Buffer.from(leaf!), identity.certificateDer);
    const certificateKey = new X509Certificate(Buffer.from(leaf!)).publicKey;
    const content = Buffer.from("TLS 1.3, client CertificateVerify\0transcript hash");
    const signature = await credential.sign(0x0403, digestOf(content));
    assert.equal(signature[0], 0x30);
    assert.ok(nodeVerify("sha256", content, { key: certificateKey, dsaEncoding: "der" }, signature));
    assert.ok(!nodeVerify("sha256", Buffer.from("other"), { key: certificateKey, dsaEncoding: "der" }, signature));
  });

  // Applet and T=0 variants real SIMs and modems show (iotsafe.md §2.2, §6.3, §9): the same operations work on each.
  const variants: [string, Partial<CardOptions>][] = [
    ["default applet", {}],
    ["one-byte signature length (33 40)", { signatureLength: "one-byte" }],
    ["DER signature inside tag 33", { signatureFormat: "der" }],
    ["T=0: every answer through 61xx + GET RESPONSE", { responseDelivery: "get-response" }],
    ["T=0: 6Cxx on a wrong Le", { wrongLe: "6C" }],
    ["bare (unwrapped) object info", { objectInfo: "bare" }],
    ["applet that only takes CLA 0n", { commandClass: "interindustry" }],
    ["small READ FILE answers (17 bytes)", { readFileChunk: 17 }],
    ["91xx on MANAGE CHANNEL open", { proactiveOnOpen: true }],
    ["sessions that refuse a re-open", { reopenSession: "reject" }],
    ["small object-list pages (6300 paging)", { objectListPage: 32 }],
  ];
  for (const [name, options] of variants) {
    it(`works with: ${name}`, async function () {
      const { client } = setup(options);
      const certificate = await client.readFile(objectId("02"));
      assert.deepEqual(Buffer.from(certificate), identity.certificateDer);
      const key = new X509Certificate(Buffer.from(certificate)).publicKey;
      for (const text of ["first", "second"]) {
        const signature = await client.signDigest(objectId("01"), digestOf(text));
        assert.ok(nodeVerify("sha256", Buffer.from(text), { key, dsaEncoding: "der" }, signature.der), `signature over ${text}`);
        assert.ok(nodeVerify("sha256", Buffer.from(text), { key, dsaEncoding: "ieee-p1363" }, signature.raw));
      }
      const objects = await client.listObjects();
      assert.deepEqual(
        objects.filter((o) => o.kind === "file").map((o) => [Buffer.from(o.id!).toString("hex"), o.fileSize]),
        [
          ["02", identity.certificateDer.length],
          ["03", 12],
        ],
      );
      assert.equal(client.classStyle, options.commandClass === "interindustry" ? "interindustry" : "proprietary");
      await client.close();
    });
  }

  it("reads files by label, and a non-DER file by its size", async function () {
    const { client } = setup();
    assert.deepEqual(Buffer.from(await client.readFile(objectLabel("client-certificate"))), identity.certificateDer);
    assert.equal(Buffer.from(await client.readFile(objectId("03"))).toString(), "hello, world");
    await assert.rejects(client.readFile(objectId("09")), ObjectNotFoundError);
  });

  it("reads application info and object info", async function () {
    const { client } = setup();
    const app = await client.getApplicationInfo();
    assert.equal(app.maxSessions, 4);
    assert.equal(app.signatureAlgorithms! & 0x04, 0x04);
    assert.equal(app.hashAlgorithms! & 0x0001, 0x0001);
    const key = await client.getObjectInfo("privateKey", objectLabel("client-key"));
    assert.equal(Buffer.from(key.id!).toString("hex"), "01");
    assert.equal(key.keyType, 0x13);
    assert.equal(key.keyUsage, 0x03);
    const file = await client.getObjectInfo("file", objectId("02"));
    assert.equal(file.fileSize, identity.certificateDer.length);
    assert.equal(file.fileUsage, 0x02);
  });

  it("generates a key pair whose public key READ PUBLIC KEY returns, and signs with it", async function () {
    const { client } = setup();
    const pair = await client.generateKeyPair(objectId("303031"));
    assert.equal(Buffer.from(pair.privateKeyId!).toString("hex"), "303031");
    assert.equal(Buffer.from(pair.publicKeyId!).toString("hex"), "303032");
    assert.equal(pair.publicKey.length, 65);
    assert.deepEqual(await client.readPublicKey({ id: pair.publicKeyId! }), pair.publicKey);
    const jwkKey = createPublicKey({
      key: { kty: "EC", crv: "P-256", x: Buffer.from(pair.publicKey.subarray(1, 33)).toString("base64url"), y: Buffer.from(pair.publicKey.subarray(33)).toString("base64url") },
      format: "jwk",
    });
    const signature = await client.signDigest(objectId("303031"), digestOf("fresh key"));
    assert.ok(nodeVerify("sha256", Buffer.from("fresh key"), { key: jwkKey, dsaEncoding: "der" }, signature.der));
  });

  it("computes ECDH on the SIM: PUT PUBLIC KEY of the peer, COMPUTE DH, equal to node:crypto's secret", async function () {
    const { client } = setup();
    const pair = await client.generateKeyPair(objectId("04"));
    const peer = createECDH("prime256v1");
    peer.generateKeys();
    const onSim = await client.computeDhWithPeer(objectId("04"), objectId("05"), peer.getPublicKey());
    assert.deepEqual(Buffer.from(onSim), peer.computeSecret(Buffer.from(pair.publicKey)));
  });

  it("refuses COMPUTE DH before a peer key was put (6985, iotsafe.md §9.11)", async function () {
    const { client } = setup();
    await client.generateKeyPair(objectId("04"));
    await assert.rejects(client.computeDh(objectId("04"), objectId("05")), ConditionsNotSatisfiedError);
  });

  it("verifies signatures on the SIM with a public key put there: 9000 → true, 6D01 → false", async function () {
    const { client } = setup();
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const jwk = publicKey.export({ format: "jwk" });
    const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
    await client.putPublicKey(objectId("05"), point);
    const message = Buffer.from("server key exchange");
    const signature = nodeSign("sha256", message, { key: privateKey, dsaEncoding: "der" });
    assert.equal(await client.verifySignature(objectId("05"), { digest: digestOf(message) }, signature), true);
    assert.equal(await client.verifySignature(objectId("05"), { digest: digestOf("tampered") }, signature), false);
    assert.equal(await client.verifySignature(objectId("05"), { message }, signature), true);
  });

  it("computes the TLS 1.2 PRF on the SIM (modes 00, 01, 02) equal to a software P_SHA256", async function () {
    const { client } = setup();
    const secret = Buffer.alloc(48, 0x0b);
    const labelAndSeed = Buffer.concat([Buffer.from("key expansion"), Buffer.alloc(64, 0x5a)]);
    assert.deepEqual(Buffer.from(await client.computePrf({ mode: "secret", secret, labelAndSeed, length: 104 })), softwarePrf(secret, labelAndSeed, 104));
    const psk = Buffer.from(PSK_HEX, "hex");
    // RFC 4279 §2: premaster = uint16 N ‖ N zero bytes ‖ uint16 len ‖ PSK
    const plainPremaster = Buffer.concat([Buffer.from([0, psk.length]), Buffer.alloc(psk.length), Buffer.from([0, psk.length]), psk]);
    const seed = Buffer.concat([Buffer.from("master secret"), Buffer.alloc(64, 1)]);
    assert.deepEqual(Buffer.from(await client.computePrf({ mode: "psk", secretKey: objectLabel("psk"), labelAndSeed: seed, length: 48 })), softwarePrf(plainPremaster, seed, 48));
    // RFC 5489 §2: premaster = uint16 len ‖ ECDHE secret ‖ uint16 len ‖ PSK
    const ecdhe = Buffer.alloc(32, 0x77);
    const ecdhePremaster = Buffer.concat([Buffer.from([0, 32]), ecdhe, Buffer.from([0, psk.length]), psk]);
    assert.deepEqual(
      Buffer.from(await client.computePrf({ mode: "psk-ecdhe", secretKey: objectId("06"), preMasterSecret: ecdhe, labelAndSeed: seed, length: 48 })),
      softwarePrf(ecdhePremaster, seed, 48),
    );
  });

  it("computes HKDF-Extract on the SIM equal to HMAC(salt, IKM), including the empty-salt case", async function () {
    const { client } = setup();
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = Buffer.from("000102030405060708090a0b0c", "hex");
    assert.deepEqual(Buffer.from(await client.computeHkdfExtract({ ikm, salt })), softwareHkdfExtract("sha256", salt, ikm));
    assert.deepEqual(Buffer.from(await client.computeHkdfExtract({ ikm, salt: Buffer.alloc(0) })), softwareHkdfExtract("sha256", Buffer.alloc(32), ikm));
    assert.deepEqual(Buffer.from(await client.computeHkdfExtract({ ikm, salt, hash: "sha384" })), softwareHkdfExtract("sha384", salt, ikm));
  });

  it("draws random bytes in several commands", async function () {
    const { client } = setup();
    const random = await client.getRandom(300);
    assert.equal(random.length, 300);
    assert.ok(new Set(random).size > 50);
  });

  it("recovers the channels a crashed boot left open (the card has three)", async function () {
    const card = new IotSafeCard(deviceProfile(identity));
    for (let i = 0; i < 3; i++) {
      const leaky = new IotSafeClient(new ManageChannelAccess(cardTransport(card)), { recoverStaleChannels: false });
      await leaky.open(); // never closed: the MCU "reboots"
    }
    assert.deepEqual(card.openChannels, [1, 2, 3]);
    const strict = new IotSafeClient(new ManageChannelAccess(cardTransport(card), { recoverChannels: [] }), { recoverStaleChannels: false });
    await assert.rejects(strict.open(), CardStatusError);
    const client = new IotSafeClient(new ManageChannelAccess(cardTransport(card)));
    assert.equal((await client.signDigest(objectId("01"), digestOf("after reboot"))).raw.length, 64);
    assert.deepEqual(card.openChannels, [1]);
    await client.close();
    assert.deepEqual(card.openChannels, []);
  });

  it("counts APDUs per operation: a sign on an open channel costs 4 APDUs (close stale, INIT, UPDATE, close)", async function () {
    const { client } = setup();
    await client.open();
    await client.signDigest(objectId("01"), digestOf("count me"));
    assert.equal(client.lastOperation!.operation, "sign");
    assert.equal(client.lastOperation!.apdus, 4);
    const t0 = setup({ responseDelivery: "get-response" }).client;
    await t0.open();
    await t0.signDigest(objectId("01"), digestOf("count me"));
    assert.equal(t0.lastOperation!.apdus, 5); // + GET RESPONSE
  });

  describe("certificate signing request (touchless provisioning)", function () {
    let dir: string;
    beforeEach(function () {
      dir = mkdtempSync(join(tmpdir(), "iotsafe-csr-"));
    });
    afterEach(function () {
      rmSync(dir, { recursive: true, force: true });
    });

    it("openssl req -verify accepts a CSR signed by the provisioned SIM key", async function () {
      const { client } = setup();
      const csr = await createSimCsr(client, {
        privateKey: objectId("01"),
        publicKey: new Uint8Array(new X509Certificate(identity.certificateDer).publicKey.export({ format: "der", type: "spki" }).subarray(-65)),
        subject: { commonName: "device-001", organization: "iotsafe-xs", country: "FR" },
        dnsNames: ["device-001.local"],
      });
      const path = join(dir, "device.csr");
      writeFileSync(path, csrToPem(csr));
      const verified = openssl(["req", "-verify", "-in", path, "-noout"]);
      assert.equal(verified.status, 0, verified.output);
      assert.match(verified.output, /verify OK/i);
      const text = openssl(["req", "-in", path, "-noout", "-text"]);
      assert.match(text.output, /Subject: C ?= ?FR, O ?= ?iotsafe-xs, CN ?= ?device-001/);
      assert.match(text.output, /DNS:device-001\.local/);
      assert.match(text.output, /ecdsa-with-SHA256/);
    });

    it("openssl accepts a CSR for a key pair just generated on the SIM, and signs a certificate from it", async function () {
      const { client } = setup();
      const pair = await client.generateKeyPair(objectId("303031"));
      const csr = await createSimCsr(client, { privateKey: objectId("303031"), publicKey: { id: pair.publicKeyId! }, subject: { commonName: "device-002" } });
      const csrPath = join(dir, "device.csr");
      writeFileSync(csrPath, csrToPem(csr));
      assert.equal(openssl(["req", "-verify", "-in", csrPath, "-noout"]).status, 0);
      // The CA side: a certificate for the SIM's public key, whose point is the one the SIM reported.
      const caKey = join(dir, "ca.key");
      const caPem = join(dir, "ca.pem");
      const certPath = join(dir, "device.pem");
      assert.equal(openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", caKey]).status, 0);
      assert.equal(openssl(["req", "-x509", "-new", "-key", caKey, "-sha256", "-days", "2", "-subj", "/CN=Test CA", "-out", caPem]).status, 0);
      const signed = openssl(["x509", "-req", "-in", csrPath, "-CA", caPem, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-sha256", "-out", certPath]);
      assert.equal(signed.status, 0, signed.output);
      const certificate = new X509Certificate(readFileSync(certPath));
      const spki = certificate.publicKey.export({ format: "der", type: "spki" });
      assert.deepEqual(new Uint8Array(spki.subarray(-65)), pair.publicKey);
      assert.match(certificate.subject, /CN=device-002/);
    });
  });
});
