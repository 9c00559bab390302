import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToAscii, concatBytes, fromHex, toHex } from "../../../modules/bytes/bytes.js";
import { children, decodeBitStringBytes, decodeOid, decodeOne, decodeSmallInteger, DerReader, TAG } from "../../../modules/crypto/der.js";
import { IotSafeClient } from "../../../modules/iotsafe/client.js";
import { SimClientCredential } from "../../../modules/iotsafe/credential.js";
import { buildCsr, createSimCsr, csrToPem } from "../../../modules/iotsafe/csr.js";
import { IotSafeArgumentError } from "../../../modules/iotsafe/errors.js";
import { objectId } from "../../../modules/iotsafe/objects.js";
import { ManageChannelAccess } from "../../../modules/sim/manage-channel.js";
import * as assert from "../../lib/portable/assert.js";
import { clientOver, HELLO_DIGEST, JWT_R, JWT_S, OPEN_CHANNEL_1 } from "./helpers.js";

const hex = (b: Uint8Array) => toHex(b).toUpperCase();

describe("iotsafe SimClientCredential", () => {
  const leaf = "3003020101";
  const intermediate = "3003020102";

  it("reads the chain once (leaf first) and serves it from the cache afterwards", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830102", "8301022002 0005 9000"],
      ["81B000000383010200", leaf + "9000"],
      ["81CBC30003830103", "8301032002 0005 9000"],
      ["81B000000383010300", intermediate + "9000"],
    ]);
    const credential = new SimClientCredential(client, { privateKey: objectId("01"), certificates: [objectId("02"), objectId("03")] });
    const first = await credential.certificateChain();
    const second = await credential.certificateChain(); // the script has ended: any APDU here would fail
    card.assertDone();
    assert.deepEqual(first.map(hex), [leaf, intermediate]);
    assert.deepEqual(second.map(hex), [leaf, intermediate]);
    first[0]![0] = 0; // callers get copies
    assert.equal(hex((await credential.certificateChain())[0]!), leaf);
    assert.deepEqual(credential.schemes, [0x0403]);
  });

  it("reads the chain again after a failure instead of caching the error", async () => {
    const { client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["81CBC30003830102", "6984"],
      ["81CBC30003830102", "8301022002 0005 9000"],
      ["81B000000383010200", leaf + "9000"],
    ]);
    const credential = new SimClientCredential(client, { privateKey: objectId("01"), certificates: [objectId("02")] });
    await assert.rejects(credential.certificateChain(), Error, /6984/);
    assert.equal((await credential.certificateChain()).length, 1);
  });

  it("signs the host digest on the SIM with scheme 0x0403 and returns DER", async () => {
    const { card, client } = clientOver([
      ...OPEN_CHANNEL_1,
      ["812A010100", "9000"],
      ["812A00010D840101A1010391020001920104", "9000"],
      [`812B8001229E20${HELLO_DIGEST}`, `330040${JWT_R}${JWT_S}9000`],
      ["812A010100", "9000"],
    ]);
    const credential = new SimClientCredential(client, { privateKey: objectId("01"), certificates: [objectId("02")] });
    assert.equal(hex(await credential.sign(0x0403, fromHex(HELLO_DIGEST))), `3046022100${JWT_R}022100${JWT_S}`);
    card.assertDone();
  });

  it("refuses other schemes and digest sizes without touching the SIM", async () => {
    const { card, client } = clientOver([]);
    const credential = new SimClientCredential(client, { privateKey: objectId("01"), certificates: [objectId("02")] });
    await assert.rejects(credential.sign(0x0503, new Uint8Array(48)), IotSafeArgumentError, /0x0503/);
    await assert.rejects(credential.sign(0x0403, new Uint8Array(48)), IotSafeArgumentError, /48 bytes/);
    assert.equal(card.sent.length, 0);
    assert.throws(() => new SimClientCredential(client, { privateKey: objectId("01"), certificates: [] }), IotSafeArgumentError);
  });
});

/** A small software "SIM" for the CSR test: one P-256 key in container 01, signs mode-03 digests. */
function signingCard(privateKey: Uint8Array) {
  const publicKey = p256.getPublicKey(privateKey, false);
  const ok = (data: Uint8Array = new Uint8Array(0)) => concatBytes(data, Uint8Array.of(0x90, 0x00));
  return {
    name: "software signing card",
    async transmit(apdu: Uint8Array): Promise<Uint8Array> {
      const ins = apdu[1]!;
      if (ins === 0x70) return apdu[2] === 0 ? ok(Uint8Array.of(1)) : ok();
      if (ins === 0xa4 || ins === 0x2a) return ok();
      if (ins === 0xcd) return ok(concatBytes(fromHex("34454943864104"), publicKey.subarray(1)));
      if (ins === 0x2b) {
        // data: 9E 20 <digest>
        const digest = apdu.subarray(7, 39);
        const raw = p256.sign(digest, privateKey, { prehash: false, format: "compact" });
        return ok(concatBytes(fromHex("330040"), raw));
      }
      return Uint8Array.of(0x6d, 0x00);
    },
  };
}

function parseCsr(der: Uint8Array) {
  const outer = new DerReader(decodeOne(der, TAG.SEQUENCE), "CSR");
  const info = outer.next(TAG.SEQUENCE, "info");
  const algorithm = new DerReader(outer.next(TAG.SEQUENCE, "algorithm"), "algorithm");
  const signature = decodeBitStringBytes(outer.next(TAG.BIT_STRING, "signature").value);
  outer.end();
  const fields = new DerReader(info, "info");
  const version = decodeSmallInteger(fields.next(TAG.INTEGER, "version").value);
  const subject = fields.next(TAG.SEQUENCE, "subject");
  const spki = new DerReader(fields.next(TAG.SEQUENCE, "spki"), "spki");
  const spkiAlgorithm = children(spki.next(TAG.SEQUENCE, "alg")).map((e) => decodeOid(e.value));
  const point = decodeBitStringBytes(spki.next(TAG.BIT_STRING, "key").value);
  const attributes = fields.next(0xa0, "attributes");
  fields.end();
  const names = children(subject).map((rdn) => {
    const [type, value] = children(children(rdn)[0]!);
    return [decodeOid(type!.value), value!.tag, bytesToAscii(value!.value)];
  });
  return { info: info, version, names, spkiAlgorithm, point, attributes, algorithm: decodeOid(algorithm.next(TAG.OID).value), signature };
}

describe("iotsafe CSR (PKCS#10) signed by a SIM key", () => {
  const privateKey = fromHex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"); // RFC 6979 A.2.5 P-256 key
  const publicKey = p256.getPublicKey(privateKey, false);

  it("builds a request whose signature verifies over the CertificationRequestInfo", async () => {
    const client = new IotSafeClient(new ManageChannelAccess(signingCard(privateKey)), { recoverStaleChannels: false });
    const csr = await createSimCsr(client, { privateKey: objectId("01"), subject: { commonName: "device-001", organization: "iotsafe-xs", country: "FR" }, dnsNames: ["device-001.example"] });
    const parsed = parseCsr(csr);
    assert.equal(parsed.version, 0);
    assert.deepEqual(parsed.names, [
      ["2.5.4.6", TAG.PRINTABLE_STRING, "FR"],
      ["2.5.4.10", TAG.UTF8_STRING, "iotsafe-xs"],
      ["2.5.4.3", TAG.UTF8_STRING, "device-001"],
    ]);
    assert.deepEqual(parsed.spkiAlgorithm, ["1.2.840.10045.2.1", "1.2.840.10045.3.1.7"]);
    assert.deepEqual(parsed.point, publicKey);
    assert.equal(parsed.algorithm, "1.2.840.10045.4.3.2");
    assert.match(toHex(parsed.attributes.value), /2a864886f70d01090e/); // extensionRequest
    assert.match(bytesToAscii(parsed.attributes.value), /device-001\.example/);
    assert.ok(p256.verify(parsed.signature, sha256(parsed.info.raw), publicKey, { prehash: false, format: "der" }));
  });

  it("writes an empty attribute set when no extension is requested", async () => {
    const csr = await buildCsr({ subject: { commonName: "x" }, publicKey, signDigest: async (d) => p256.sign(d, privateKey, { prehash: false, format: "der" }) });
    assert.equal(toHex(parseCsr(csr).attributes.raw), "a000");
  });

  it("refuses an empty subject, bad names and a non-P-256 key", async () => {
    const signDigest = async () => new Uint8Array(0);
    await assert.rejects(buildCsr({ subject: {}, publicKey, signDigest }), IotSafeArgumentError, /empty/);
    await assert.rejects(buildCsr({ subject: { country: "France" }, publicKey, signDigest }), IotSafeArgumentError, /country/);
    await assert.rejects(buildCsr({ subject: { commonName: "x" }, publicKey, dnsNames: ["bad name"], signDigest }), IotSafeArgumentError, /DNS/);
    await assert.rejects(buildCsr({ subject: { commonName: "x" }, publicKey: publicKey.subarray(0, 33), signDigest }), Error, /uncompressed|P-256/);
  });

  it("wraps the DER in PEM lines of 64 characters", async () => {
    const csr = await buildCsr({ subject: { commonName: "device" }, publicKey, signDigest: async (d) => p256.sign(d, privateKey, { prehash: false, format: "der" }) });
    const pem = csrToPem(csr);
    const lines = pem.trim().split("\n");
    assert.equal(lines[0], "-----BEGIN CERTIFICATE REQUEST-----");
    assert.equal(lines[lines.length - 1], "-----END CERTIFICATE REQUEST-----");
    for (const line of lines.slice(1, -2)) assert.equal(line.length, 64);
  });
});
