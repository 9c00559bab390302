// Keep-alive (MQTT 3.1.1 §3.1.2.10): the client sends PINGREQ when it has sent nothing for a whole
// keep-alive period, and declares the connection dead when PINGRESP does not come back in time.
// All on ManualPlatform's virtual clock.
import { fromHex } from "../../../modules/bytes/bytes.js";
import { MqttClosedError, MqttKeepAliveTimeoutError } from "../../../modules/mqtt/errors.js";
import * as assert from "../../lib/portable/assert.js";
import { ManualPlatform } from "../../lib/portable/manual-platform.js";
import { connectedClient, watch } from "./fake-broker.js";

const PINGREQ = fromHex("c000");

describe("MQTT client: keep-alive", () => {
  it("sends PINGREQ after a keep-alive period of silence, not before, and stays up on PINGRESP", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c", keepAliveSeconds: 10 });
    await platform.advance(9999);
    assert.equal(broker.takeBytes().length, 0, "nothing before 10 s");
    await platform.advance(1);
    assert.deepEqual(broker.takeBytes(), PINGREQ);
    broker.send("d0 00");
    await platform.settle();
    await platform.advance(9999);
    assert.equal(broker.takeBytes().length, 0);
    await platform.advance(1);
    assert.deepEqual(broker.takeBytes(), PINGREQ, "the next one a period after the first");
    broker.send("d0 00");
    await platform.advance(9999);
    assert.ok(client.connected, "the answered PINGREQ does not time out");
    assert.equal(client.stats.pingsSent, 2);
  });

  it("any packet sent restarts the period", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c", keepAliveSeconds: 10 });
    await platform.advance(6000);
    await client.publish("t", "x");
    broker.takeBytes();
    await platform.advance(4000);
    assert.equal(broker.takeBytes().length, 0, "no PINGREQ at 10 s: the PUBLISH at 6 s counts");
    await platform.advance(5999);
    assert.equal(broker.takeBytes().length, 0);
    await platform.advance(1);
    assert.deepEqual(broker.takeBytes(), PINGREQ, "PINGREQ at 16 s");
  });

  it("declares the connection dead when PINGRESP does not come within pingTimeoutMs", async () => {
    const platform = new ManualPlatform();
    const closes: (Error | undefined)[] = [];
    const { client, broker } = await connectedClient({ platform, clientId: "c", keepAliveSeconds: 10, pingTimeoutMs: 3000, onClose: (e) => closes.push(e) });
    const subscribing = watch(client.subscribe("s"));
    await broker.nextPacket();
    broker.send("90 03 00 01 00");
    await platform.advance(10000);
    assert.ok(subscribing.settled);
    assert.deepEqual(broker.takeBytes().slice(-2), PINGREQ);
    await platform.advance(2999);
    assert.ok(client.connected);
    await platform.advance(1);
    assert.ok(!client.connected);
    assert.equal(closes.length, 1);
    assert.ok(closes[0] instanceof MqttKeepAliveTimeoutError, String(closes[0]));
    await broker.waitClosed();
    assert.equal(platform.pendingTimers, 0);
  });

  it("by default waits at most the keep-alive period for PINGRESP", async () => {
    const platform = new ManualPlatform();
    const closes: (Error | undefined)[] = [];
    const { broker } = await connectedClient({ platform, clientId: "c", keepAliveSeconds: 5, onClose: (e) => closes.push(e) });
    await platform.advance(5000);
    assert.deepEqual(broker.takeBytes(), PINGREQ);
    await platform.advance(4999);
    assert.equal(closes.length, 0);
    await platform.advance(1);
    assert.ok(closes[0] instanceof MqttKeepAliveTimeoutError);
  });

  it("keep-alive 0 sends no PINGREQ at all", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c", keepAliveSeconds: 0 });
    await platform.advance(24 * 3600 * 1000);
    assert.equal(broker.takeBytes().length, 0);
    assert.ok(client.connected);
  });

  it("ping() measures the round trip on the virtual clock", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c", keepAliveSeconds: 0 });
    const pinging = watch(client.ping());
    await broker.nextPacket();
    assert.deepEqual(broker.takeBytes(), PINGREQ);
    await platform.advance(250);
    broker.send("d0 00");
    await platform.settle();
    assert.equal(pinging.value, 250);
  });

  it("a pending ping() fails when the connection closes", async () => {
    const platform = new ManualPlatform();
    const { client, broker } = await connectedClient({ platform, clientId: "c" });
    const pinging = client.ping();
    await broker.nextPacket();
    broker.drop();
    await assert.rejects(pinging, MqttClosedError, /PINGRESP/);
  });
});
