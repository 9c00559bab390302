// QoS 1 messages that outlive a connection (MQTT 3.1.1 §4.4, §4.6): the next connection re-sends
// them with DUP set, their original packet identifiers, in their original order; the in-flight state
// can be exported and imported (for a durable outbox) and is checked when imported.
import { asciiToBytes, bytesToAscii, fromHex } from "../../../modules/bytes/bytes.js";
import { MqttClient } from "../../../modules/mqtt/client.js";
import { MqttArgumentError, MqttClosedError, MqttInflightFullError, MqttSessionError } from "../../../modules/mqtt/errors.js";
import { MqttSession, type InflightMessage } from "../../../modules/mqtt/session.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { brokerPair, connectedClient, watch } from "./fake-broker.js";

const hex = (text: string) => fromHex(text.replace(/\s+/g, ""));

describe("MQTT session: QoS 1 re-sent after a reconnect", () => {
  it("re-sends unacknowledged messages with DUP, same identifiers, same order; PUBACKs then clear them", async () => {
    const platform = new ManualPlatform();
    const session = new MqttSession();
    const acknowledged: InflightMessage[] = [];
    session.onAcknowledged = (m) => acknowledged.push(m);

    // First connection: two QoS 1 messages go out, the broker acknowledges neither and drops.
    const first = await connectedClient({ platform, clientId: "dev1", cleanSession: false, session });
    const p1 = first.client.publish("d/1", "one", { qos: 1 });
    const p2 = first.client.publish("d/2", "two", { qos: 1 });
    await first.broker.nextPacket();
    await first.broker.nextPacket();
    assert.deepEqual(first.broker.takeBytes(), hex("32 0a 00 03 64 2f 31 00 01 6f 6e 65  32 0a 00 03 64 2f 32 00 02 74 77 6f"));
    first.broker.drop();
    await assert.rejects(p1, MqttClosedError);
    await assert.rejects(p2, MqttClosedError);
    assert.deepEqual(session.inflight.map((m) => m.packetId), [1, 2]);

    // Second connection with the same session: right after CONNACK, both again with DUP = 1.
    const second = await connectedClient({ platform, clientId: "dev1", cleanSession: false, session }, "20 02 01 00");
    await second.broker.nextPacket();
    await second.broker.nextPacket();
    assert.deepEqual(second.broker.takeBytes(), hex("3a 0a 00 03 64 2f 31 00 01 6f 6e 65  3a 0a 00 03 64 2f 32 00 02 74 77 6f"));
    assert.equal(second.client.stats.resent, 2);
    second.broker.send("40 02 00 01  40 02 00 02");
    await platform.settle();
    assert.equal(session.inflightCount, 0);
    assert.deepEqual(acknowledged.map((m) => bytesToAscii(m.payload)), ["one", "two"]);

    // A new message continues the identifier sequence.
    void second.client.publish("d/3", "three", { qos: 1 }).catch(() => undefined);
    const third = await second.broker.nextPacket();
    assert.ok(third.type === "publish" && third.packetId === 3 && !third.dup);
  });

  it("exports the in-flight state and restores it into a new session (a durable outbox across a reboot)", async () => {
    const platform = new ManualPlatform();
    const first = await connectedClient({ platform, clientId: "dev1", cleanSession: false });
    void first.client.publish("d/t", asciiToBytes("21.5"), { qos: 1, retain: true }).catch(() => undefined);
    await first.broker.nextPacket();
    const snapshot = first.client.session.snapshot();
    assert.deepEqual(snapshot, { nextPacketId: 2, inflight: [{ packetId: 1, topic: "d/t", payload: asciiToBytes("21.5"), retain: true }] });
    await first.client.abort();

    const restored = MqttSession.fromSnapshot(snapshot);
    const second = await connectedClient({ platform, clientId: "dev1", cleanSession: false, session: restored });
    await second.broker.nextPacket();
    // DUP 1, QoS 1, RETAIN 1 = 0x3b
    assert.deepEqual(second.broker.takeBytes(), hex("3b 0b 00 03 64 2f 74 00 01 32 31 2e 35"));
  });

  it("refuses to serve two live connections at once", async () => {
    const platform = new ManualPlatform();
    const session = new MqttSession();
    const first = await connectedClient({ platform, clientId: "a", session });
    const { stream } = brokerPair();
    await assert.rejects(MqttClient.connect(stream, { platform, clientId: "a", session }), MqttArgumentError, /already in use/);
    await first.client.disconnect();
    // Free again once the first connection is closed.
    const again = await connectedClient({ platform, clientId: "a", session });
    assert.ok(again.client.connected);
  });

  it("bounds the messages in flight (maxInflight)", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c", session: new MqttSession({ maxInflight: 2 }) });
    const a = watch(client.publish("t", "a", { qos: 1 }));
    void client.publish("t", "b", { qos: 1 }).catch(() => undefined);
    await assert.rejects(client.publish("t", "c", { qos: 1 }), MqttInflightFullError);
    await client.publish("t", "qos0 still goes", { qos: 0 });
    await broker.nextPacket();
    broker.send("40 02 00 01");
    await platform.settle();
    assert.ok(a.settled && a.error === undefined);
    void client.publish("t", "c", { qos: 1 }).catch(() => undefined);
    await platform.settle();
    assert.equal(client.session.inflightCount, 2);
  });
});

describe("MQTT session: snapshots and packet identifiers", () => {
  it("allocates identifiers 1..65535, wrapping and skipping those still in flight", () => {
    const session = MqttSession.fromSnapshot({ nextPacketId: 65535, inflight: [{ packetId: 1, topic: "t", payload: new Uint8Array(0), retain: false }] });
    assert.equal(session.allocatePacketId(), 65535);
    assert.equal(session.allocatePacketId(), 2, "1 is in flight");
    assert.equal(session.allocatePacketId((id) => id === 3), 4, "3 is used by a pending SUBSCRIBE");
  });

  it("refuses inconsistent snapshots", () => {
    const message = (packetId: number, topic = "t") => ({ packetId, topic, payload: new Uint8Array(1), retain: false });
    assert.throws(() => MqttSession.fromSnapshot({ nextPacketId: 0, inflight: [] }), MqttSessionError, /nextPacketId/);
    assert.throws(() => MqttSession.fromSnapshot({ nextPacketId: 1, inflight: [message(0)] }), MqttSessionError, /1\.\.65535/);
    assert.throws(() => MqttSession.fromSnapshot({ nextPacketId: 1, inflight: [message(70000)] }), MqttSessionError);
    assert.throws(() => MqttSession.fromSnapshot({ nextPacketId: 1, inflight: [message(4), message(4)] }), MqttSessionError, /repeats/);
    assert.throws(() => MqttSession.fromSnapshot({ nextPacketId: 1, inflight: [message(4, "a/#")] }), MqttSessionError, /topic/);
    assert.throws(() => MqttSession.fromSnapshot({ nextPacketId: 1, inflight: [message(1), message(2), message(3)] }, { maxInflight: 2 }), MqttSessionError, /maxInflight/);
    const bad = { nextPacketId: 1, inflight: [{ packetId: 1, topic: "t", payload: "text", retain: false }] } as unknown as Parameters<typeof MqttSession.fromSnapshot>[0];
    assert.throws(() => MqttSession.fromSnapshot(bad), MqttSessionError, /bytes/);
  });

  it("a snapshot is a copy: later changes do not leak into it", () => {
    const session = new MqttSession();
    const payload = asciiToBytes("x");
    session.add({ packetId: session.allocatePacketId(), topic: "t", payload, retain: false });
    const snapshot = session.snapshot();
    session.acknowledge(1);
    payload[0] = 0x79;
    assert.equal(snapshot.inflight.length, 1);
    assert.equal(bytesToAscii(snapshot.inflight[0]!.payload), "x");
  });
});
