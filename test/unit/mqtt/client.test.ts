// The MQTT client's state machine against a scripted broker on an in-memory link: the bytes it
// sends (compared with byte strings written from the MQTT 3.1.1 spec), how it treats each answer,
// and how it fails. Timeouts run on ManualPlatform's virtual clock.
import { asciiToBytes, bytesToAscii, fromHex } from "../../../modules/bytes/bytes.js";
import { MqttClient, type MqttMessage } from "../../../modules/mqtt/client.js";
import {
  MqttArgumentError,
  MqttBadCredentialsError,
  MqttClosedError,
  MqttConnectionLostError,
  MqttConnectionRefusedError,
  MqttIdentifierRejectedError,
  MqttNotAuthorizedError,
  MqttPacketTooLargeError,
  MqttProtocolError,
  MqttRemainingLengthError,
  MqttServerUnavailableError,
  MqttSubscribeRefusedError,
  MqttTimeoutError,
  MqttUnacceptableProtocolVersionError,
} from "../../../modules/mqtt/errors.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { brokerPair, connectedClient, watch } from "./fake-broker.js";

const hex = (text: string) => fromHex(text.replace(/\s+/g, ""));

describe("MQTT client: connecting", () => {
  it("sends CONNECT as the spec encodes it and is connected after CONNACK 0", async () => {
    const platform = new ManualPlatform();
    const { stream, broker } = brokerPair();
    const connecting = watch(MqttClient.connect(stream, { platform, clientId: "c", keepAliveSeconds: 60 }));
    await broker.nextPacket();
    assert.deepEqual(broker.takeBytes(), hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63"));
    await platform.settle();
    assert.ok(!connecting.settled, "waits for CONNACK");
    broker.send("20 02 00 00");
    await platform.settle();
    const client = connecting.value!;
    assert.ok(client.connected);
    assert.equal(client.sessionPresent, false);
  });

  it("sends will, user name and password in the order of MQTT-3.1.3-1 (flags CE as in Figure 3.6)", async () => {
    const platform = new ManualPlatform();
    const { stream, broker } = brokerPair();
    void MqttClient.connect(stream, {
      platform,
      clientId: "dev1",
      keepAliveSeconds: 10,
      will: { topic: "a/b", payload: "bye", qos: 1 },
      username: "u",
      password: "p",
    }).catch(() => undefined);
    await broker.nextPacket();
    assert.deepEqual(broker.takeBytes(), hex("10 20 00 04 4d 51 54 54 04 ce 00 0a 00 04 64 65 76 31 00 03 61 2f 62 00 03 62 79 65 00 01 75 00 01 70"));
    broker.drop();
  });

  it("reports the session present flag", async () => {
    const { client } = await connectedClient({ platform: new ManualPlatform(), clientId: "c", cleanSession: false }, "20 02 01 00");
    assert.equal(client.sessionPresent, true);
  });

  const refusals: [number, abstract new (...args: never[]) => Error][] = [
    [1, MqttUnacceptableProtocolVersionError],
    [2, MqttIdentifierRejectedError],
    [3, MqttServerUnavailableError],
    [4, MqttBadCredentialsError],
    [5, MqttNotAuthorizedError],
  ];
  for (const [code, type] of refusals) {
    it(`turns CONNACK return code ${code} into ${type.name} and closes the stream`, async () => {
      const { stream, broker } = brokerPair();
      const connecting = MqttClient.connect(stream, { platform: new ManualPlatform(), clientId: "c" });
      await broker.nextPacket();
      broker.send(`20 02 00 0${code}`);
      const error = await assert.rejects(connecting, type);
      assert.equal((error as MqttConnectionRefusedError).returnCode, code);
      await broker.waitClosed();
    });
  }

  it("turns a reserved return code into MqttConnectionRefusedError with that code", async () => {
    const { stream, broker } = brokerPair();
    const connecting = MqttClient.connect(stream, { platform: new ManualPlatform(), clientId: "c" });
    await broker.nextPacket();
    broker.send("20 02 00 07");
    const error = await assert.rejects(connecting, MqttConnectionRefusedError, /reserved/);
    assert.equal((error as MqttConnectionRefusedError).returnCode, 7);
  });

  it("refuses any other first packet from the broker (MQTT-3.2.0-1)", async () => {
    const { stream, broker } = brokerPair();
    const connecting = MqttClient.connect(stream, { platform: new ManualPlatform(), clientId: "c" });
    await broker.nextPacket();
    broker.send("d0 00");
    await assert.rejects(connecting, MqttProtocolError, /before CONNACK/);
    await broker.waitClosed();
  });

  it("gives up when no CONNACK comes within connectTimeoutMs", async () => {
    const platform = new ManualPlatform();
    const { stream, broker } = brokerPair();
    const connecting = watch(MqttClient.connect(stream, { platform, clientId: "c", connectTimeoutMs: 5000 }));
    await broker.nextPacket();
    await platform.advance(4999);
    assert.ok(!connecting.settled);
    await platform.advance(1);
    assert.ok(connecting.error instanceof MqttTimeoutError, String(connecting.error));
    await broker.waitClosed();
    assert.equal(platform.pendingTimers, 0, "no timer left behind");
  });

  it("reports a broker that hangs up before CONNACK as a lost connection", async () => {
    const { stream, broker } = brokerPair();
    const connecting = MqttClient.connect(stream, { platform: new ManualPlatform(), clientId: "c" });
    await broker.nextPacket();
    broker.drop();
    await assert.rejects(connecting, MqttConnectionLostError, /before CONNACK/);
  });

  it("validates options before sending a byte", async () => {
    const { stream, broker } = brokerPair();
    const platform = new ManualPlatform();
    await assert.rejects(MqttClient.connect(stream, { platform, clientId: "", cleanSession: false }), MqttArgumentError, /3\.1\.3-7/);
    await assert.rejects(MqttClient.connect(stream, { platform, clientId: "c", will: { topic: "a/#", payload: "x" } }), MqttArgumentError, /wildcard/);
    await assert.rejects(MqttClient.connect(stream, { platform, clientId: "c", keepAliveSeconds: 70000 }), MqttArgumentError);
    await platform.settle();
    assert.equal(broker.received.length, 0);
  });
});

describe("MQTT client: publishing", () => {
  it("QoS 0: one PUBLISH packet, no packet identifier", async () => {
    const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c" });
    await client.publish("a/b", "hi");
    await broker.nextPacket();
    assert.deepEqual(broker.takeBytes(), hex("30 07 00 03 61 2f 62 68 69"));
  });

  it("QoS 1: resolves only on the matching PUBACK, and the session forgets the message then", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c" });
    const acknowledged: number[] = [];
    client.session.onAcknowledged = (m) => acknowledged.push(m.packetId);
    const publishing = watch(client.publish("a/b", asciiToBytes("hi"), { qos: 1, retain: true }));
    await broker.nextPacket();
    // first byte 0011 0011: PUBLISH, DUP 0, QoS 1, RETAIN 1; packet identifier 1
    assert.deepEqual(broker.takeBytes(), hex("33 09 00 03 61 2f 62 00 01 68 69"));
    assert.equal(client.session.inflightCount, 1);
    broker.send("40 02 00 02"); // a PUBACK for an identifier not in flight: ignored
    await platform.settle();
    assert.ok(!publishing.settled);
    assert.ok(client.connected);
    broker.send("40 02 00 01");
    await platform.settle();
    assert.ok(publishing.settled && publishing.error === undefined, String(publishing.error));
    assert.equal(client.session.inflightCount, 0);
    assert.deepEqual(acknowledged, [1]);
  });

  it("uses a fresh packet identifier for each message in flight", async () => {
    const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c" });
    void client.publish("t", "1", { qos: 1 }).catch(() => undefined);
    void client.publish("t", "2", { qos: 1 }).catch(() => undefined);
    const first = await broker.nextPacket();
    const second = await broker.nextPacket();
    assert.ok(first.type === "publish" && second.type === "publish");
    assert.deepEqual([first.packetId, second.packetId], [1, 2]);
    assert.deepEqual(client.session.inflight.map((m) => bytesToAscii(m.payload)), ["1", "2"]);
  });

  it("declares the connection dead when a PUBACK does not come within ackTimeoutMs", async () => {
    const platform = new ManualPlatform();
    const closes: (Error | undefined)[] = [];
    const { client, broker } = await connectedClient({ platform, clientId: "c", ackTimeoutMs: 8000, keepAliveSeconds: 0, onClose: (e) => closes.push(e) });
    const publishing = watch(client.publish("t", "x", { qos: 1 }));
    await broker.nextPacket();
    await platform.advance(8000);
    assert.ok(publishing.error instanceof MqttTimeoutError, String(publishing.error));
    assert.equal(closes.length, 1);
    assert.ok(closes[0] instanceof MqttTimeoutError);
    await broker.waitClosed();
    assert.equal(client.session.inflightCount, 1, "kept for the next connection");
  });

  it("refuses what it cannot publish", async () => {
    const { client } = await connectedClient({ platform: new ManualPlatform(), clientId: "c" });
    await assert.rejects(client.publish("a/+", "x"), MqttArgumentError, /wildcard/);
    await assert.rejects(client.publish("a", "x", { qos: 2 as 1 }), MqttArgumentError, /QoS 2/);
    await assert.rejects(client.publish("", "x"), MqttArgumentError, /empty/);
  });
});

describe("MQTT client: subscriptions", () => {
  it("SUBSCRIBE resolves with the granted QoS of each filter", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c" });
    const subscribing = client.subscribe(["a/b", { topicFilter: "c/d", qos: 1 }]);
    await broker.nextPacket();
    assert.deepEqual(broker.takeBytes(), hex("82 0e 00 01 00 03 61 2f 62 00 00 03 63 2f 64 01"));
    broker.send("90 04 00 01 00 01");
    assert.deepEqual(await subscribing, [0, 1]);
  });

  it("SUBACK failure (0x80) rejects with MqttSubscribeRefusedError naming the filter", async () => {
    const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c" });
    const subscribing = client.subscribe(["ok/1", "denied/2"], 1);
    await broker.nextPacket();
    broker.send("90 04 00 01 01 80");
    const error = (await assert.rejects(subscribing, MqttSubscribeRefusedError, /denied\/2/)) as MqttSubscribeRefusedError;
    assert.deepEqual([...error.refused], ["denied/2"]);
    assert.deepEqual([...error.returnCodes], [1, 0x80]);
    assert.ok(client.connected, "a refused subscription does not end the connection");
  });

  it("a SUBACK with the wrong number of return codes is a protocol error", async () => {
    const closes: (Error | undefined)[] = [];
    const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c", onClose: (e) => closes.push(e) });
    const subscribing = client.subscribe(["a", "b"]);
    await broker.nextPacket();
    broker.send("90 03 00 01 00");
    await assert.rejects(subscribing, MqttClosedError, /SUBACK has 1 return codes for 2/);
    assert.ok(closes[0] instanceof MqttProtocolError);
    await broker.waitClosed();
  });

  it("a SUBACK granting more than requested is a protocol error", async () => {
    const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c" });
    const subscribing = client.subscribe("a", 0);
    await broker.nextPacket();
    broker.send("90 03 00 01 02");
    await assert.rejects(subscribing, MqttClosedError, /grants QoS 2/);
  });

  it("a SUBACK nobody asked for is a protocol error", async () => {
    const closes: (Error | undefined)[] = [];
    const { broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c", onClose: (e) => closes.push(e) });
    broker.send("90 03 00 09 00");
    await broker.waitClosed();
    assert.ok(closes[0] instanceof MqttProtocolError);
  });

  it("UNSUBSCRIBE resolves on UNSUBACK", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c" });
    const unsubscribing = watch(client.unsubscribe(["a/b", "c/d"]));
    await broker.nextPacket();
    assert.deepEqual(broker.takeBytes(), hex("a2 0c 00 01 00 03 61 2f 62 00 03 63 2f 64"));
    await platform.settle();
    assert.ok(!unsubscribing.settled);
    broker.send("b0 02 00 01");
    await platform.settle();
    assert.ok(unsubscribing.settled && unsubscribing.error === undefined);
  });

  it("refuses invalid topic filters and QoS 2", async () => {
    const { client } = await connectedClient({ platform: new ManualPlatform(), clientId: "c" });
    await assert.rejects(client.subscribe("a#"), MqttArgumentError, /#/);
    await assert.rejects(client.subscribe("a/b", 2 as 1), MqttArgumentError, /QoS 2/);
    await assert.rejects(client.subscribe([]), MqttArgumentError);
    await assert.rejects(client.unsubscribe("sport+"), MqttArgumentError);
  });
});

describe("MQTT client: incoming messages", () => {
  it("delivers QoS 0 and QoS 1 messages and acknowledges QoS 1 with PUBACK", async () => {
    const platform = new ManualPlatform();
    const messages: MqttMessage[] = [];
    const { broker } = await connectedClient({ platform, clientId: "c", onMessage: (m) => void messages.push(m) });
    broker.send("30 07 00 03 61 2f 62 68 69"); // QoS 0
    broker.send("32 09 00 03 61 2f 62 00 0a 68 69"); // QoS 1, id 10 (Figure 3.11)
    const ack = await broker.nextPacket();
    assert.deepEqual(ack, { type: "puback", packetId: 10 });
    assert.deepEqual(broker.takeBytes(), hex("40 02 00 0a"));
    assert.deepEqual(
      messages.map((m) => [m.topic, bytesToAscii(m.payload), m.qos, m.retain, m.dup]),
      [
        ["a/b", "hi", 0, false, false],
        ["a/b", "hi", 1, false, false],
      ],
    );
  });

  it("acknowledges QoS 1 messages in the order they arrived (MQTT-4.6.0-2), even if the handler throws", async () => {
    const platform = new ManualPlatform();
    const { broker } = await connectedClient({
      platform,
      clientId: "c",
      onMessage: () => {
        throw new Error("application bug");
      },
    });
    broker.send("32 06 00 01 74 00 05 31  32 06 00 01 74 00 03 32  32 06 00 01 74 00 04 33");
    const ids = [(await broker.nextPacket()) as { packetId: number }, (await broker.nextPacket()) as { packetId: number }, (await broker.nextPacket()) as { packetId: number }];
    assert.deepEqual(
      ids.map((p) => p.packetId),
      [5, 3, 4],
    );
    assert.ok(platform.logs.some((l) => l.level === "error" && /application bug/.test(l.message)));
  });

  it("closes the connection on a QoS 2 message (this client never subscribes at QoS 2)", async () => {
    const closes: (Error | undefined)[] = [];
    const { broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c", onClose: (e) => closes.push(e) });
    broker.send("34 07 00 01 74 00 01 68 69");
    await broker.waitClosed();
    assert.ok(closes[0] instanceof MqttProtocolError, String(closes[0]));
  });

  for (const [title, bytes, type] of [
    ["a Remaining Length of five bytes", "30 ff ff ff ff 7f", MqttRemainingLengthError],
    ["a packet above maxPacketSize", "30 c8 01", MqttPacketTooLargeError],
    ["a server-only packet type from the broker (SUBSCRIBE)", "82 06 00 01 00 01 61 00", MqttProtocolError],
    ["a second CONNACK", "20 02 00 00", MqttProtocolError],
  ] as const) {
    it(`closes the connection on ${title}`, async () => {
      const closes: (Error | undefined)[] = [];
      const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c", maxPacketSize: 128, onClose: (e) => closes.push(e) });
      broker.send(bytes);
      await broker.waitClosed();
      assert.equal(closes.length, 1);
      assert.ok(closes[0] instanceof type, String(closes[0]));
      assert.ok(!client.connected);
      await assert.rejects(client.publish("t", "x"), MqttClosedError);
    });
  }
});

describe("MQTT client: closing", () => {
  it("disconnect() sends DISCONNECT, closes the stream and reports a clean close", async () => {
    const closes: (Error | undefined)[] = [];
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c", onClose: (e) => closes.push(e) });
    await client.disconnect();
    await broker.waitClosed();
    assert.deepEqual(broker.takeBytes(), hex("e0 00"));
    assert.deepEqual(closes, [undefined]);
    await assert.rejects(client.publish("t", "x"), MqttClosedError, /closed/);
    assert.equal(platform.pendingTimers, 0);
  });

  it("abort() closes without DISCONNECT", async () => {
    const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c" });
    await client.abort();
    await broker.waitClosed();
    assert.equal(broker.takeBytes().length, 0);
  });

  it("a broker that drops the connection fails what waits and keeps QoS 1 messages in the session", async () => {
    const closes: (Error | undefined)[] = [];
    const { client, broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c", onClose: (e) => closes.push(e) });
    const publishing = client.publish("t", "x", { qos: 1 });
    const subscribing = client.subscribe("s");
    await broker.nextPacket();
    await broker.nextPacket();
    broker.drop();
    await assert.rejects(publishing, MqttClosedError, /PUBACK of packet 1/);
    await assert.rejects(subscribing, MqttClosedError, /SUBACK of packet 2/);
    assert.ok(closes[0] instanceof MqttConnectionLostError);
    assert.equal(client.session.inflightCount, 1);
  });

  it("a failing stream is reported as MqttConnectionLostError carrying the stream's error", async () => {
    const closes: (Error | undefined)[] = [];
    const { broker } = await connectedClient({ platform: new ManualPlatform(), clientId: "c", onClose: (e) => closes.push(e) });
    const failure = new Error("modem socket reset");
    broker.link.fail(failure);
    await broker.waitClosed();
    await new ManualPlatform().settle();
    assert.ok(closes[0] instanceof MqttConnectionLostError);
    assert.equal((closes[0] as MqttConnectionLostError).reason, failure);
    assert.match(closes[0]!.message, /modem socket reset/);
  });
});
