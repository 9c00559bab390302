// The virtual cloud's provisioning service on its own, driven by the firmware's TLS + MQTT clients
// with software keys: who may use which topics (claim vs operational identities), the CSR check,
// answers only to the asking connection, activation by RegisterThing, token expiry, the registry
// across restarts. And `iotsafe profile new --bootstrap` usage errors.
import assert from "node:assert/strict";
import { p256 } from "@noble/curves/nist.js";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesToUtf8 } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { pemToCertificates } from "../../modules/crypto/x509.js";
import { buildCsr, csrToPem } from "../../modules/iotsafe/csr.js";
import { MqttClient, type MqttMessage } from "../../modules/mqtt/client.js";
import { MqttNotAuthorizedError, MqttSubscribeRefusedError } from "../../modules/mqtt/errors.js";
import { TlsClient } from "../../modules/tls/client.js";
import { SoftwareCredential } from "../../modules/tls/software-credential.js";
import { connectTcp } from "../../hosts/node/socket-transport.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import { checkCsr, type ProvisioningCloud, ProvisioningServiceError, startProvisioningCloud } from "../../hosts/sim/cloud/provisioning.js";
import { createDevCa, type DevCa, issueClientCertificate } from "../../hosts/sim/pki/dev-ca.js";
import { cliPath } from "../lib/sim-world.js";

const platform = nodePlatform({ logLevel: "error" });
const CREATE = "$aws/certificates/create-from-csr/json";
const REGISTER = "$aws/provisioning-templates/iotsafe-fleet/provision/json";

interface SoftKey {
  secret: Uint8Array;
  point: Uint8Array;
}

function softKey(): SoftKey {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  return {
    secret: new Uint8Array(Buffer.from(jwk.d!, "base64url")),
    point: new Uint8Array(Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")])),
  };
}

/** A PEM CSR for `key`'s point, signed by `signer` (the key itself unless a forgery is wanted). */
async function csrPem(key: SoftKey, subject: { commonName?: string; serialNumber?: string }, signer = key): Promise<string> {
  const der = await buildCsr({ subject, publicKey: key.point, signDigest: async (digest) => p256.sign(digest, signer.secret, { prehash: false, format: "der" }) });
  return csrToPem(der);
}

describe("virtual cloud provisioning service", function () {
  this.timeout(30000);
  let claimCa: DevCa;
  let operationalCa: DevCa;
  let serverCa: DevCa;
  let claimKey: SoftKey;
  let claimCertificate: Uint8Array;
  let pc: ProvisioningCloud | undefined;
  let dir: string;
  const clients: MqttClient[] = [];

  before(() => {
    claimCa = createDevCa({ cn: "claim CA" });
    operationalCa = createDevCa({ cn: "operational CA" });
    serverCa = createDevCa({ cn: "server CA" });
    claimKey = softKey();
    claimCertificate = issueClientCertificate(claimCa, { cn: "claim-batch-1", publicKey: claimKey.point });
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "iotsafe-provisioning-cloud-"));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.abort();
    await pc?.cloud.close();
    pc = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(extra: Partial<Parameters<typeof startProvisioningCloud>[0]> = {}): Promise<ProvisioningCloud> {
    pc = await startProvisioningCloud({ claimCa, operationalCa, devCa: serverCa, registryPath: join(dir, "registry.json"), ...extra });
    return pc;
  }

  /** An MQTT connection with `credential`; messages collected in `inbox`. */
  async function connect(credential: SoftwareCredential, clientId: string): Promise<{ client: MqttClient; inbox: MqttMessage[] }> {
    const tls = await TlsClient.connect(await connectTcp("127.0.0.1", pc!.cloud.port), { serverName: "localhost", platform, provider: nobleCrypto, trustAnchors: [serverCa.certificatePem], credential });
    const inbox: MqttMessage[] = [];
    const client = await MqttClient.connect(tls, { platform, clientId, onMessage: (m) => void inbox.push(m) });
    clients.push(client);
    return { client, inbox };
  }

  const claim = () => new SoftwareCredential({ privateKey: claimKey.secret, certificateChain: [claimCertificate] });

  async function answer(inbox: MqttMessage[], prefix: string): Promise<{ topic: string; body: Record<string, unknown> }> {
    for (let i = 0; i < 100; i++) {
      const found = inbox.find((m) => m.topic.startsWith(prefix));
      if (found) return { topic: found.topic, body: JSON.parse(bytesToUtf8(found.payload)) as Record<string, unknown> };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`no answer on ${prefix}`);
  }

  /** CreateCertificateFromCsr then RegisterThing for `key`, over one claim connection. */
  async function enroll(key: SoftKey, cn: string): Promise<{ certificate: Uint8Array; certificateId: string }> {
    const { client, inbox } = await connect(claim(), `provision-${cn}`);
    await client.subscribe([`${CREATE}/accepted`, `${CREATE}/rejected`, `${REGISTER}/accepted`, `${REGISTER}/rejected`], 1);
    await client.publish(CREATE, JSON.stringify({ certificateSigningRequest: await csrPem(key, { commonName: cn }) }), { qos: 1 });
    const created = await answer(inbox, CREATE);
    assert.equal(created.topic, `${CREATE}/accepted`, JSON.stringify(created.body));
    await client.publish(REGISTER, JSON.stringify({ certificateOwnershipToken: created.body["certificateOwnershipToken"], parameters: { ICCID: cn } }), { qos: 1 });
    const registered = await answer(inbox, REGISTER);
    assert.equal(registered.topic, `${REGISTER}/accepted`, JSON.stringify(registered.body));
    assert.equal(registered.body["thingName"], cn);
    await client.disconnect();
    return { certificate: pemToCertificates(created.body["certificatePem"] as string)[0]!, certificateId: created.body["certificateId"] as string };
  }

  it("issues a certificate from the operational CA for the CSR's key, CN from the CSR; active only after RegisterThing", async () => {
    await start({ deviceConfiguration: { interval: "60" } });
    const key = softKey();
    const { client, inbox } = await connect(claim(), "provision-a");
    await client.subscribe([`${CREATE}/accepted`, `${CREATE}/rejected`, `${REGISTER}/accepted`, `${REGISTER}/rejected`], 1);
    await client.publish(CREATE, JSON.stringify({ certificateSigningRequest: await csrPem(key, { commonName: "8988299000000000017", serialNumber: "350000001234562" }) }), { qos: 1 });
    const created = await answer(inbox, CREATE);
    assert.equal(created.topic, `${CREATE}/accepted`);
    const certificate = new X509Certificate(created.body["certificatePem"] as string);
    assert.ok(certificate.checkIssued(new X509Certificate(operationalCa.certificatePem)) && certificate.verify(new X509Certificate(operationalCa.certificatePem).publicKey));
    assert.match(certificate.subject, /CN=8988299000000000017/);
    const jwk = certificate.publicKey.export({ format: "jwk" });
    assert.deepEqual(new Uint8Array(Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")])), key.point);
    assert.match(created.body["certificateId"] as string, /^[0-9a-f]{64}$/);

    // Not active yet: the operational identity cannot connect.
    const operational = new SoftwareCredential({ privateKey: key.secret, certificateChain: [new Uint8Array(certificate.raw)] });
    await assert.rejects(connect(operational, "8988299000000000017"), MqttNotAuthorizedError);
    assert.ok(pc!.cloud.refusals.some((r) => r.kind === "connect" && /PENDING_ACTIVATION/.test(r.reason)));

    await client.publish(REGISTER, JSON.stringify({ certificateOwnershipToken: created.body["certificateOwnershipToken"], parameters: { ICCID: "8988299000000000017" } }), { qos: 1 });
    const registered = await answer(inbox, REGISTER);
    assert.deepEqual(registered.body, { thingName: "8988299000000000017", deviceConfiguration: { interval: "60" } });
    const device = await connect(operational, "8988299000000000017");
    await device.client.publish("devices/8988299000000000017/telemetry", "21.5", { qos: 1 });
    const message = await pc!.cloud.waitForMessage((m) => m.topic === "devices/8988299000000000017/telemetry");
    assert.equal(message.identity, "8988299000000000017");
  });

  it("confines claim identities to the provisioning topics and operational identities to their telemetry topics", async () => {
    await start();
    const { client } = await connect(claim(), "provision-b");
    await assert.rejects(client.subscribe("devices/claim-batch-1/telemetry"), MqttSubscribeRefusedError);
    await assert.rejects(client.subscribe("$aws/things/x/shadow/update/accepted"), MqttSubscribeRefusedError);
    await client.publish("devices/claim-batch-1/telemetry", "x", { qos: 1 }).catch(() => undefined);
    await pc!.cloud.waitForRefusal((r) => r.kind === "publish" && r.identity === "claim-batch-1");

    const key = softKey();
    const { certificate } = await enroll(key, "device-b");
    const device = await connect(new SoftwareCredential({ privateKey: key.secret, certificateChain: [certificate] }), "device-b");
    await assert.rejects(device.client.subscribe(`${CREATE}/accepted`), MqttSubscribeRefusedError);
    await device.client.publish(CREATE, "{}", { qos: 1 }).catch(() => undefined);
    await pc!.cloud.waitForRefusal((r) => r.kind === "publish" && r.identity === "device-b" && r.topic === CREATE);
  });

  it("answers only the connection that asked", async () => {
    await start();
    const asker = await connect(claim(), "provision-asker");
    const bystander = await connect(claim(), "provision-bystander");
    for (const c of [asker.client, bystander.client]) await c.subscribe([`${CREATE}/accepted`, `${CREATE}/rejected`], 1);
    await asker.client.publish(CREATE, JSON.stringify({ certificateSigningRequest: await csrPem(softKey(), { commonName: "only-me" }) }), { qos: 1 });
    await answer(asker.inbox, CREATE);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(bystander.inbox.length, 0, "the other claim connection saw nothing");
  });

  it("rejects CSRs whose signature does not verify, that do not parse, or whose CN is unusable", async () => {
    await start();
    const { client, inbox } = await connect(claim(), "provision-c");
    await client.subscribe([`${CREATE}/accepted`, `${CREATE}/rejected`], 1);
    const key = softKey();
    const forged = await csrPem(key, { commonName: "forged" }, softKey()); // signed by another key
    for (const [request, pattern] of [
      [{ certificateSigningRequest: forged }, /signature does not verify/],
      [{ certificateSigningRequest: "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n" }, /does not parse/],
      [{ certificateSigningRequest: await csrPem(key, { commonName: "devices/+/x" }) }, /CN "devices\/\+\/x" is not acceptable/],
      [{ certificateSigningRequest: await csrPem(key, { serialNumber: "123" }) }, /no commonName/],
      [{ nothing: true }, /PEM string/],
    ] as const) {
      inbox.length = 0;
      await client.publish(CREATE, JSON.stringify(request), { qos: 1 });
      const rejected = await answer(inbox, CREATE);
      assert.equal(rejected.topic, `${CREATE}/rejected`);
      assert.equal(rejected.body["statusCode"], 400);
      assert.equal(rejected.body["errorCode"], "InvalidCsr");
      assert.match(rejected.body["errorMessage"] as string, pattern);
    }
    assert.equal(pc!.service.certificates.length, 0);
  });

  it("refuses an expired ownership token and a pre-provisioning hook's no", async () => {
    await start({ tokenLifetimeMs: 1, preProvisioningHook: (parameters) => (parameters["ICCID"] === "blocked" ? "this SIM is blocked" : undefined) });
    const { client, inbox } = await connect(claim(), "provision-d");
    await client.subscribe([`${CREATE}/accepted`, `${REGISTER}/accepted`, `${REGISTER}/rejected`], 1);
    await client.publish(CREATE, JSON.stringify({ certificateSigningRequest: await csrPem(softKey(), { commonName: "late" }) }), { qos: 1 });
    const created = await answer(inbox, CREATE);
    await new Promise((resolve) => setTimeout(resolve, 10));
    await client.publish(REGISTER, JSON.stringify({ certificateOwnershipToken: created.body["certificateOwnershipToken"], parameters: {} }), { qos: 1 });
    const expired = await answer(inbox, REGISTER);
    assert.equal(expired.topic, `${REGISTER}/rejected`);
    assert.equal(expired.body["errorCode"], "InvalidCertificateOwnershipToken");

    await pc!.cloud.close();
    await start({ preProvisioningHook: (parameters) => (parameters["ICCID"] === "blocked" ? "this SIM is blocked" : undefined) });
    const again = await connect(claim(), "provision-e");
    await again.client.subscribe([`${CREATE}/accepted`, `${REGISTER}/accepted`, `${REGISTER}/rejected`], 1);
    await again.client.publish(CREATE, JSON.stringify({ certificateSigningRequest: await csrPem(softKey(), { commonName: "blocked-one" }) }), { qos: 1 });
    const issued = await answer(again.inbox, CREATE);
    await again.client.publish(REGISTER, JSON.stringify({ certificateOwnershipToken: issued.body["certificateOwnershipToken"], parameters: { ICCID: "blocked" } }), { qos: 1 });
    const refused = await answer(again.inbox, REGISTER);
    assert.equal(refused.topic, `${REGISTER}/rejected`);
    assert.equal(refused.body["statusCode"], 403);
    assert.match(refused.body["errorMessage"] as string, /blocked/);
  });

  it("remembers activated certificates across restarts (registry file)", async () => {
    await start();
    const key = softKey();
    const { certificate } = await enroll(key, "device-r");
    await pc!.cloud.close();
    await start();
    const device = await connect(new SoftwareCredential({ privateKey: key.secret, certificateChain: [certificate] }), "device-r");
    assert.equal(device.client.connected, true);
  });

  it("refuses certificates from neither CA at TLS, and a service whose two CAs are the same", async () => {
    await start();
    const stranger = createDevCa({ cn: "stranger CA" });
    const key = softKey();
    const credential = new SoftwareCredential({ privateKey: key.secret, certificateChain: [issueClientCertificate(stranger, { cn: "x", publicKey: key.point })] });
    await assert.rejects(connect(credential, "x"));
    await pc!.cloud.waitForRefusal((r) => r.kind === "tls");
    await assert.rejects(startProvisioningCloud({ claimCa, operationalCa: claimCa, devCa: serverCa }), /must be different/);
  });

  it("checkCsr refuses what is not a CSR", () => {
    assert.throws(() => checkCsr(42), ProvisioningServiceError);
    assert.throws(() => checkCsr("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), /no CERTIFICATE REQUEST/);
  });
});

describe("iotsafe profile new --bootstrap (usage)", () => {
  function cli(...args: string[]): { status: number; stderr: string } {
    try {
      execFileSync(process.execPath, [cliPath, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      return { status: 0, stderr: "" };
    } catch (error) {
      const e = error as { status: number; stderr: string };
      return { status: e.status, stderr: e.stderr };
    }
  }

  it("refuses bootstrap-only options without --bootstrap, and a malformed ICCID", () => {
    const a = cli("profile", "new", "--out", "/tmp/never.json", "--ca-cert", "x", "--ca-key", "y", "--cn", "z", "--operational-ca", "ca.pem");
    assert.equal(a.status, 2);
    assert.match(a.stderr, /--operational-ca goes with --bootstrap/);
    const b = cli("profile", "new", "--bootstrap", "--out", "/tmp/never.json", "--ca-cert", "x", "--ca-key", "y", "--iccid", "12ab");
    assert.notEqual(b.status, 0);
  });
});
