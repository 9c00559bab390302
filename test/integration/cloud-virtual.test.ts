/**
 * The virtual cloud (TLS 1.3 server requiring client certificates + aedes MQTT broker) against the
 * firmware's TLS + MQTT clients with software credentials, and against a real, independent client
 * (mosquitto_pub) when mosquitto-clients is installed; then the `iotsafe cloud` command end to end.
 */
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { bytesToAscii } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { MqttClient, type MqttClientOptions, type MqttMessage } from "../../modules/mqtt/client.js";
import { MqttClosedError, MqttConnectionLostError, MqttSubscribeRefusedError } from "../../modules/mqtt/errors.js";
import { TlsClient } from "../../modules/tls/client.js";
import { SoftwareCredential } from "../../modules/tls/software-credential.js";
import { connectTcp } from "../../hosts/node/socket-transport.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import { anyTopic, startVirtualCloud, type VirtualCloud, type VirtualCloudOptions } from "../../hosts/sim/cloud/virtual-cloud.js";
import { createDevCa, issueClientCertificate, issueServerCertificate, writeDevCa, type DevCa } from "../../hosts/sim/pki/dev-ca.js";
import { pemEncode } from "../../hosts/sim/pki/pem.js";

const platform = nodePlatform({ logLevel: "error" });
const execFileAsync = promisify(execFile);

interface Device {
  cn: string;
  credential: SoftwareCredential;
  certificatePem: string;
  keyPem: string;
}

/** A device key pair (as the SIM would hold it) with a client certificate for `cn` from `ca`. */
function makeDevice(ca: DevCa, cn: string): Device {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" });
  const d = new Uint8Array(Buffer.from(jwk.d!, "base64url"));
  const point = new Uint8Array(Buffer.concat([Buffer.of(4), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]));
  const certificateDer = issueClientCertificate(ca, { cn, publicKey: point });
  return {
    cn,
    credential: new SoftwareCredential({ privateKey: d, certificateChain: [certificateDer] }),
    certificatePem: pemEncode("CERTIFICATE", certificateDer),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

function findProgram(name: string): string | undefined {
  for (const candidate of [name, `/usr/sbin/${name}`]) if (!spawnSync(candidate, ["--help"], { stdio: "ignore" }).error) return candidate;
  return undefined;
}

describe("virtual cloud", function () {
  this.timeout(30000);
  let ca: DevCa;
  let device: Device;
  let cloud: VirtualCloud | undefined;
  let lines: string[];
  const clients: MqttClient[] = [];

  before(() => {
    ca = createDevCa({ cn: "cloud test CA" });
    device = makeDevice(ca, "device-001");
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.abort();
    await cloud?.close();
    cloud = undefined;
  });

  async function start(extra: Partial<VirtualCloudOptions> = {}): Promise<VirtualCloud> {
    lines = [];
    cloud = await startVirtualCloud({ clientCa: ca.certificatePem, devCa: ca, log: (line) => lines.push(line), ...extra });
    return cloud;
  }

  async function openTls(credential: SoftwareCredential | undefined): Promise<TlsClient> {
    return TlsClient.connect(await connectTcp("127.0.0.1", cloud!.port), {
      serverName: "localhost",
      platform,
      provider: nobleCrypto,
      trustAnchors: [ca.certificatePem],
      ...(credential ? { credential } : {}),
    });
  }

  async function openMqtt(options: Partial<MqttClientOptions> & { clientId: string }, credential = device.credential): Promise<MqttClient> {
    const client = await MqttClient.connect(await openTls(credential), { platform, ...options });
    clients.push(client);
    return client;
  }

  it("logs the device's identity from its certificate and each message it publishes", async () => {
    await start();
    const client = await openMqtt({ clientId: "dev-a" });
    await client.publish("devices/device-001/telemetry", "21.5C", { qos: 1 });
    await client.publish("devices/device-001/status", Uint8Array.of(0, 1, 2, 0xff), { qos: 0 });
    const telemetry = await cloud!.waitForMessage((m) => m.topic.endsWith("/telemetry"));
    assert.equal(telemetry.identity, "device-001");
    assert.equal(telemetry.clientId, "dev-a");
    assert.equal(bytesToAscii(telemetry.payload), "21.5C");
    assert.equal(telemetry.qos, 1);
    const status = await cloud!.waitForMessage((m) => m.topic.endsWith("/status"));
    assert.deepEqual([...status.payload], [0, 1, 2, 0xff]);
    assert.deepEqual(
      cloud!.clients.map((c) => [c.identity, c.clientId]),
      [["device-001", "dev-a"]],
    );
    assert.ok(lines.some((l) => /^device-001 connected \(client id dev-a, from 127\.0\.0\.1:\d+\)$/.test(l)), lines.join("\n"));
    assert.ok(lines.includes('device-001 → devices/device-001/telemetry (QoS 1, 5 bytes): "21.5C"'), lines.join("\n"));
    assert.ok(lines.includes("device-001 → devices/device-001/status (QoS 0, 4 bytes): hex 000102ff"), lines.join("\n"));
  });

  it("serves a certificate for localhost and 127.0.0.1 issued from the dev CA", async () => {
    await start();
    const certificate = new X509Certificate(cloud!.serverCertificatePem);
    assert.ok(certificate.checkIssued(new X509Certificate(ca.certificatePem)));
    assert.match(certificate.subjectAltName ?? "", /DNS:localhost/);
    assert.match(certificate.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
  });

  it("serves a server certificate and key it is given instead", async () => {
    const issued = issueServerCertificate(ca, { cn: "mqtt.cloud.test", dns: ["localhost"] });
    await start({ serverCertPem: issued.certificatePem, serverKeyPem: issued.privateKeyPem, devCa: undefined });
    assert.equal(cloud!.serverCertificatePem, issued.certificatePem);
    const tls = await openTls(device.credential);
    assert.equal(tls.info.serverCertificate.commonName, "mqtt.cloud.test");
    const client = await MqttClient.connect(tls, { platform, clientId: "dev-given" });
    clients.push(client);
    assert.equal(client.connected, true);
  });

  it("sends commands from the cloud to a subscribed device", async () => {
    await start();
    let resolveMessage!: (m: MqttMessage) => void;
    const received = new Promise<MqttMessage>((resolve) => (resolveMessage = resolve));
    const client = await openMqtt({ clientId: "dev-cmd", onMessage: (m) => resolveMessage(m) });
    assert.deepEqual(await client.subscribe("devices/device-001/cmd", 1), [1]);
    await cloud!.publish("devices/device-001/cmd", '{"interval":30}', { qos: 1 });
    const m = await received;
    assert.equal(m.topic, "devices/device-001/cmd");
    assert.equal(bytesToAscii(m.payload), '{"interval":30}');
    assert.equal(m.qos, 1);
  });

  it("refuses a publish under another device's topic by closing the connection (MQTT 3.1.1 has no other way)", async () => {
    await start();
    const closes: (Error | undefined)[] = [];
    const client = await openMqtt({ clientId: "dev-rogue", onClose: (e) => closes.push(e) });
    await assert.rejects(client.publish("devices/device-002/telemetry", "spoofed", { qos: 1 }), MqttClosedError);
    assert.ok(closes[0] instanceof MqttConnectionLostError, String(closes[0]));
    const refusal = await cloud!.waitForRefusal((r) => r.kind === "publish");
    assert.equal(refusal.identity, "device-001");
    assert.equal(refusal.topic, "devices/device-002/telemetry");
    assert.equal(cloud!.messages.length, 0);
    assert.ok(lines.some((l) => l.startsWith('REFUSED publish "devices/device-002/telemetry" from device-001 (client id dev-rogue)')), lines.join("\n"));
  });

  it("refuses a subscription outside the device's topics with SUBACK 0x80", async () => {
    await start();
    const client = await openMqtt({ clientId: "dev-nosy" });
    const error = await client.subscribe(["devices/device-001/cmd", "devices/+/telemetry"], 1).then(
      () => assert.fail("the subscription was accepted"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof MqttSubscribeRefusedError, String(error));
    assert.deepEqual([...error.refused], ["devices/+/telemetry"]);
    assert.deepEqual([...error.returnCodes], [1, 0x80]);
    assert.equal(client.connected, true);
    assert.equal((await cloud!.waitForRefusal((r) => r.kind === "subscribe")).topic, "devices/+/telemetry");
  });

  it("lets the topic rule be replaced (anyTopic)", async () => {
    await start({ authorizePublish: anyTopic });
    const client = await openMqtt({ clientId: "dev-free" });
    await client.publish("fleet/all", "hello", { qos: 1 });
    assert.equal((await cloud!.waitForMessage()).topic, "fleet/all");
  });

  it("refuses a client without a certificate", async () => {
    await start();
    const tls = await openTls(undefined);
    await assert.rejects(MqttClient.connect(tls, { platform, clientId: "anonymous" }), MqttConnectionLostError);
    const refusal = await cloud!.waitForRefusal((r) => r.kind === "tls");
    assert.match(refusal.reason, /certificate/i);
    assert.equal(cloud!.clients.length, 0);
  });

  it("refuses a certificate issued by another CA", async () => {
    await start();
    const stranger = makeDevice(createDevCa({ cn: "some other CA" }), "device-001");
    const tls = await openTls(stranger.credential);
    await assert.rejects(MqttClient.connect(tls, { platform, clientId: "stranger" }), MqttConnectionLostError);
    const refusal = await cloud!.waitForRefusal((r) => r.kind === "tls");
    assert.match(refusal.reason, /client certificate not accepted: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT)/);
  });

  it("accepts mosquitto_pub (a real, independent client) with --cert/--key and logs its CN", async function () {
    const mosquittoPub = findProgram("mosquitto_pub");
    if (!mosquittoPub) {
      console.warn("    mosquitto_pub is not installed (mosquitto-clients): skipping");
      this.skip();
    }
    await start();
    const other = makeDevice(ca, "device-777");
    const dir = mkdtempSync(join(tmpdir(), "iotsafe-cloud-"));
    try {
      writeFileSync(join(dir, "ca.pem"), ca.certificatePem);
      writeFileSync(join(dir, "device.pem"), other.certificatePem);
      writeFileSync(join(dir, "device.key"), other.keyPem);
      await execFileAsync(
        mosquittoPub!,
        ["-h", "127.0.0.1", "-p", String(cloud!.port), "--cafile", join(dir, "ca.pem"), "--cert", join(dir, "device.pem"), "--key", join(dir, "device.key"), "-i", "pub-777", "-q", "1", "-t", "devices/device-777/telemetry", "-m", "from mosquitto_pub"],
        { timeout: 15000 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const m = await cloud!.waitForMessage();
    assert.equal(m.identity, "device-777");
    assert.equal(m.clientId, "pub-777");
    assert.equal(bytesToAscii(m.payload), "from mosquitto_pub");
    assert.ok(lines.some((l) => l.startsWith("device-777 connected (client id pub-777")), lines.join("\n"));
  });
});

describe("iotsafe cloud (CLI)", function () {
  this.timeout(60000);

  it("prints where it listens, logs identities and messages, and stops on SIGINT", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iotsafe-cloud-cli-"));
    const ca = createDevCa({ cn: "cli test CA" });
    const { certificatePath } = writeDevCa(ca, dir);
    const device = makeDevice(ca, "device-042");
    const child = spawn(process.execPath, ["bin/iotsafe.js", "cloud", "--listen", "127.0.0.1:0", "--ca", certificatePath], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const waitForOutput = async (pattern: RegExp): Promise<RegExpMatchArray> => {
      const deadline = Date.now() + 20000;
      for (;;) {
        const match = stdout.match(pattern);
        if (match) return match;
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no ${pattern} in output:\n${stdout}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const [, port] = await waitForOutput(/virtual cloud listening on 127\.0\.0\.1:(\d+) /);
      const tls = await TlsClient.connect(await connectTcp("127.0.0.1", Number(port)), {
        serverName: "localhost",
        platform,
        provider: nobleCrypto,
        trustAnchors: [ca.certificatePem],
        credential: device.credential,
      });
      const client = await MqttClient.connect(tls, { platform, clientId: "cli-dev" });
      await client.publish("devices/device-042/telemetry", "hello cloud", { qos: 1 });
      await client.disconnect();
      await waitForOutput(/cloud: device-042 connected \(client id cli-dev/);
      await waitForOutput(/cloud: device-042 → devices\/device-042\/telemetry \(QoS 1, 11 bytes\): "hello cloud"/);
      child.kill("SIGINT");
      assert.equal(await exited, 0, stderr);
      assert.match(stderr, /virtual cloud stopped \(1 messages received\)/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("explains a missing --ca", async () => {
    const result = spawnSync(process.execPath, ["bin/iotsafe.js", "cloud", "--listen", "127.0.0.1:0"], { encoding: "utf8" });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--ca CA\.pem is required/);
  });
});
