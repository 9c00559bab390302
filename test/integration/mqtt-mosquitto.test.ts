/**
 * The firmware's MQTT client over the firmware's TLS 1.3 client against a real mosquitto 2.0 broker
 * (software nobody on this team wrote), configured as in docs/peers.md: TLS 1.3 only, a client
 * certificate required, the certificate's CN used as the user name. A real `mosquitto_pub` process
 * publishes to us. Skipped, with the reason, when mosquitto is not installed (CI installs it).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { bytesToAscii } from "../../modules/bytes/bytes.js";
import { nobleCrypto } from "../../modules/crypto/noble-provider.js";
import { MqttClient, type MqttClientOptions, type MqttMessage } from "../../modules/mqtt/client.js";
import { MqttClosedError, MqttConnectionLostError } from "../../modules/mqtt/errors.js";
import { TlsClient } from "../../modules/tls/client.js";
import { softwareCredentialFromPem } from "../../modules/tls/software-credential.js";
import { countingCredential } from "../lib/portable/counting-credential.js";
import { connectTcp } from "../../hosts/node/socket-transport.js";
import { nodePlatform } from "../../hosts/node/platform.js";
import { findProgram, MOSQUITTO, type MosquittoBroker, startMosquitto, waitUntil } from "../lib/mosquitto.js";
import { makePki, type Pki } from "./tls-peers.js";

const platform = nodePlatform({ logLevel: "error" });

const MOSQUITTO_PUB = findProgram("mosquitto_pub");

describe("MQTT client over TLS 1.3 against mosquitto 2.0", function () {
  this.timeout(60000);
  let pki: Pki;
  let broker: MosquittoBroker;
  const clients: MqttClient[] = [];

  before(async function () {
    if (!MOSQUITTO) {
      console.warn("    mosquitto is not installed (apt-get install mosquitto mosquitto-clients): skipping the mosquitto interop tests");
      this.skip();
    }
    this.timeout(120000);
    pki = makePki();
    broker = await startMosquitto(pki.dir);
  });
  after(async () => {
    await broker?.stop();
    pki?.remove();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.abort();
  });

  /** The TlsClient openTls() made last (its session tickets arrive after the handshake). */
  let lastTls: TlsClient | undefined;

  async function openTls(withCertificate = true): Promise<TlsClient> {
    lastTls = await TlsClient.connect(await connectTcp("127.0.0.1", broker.port), {
      serverName: "localhost",
      platform,
      provider: nobleCrypto,
      trustAnchors: [pki.read("ca.pem")],
      ...(withCertificate ? { credential: softwareCredentialFromPem(pki.read("client.key"), pki.read("client.pem")) } : {}),
    });
    return lastTls;
  }

  async function openMqtt(options: Partial<MqttClientOptions> & { clientId: string }): Promise<MqttClient> {
    const client = await MqttClient.connect(await openTls(), { platform, ...options });
    clients.push(client);
    return client;
  }

  function mosquittoPub(topic: string, message: string, qos: 0 | 1): void {
    execFileSync(
      MOSQUITTO_PUB!,
      ["-h", "127.0.0.1", "-p", String(broker.port), "--cafile", pki.path("ca.pem"), "--cert", pki.path("client.pem"), "--key", pki.path("client.key"), "--tls-version", "tlsv1.3", "-i", "pub-tool", "-t", topic, "-m", message, "-q", String(qos)],
      { timeout: 15000, stdio: ["ignore", "pipe", "pipe"] },
    );
  }

  it("connects with the client certificate; mosquitto takes the certificate's CN as the user name", async () => {
    const client = await openMqtt({ clientId: "iotsafe-cn-test", keepAliveSeconds: 30 });
    assert.equal(client.connected, true);
    assert.equal(client.sessionPresent, false);
    const log = await broker.waitForLog(/New client connected from 127\.0\.0\.1:\d+ as iotsafe-cn-test .*u'device-001'/);
    assert.match(log, /as iotsafe-cn-test \(p2, c1, k30, u'device-001'\)/);
  });

  it("reconnects by resuming the TLS session: mosquitto still takes the CN of the first handshake's certificate as the user name", async () => {
    const first = await MqttClient.connect(await openTls(), { platform, clientId: "iotsafe-resume-1" });
    clients.push(first);
    await first.ping(); // the tickets arrive after the handshake; a round trip makes sure they are in
    const ticket = lastTls!.tickets[0];
    assert.ok(ticket, "mosquitto issued a session ticket");
    await first.disconnect();
    const counting = countingCredential(softwareCredentialFromPem(pki.read("client.key"), pki.read("client.pem")));
    const resumedTls = await TlsClient.connect(await connectTcp("127.0.0.1", broker.port), {
      serverName: "localhost",
      platform,
      provider: nobleCrypto,
      trustAnchors: [pki.read("ca.pem")],
      credential: counting,
      resumption: ticket,
    });
    assert.equal(resumedTls.info.resumed, true);
    assert.equal(counting.signatures, 0, "the client key signed nothing");
    const second = await MqttClient.connect(resumedTls, { platform, clientId: "iotsafe-resume-2" });
    clients.push(second);
    await broker.waitForLog(/New client connected from 127\.0\.0\.1:\d+ as iotsafe-resume-2 .*u'device-001'/);
  });

  it("subscribes, publishes at QoS 0 and QoS 1 and receives its own messages back", async () => {
    const received: MqttMessage[] = [];
    let arrived: () => void = () => {};
    const client = await openMqtt({
      clientId: "iotsafe-pubsub",
      onMessage: (m) => {
        received.push(m);
        if (received.length === 2) arrived();
      },
    });
    const both = new Promise<void>((resolve) => (arrived = resolve));
    assert.deepEqual(await client.subscribe([{ topicFilter: "devices/device-001/#", qos: 1 }]), [1]);
    await client.publish("devices/device-001/telemetry", "qos0 21.5C", { qos: 0 });
    await client.publish("devices/device-001/telemetry", "qos1 21.6C", { qos: 1 });
    assert.equal(client.session.inflightCount, 0, "PUBACK received");
    await both;
    const texts = received.map((m) => [m.topic, bytesToAscii(m.payload), m.qos]);
    assert.deepEqual(texts.sort(), [
      ["devices/device-001/telemetry", "qos0 21.5C", 0],
      ["devices/device-001/telemetry", "qos1 21.6C", 1],
    ]);
    await client.unsubscribe("devices/device-001/#");
    await broker.waitForLog(/Received UNSUBSCRIBE from iotsafe-pubsub/);
  });

  it("receives a message published by a real mosquitto_pub process (QoS 1, acknowledged)", async function () {
    if (!MOSQUITTO_PUB) {
      console.warn("    mosquitto_pub is not installed (mosquitto-clients): skipping");
      this.skip();
    }
    let resolveMessage!: (m: MqttMessage) => void;
    const message = new Promise<MqttMessage>((resolve) => (resolveMessage = resolve));
    const client = await openMqtt({ clientId: "iotsafe-sub", onMessage: (m) => resolveMessage(m) });
    await client.subscribe("devices/device-001/cmd", 1);
    mosquittoPub("devices/device-001/cmd", "reboot please", 1);
    const m = await message;
    assert.equal(m.topic, "devices/device-001/cmd");
    assert.equal(bytesToAscii(m.payload), "reboot please");
    assert.equal(m.qos, 1);
    // Our PUBACK reached mosquitto (it logs each one it receives).
    await broker.waitForLog(/Received PUBACK from iotsafe-sub/);
  });

  it("keeps the connection alive with PINGREQ/PINGRESP (keep-alive 1 s) and measures a ping", async () => {
    const client = await openMqtt({ clientId: "iotsafe-ping", keepAliveSeconds: 1 });
    // Idle for three keep-alive periods: mosquitto drops a client silent for 1.5 periods, so staying
    // connected shows the PINGREQs arrive and the PINGRESPs are accepted.
    await waitUntil("three keep-alive PINGREQs", 15000, () => (client.stats.pingsSent >= 3 || !client.connected ? true : undefined));
    assert.equal(client.connected, true, String(client.closeError));
    const rtt = await client.ping();
    assert.ok(rtt >= 0 && rtt < 5000, `round trip ${rtt} ms`);
    const log = await broker.waitForLog(/Sending PINGRESP to iotsafe-ping/);
    assert.match(log, /Received PINGREQ from iotsafe-ping/);
  });

  it("re-sends an unacknowledged QoS 1 message with DUP after reconnecting (persistent session)", async () => {
    let resolveMessage!: (m: MqttMessage) => void;
    const delivered = new Promise<MqttMessage>((resolve) => (resolveMessage = resolve));
    const watcher = await openMqtt({ clientId: "iotsafe-watcher", onMessage: (m) => resolveMessage(m) });
    await watcher.subscribe("devices/device-001/outbox", 1);

    const first = await openMqtt({ clientId: "iotsafe-outbox", cleanSession: false });
    const publishing = first.publish("devices/device-001/outbox", "kept across connections", { qos: 1 });
    await first.abort(); // the connection dies before the PUBLISH leaves
    await assert.rejects(publishing, MqttClosedError);
    assert.equal(first.session.inflightCount, 1);

    const second = await openMqtt({ clientId: "iotsafe-outbox", cleanSession: false, session: first.session });
    assert.equal(second.stats.resent, 1);
    await waitUntil("the PUBACK of the re-sent message", 10000, () => (second.session.inflightCount === 0 ? true : undefined));
    const m = await delivered;
    assert.equal(bytesToAscii(m.payload), "kept across connections");
    assert.match(broker.log(), /Received PUBLISH from iotsafe-outbox \(d1, q1, r0, m1, 'devices\/device-001\/outbox'/);
    await second.disconnect();
    await broker.waitForLog(/Received DISCONNECT from iotsafe-outbox/);
  });

  it("is refused without a client certificate (mosquitto: peer did not return a certificate)", async () => {
    const tls = await openTls(false);
    await assert.rejects(MqttClient.connect(tls, { platform, clientId: "iotsafe-nocert" }), (error: unknown) => {
      assert.ok(error instanceof MqttConnectionLostError, String(error));
      assert.match(String((error as MqttConnectionLostError).reason), /Tls/);
      return true;
    });
    await broker.waitForLog(/peer did not return a certificate/);
  });
});
