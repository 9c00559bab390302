// Readings from the outbox to a (scripted) broker: QoS 1, a bounded in-flight window, removal by
// PUBACK only, and re-sending with DUP and the same packet identifier after a dropped connection
// and after a reboot (MQTT 3.1.1 §4.4, MQTT-3.3.1-1).
import { bytesToUtf8 } from "../../../modules/bytes/bytes.js";
import { Outbox, type OutboxEntry } from "../../../modules/device/outbox.js";
import { OutboxSession, pumpOutbox } from "../../../modules/device/telemetry.js";
import type { MqttPacket } from "../../../modules/mqtt/codec.js";
import { MemoryStore } from "../../../modules/platform/storage.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { connectedClient, type FakeBroker } from "../mqtt/fake-broker.js";

type Publish = Extract<MqttPacket, { type: "publish" }>;

const topicOf = (entry: OutboxEntry) => `devices/dev-1/${entry.sensor}`;

async function nextPublish(broker: FakeBroker): Promise<Publish> {
  const packet = await broker.nextPacket();
  if (packet.type !== "publish") throw new Error(`expected PUBLISH, got ${packet.type}`);
  return packet;
}

const puback = (packetId: number) => `40 02 ${(packetId >> 8).toString(16).padStart(2, "0")} ${(packetId & 0xff).toString(16).padStart(2, "0")}`;
const readingId = (p: Publish) => (JSON.parse(bytesToUtf8(p.payload)) as { id: number }).id;

describe("device telemetry (outbox → MQTT)", () => {
  it("publishes stored readings at QoS 1, at most the window at once, and deletes each only on its PUBACK", async () => {
    const platform = new ManualPlatform();
    const store = new MemoryStore();
    const outbox = Outbox.open(store, { capacity: 10, maxInflight: 2 });
    for (let i = 1; i <= 3; i++) outbox.add("temperature", i, 0);
    const session = new OutboxSession(outbox, topicOf);
    const { client, broker } = await connectedClient({ platform, clientId: "dev-1", session, keepAliveSeconds: 0 });
    let stop = false;
    const pumping = pumpOutbox(client, session, outbox, topicOf, () => stop);
    const first = await nextPublish(broker);
    const second = await nextPublish(broker);
    assert.deepEqual([first.qos, first.dup, first.topic, readingId(first)], [1, false, "devices/dev-1/temperature", 1]);
    assert.equal(readingId(second), 2);
    await platform.settle();
    assert.equal(broker.queue.length, 0, "reading 3 waits: two are in flight");
    assert.deepEqual(outbox.inflight.map((e) => [e.id, e.packetId]), [
      [1, first.packetId],
      [2, second.packetId],
    ]);
    broker.send(puback(first.packetId!));
    const third = await nextPublish(broker);
    assert.equal(readingId(third), 3);
    assert.deepEqual(outbox.entries.map((e) => e.id), [2, 3], "reading 1 deleted by its PUBACK, and only it");
    assert.ok(!store.keys().includes("r1"));
    // A new reading while connected goes out at once when the window has room.
    broker.send(puback(second.packetId!));
    await platform.settle();
    outbox.add("temperature", 4, 0);
    assert.equal(readingId(await nextPublish(broker)), 4);
    stop = true;
    outbox.onChange?.();
    assert.deepEqual(await pumping, { stopped: true });
  });

  it("after a dropped connection, the next one re-sends the unacknowledged readings first, with DUP and the same identifiers", async () => {
    const platform = new ManualPlatform();
    const outbox = Outbox.open(new MemoryStore(), { capacity: 10, maxInflight: 2 });
    outbox.add("t", 1, 0);
    outbox.add("t", 2, 0);
    outbox.add("t", 3, 0);
    const session = new OutboxSession(outbox, topicOf);
    const one = await connectedClient({ platform, clientId: "dev-1", session, keepAliveSeconds: 0 });
    const pumping = pumpOutbox(one.client, session, outbox, topicOf, () => false);
    const a = await nextPublish(one.broker);
    const b = await nextPublish(one.broker);
    one.broker.drop();
    const ended = await pumping;
    assert.ok(!ended.stopped && ended.error, "the pump reports the lost connection");
    assert.equal(outbox.size, 3, "nothing removed without a PUBACK");

    const two = await connectedClient({ platform, clientId: "dev-1", session, keepAliveSeconds: 0 });
    void pumpOutbox(two.client, session, outbox, topicOf, () => false);
    const again = [await nextPublish(two.broker), await nextPublish(two.broker)];
    assert.deepEqual(again.map((p) => [p.dup, p.packetId, readingId(p)]), [
      [true, a.packetId, 1],
      [true, b.packetId, 2],
    ]);
    two.broker.send(puback(a.packetId!));
    const c = await nextPublish(two.broker);
    assert.deepEqual([c.dup, readingId(c)], [false, 3]);
    assert.deepEqual(outbox.entries.map((e) => e.id), [2, 3]);
    await two.client.abort();
  });

  it("after a reboot, readings sent before it go out again with DUP and their stored identifiers; the others as new", async () => {
    const platform = new ManualPlatform();
    const store = new MemoryStore();
    const before = Outbox.open(store, { capacity: 10, maxInflight: 2 });
    for (let i = 1; i <= 3; i++) before.add("t", i, 0);
    const oldSession = new OutboxSession(before, topicOf);
    const one = await connectedClient({ platform, clientId: "dev-1", session: oldSession, keepAliveSeconds: 0 });
    void pumpOutbox(one.client, oldSession, before, topicOf, () => false);
    const sent = [await nextPublish(one.broker), await nextPublish(one.broker)];
    // Power cut: nothing is closed cleanly; only the store survives.

    const after = Outbox.open(store, { capacity: 10, maxInflight: 2 });
    const session = new OutboxSession(after, topicOf);
    assert.equal(session.inflightCount, 2);
    const two = await connectedClient({ platform, clientId: "dev-1", session, keepAliveSeconds: 0 });
    void pumpOutbox(two.client, session, after, topicOf, () => false);
    const resent = [await nextPublish(two.broker), await nextPublish(two.broker)];
    assert.deepEqual(resent.map((p) => [p.dup, p.packetId, readingId(p)]), sent.map((p) => [true, p.packetId, readingId(p)]));
    two.broker.send(puback(resent[0]!.packetId!));
    two.broker.send(puback(resent[1]!.packetId!));
    const third = await nextPublish(two.broker);
    assert.deepEqual([third.dup, readingId(third)], [false, 3]);
    two.broker.send(puback(third.packetId!));
    await platform.settle();
    assert.equal(after.size, 0);
    assert.equal(Outbox.open(store, { capacity: 10, maxInflight: 2 }).size, 0, "all three deleted in storage");
    await two.client.abort();
    await one.client.abort();
  });
});
