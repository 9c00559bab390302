/**
 * The device application against a real mosquitto 2.0 (software nobody on this team wrote),
 * configured as docs/peers.md says but with `tls_version tlsv1.3`, using the demo's own state: the
 * broker's certificate and trusted CA are the ones `iotsafe demo` created. First as a user runs it
 * (`iotsafe demo --broker HOST:PORT --messages N`), then a power cut mid-run, where mosquitto's own
 * log shows the re-sent readings arriving with DUP set. Skipped when mosquitto is not installed.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type DeviceWorld, makeDeviceWorld, runDevice, storedOutbox } from "../lib/device-world.js";
import { cliPath } from "../lib/sim-world.js";
import { MOSQUITTO, type MosquittoBroker, startMosquitto, waitUntil } from "../lib/mosquitto.js";

const run = promisify(execFile);

/** mosquitto's "Received PUBLISH from CLIENT (dN, qN, rN, mN, 'TOPIC', ... (N bytes))" lines. */
function receivedPublishes(log: string, client = "device-001"): { dup: boolean; packetId: number; topic: string }[] {
  const pattern = new RegExp(`Received PUBLISH from ${client} \\(d(\\d), q(\\d), r\\d, m(\\d+), '([^']*)'`, "g");
  return [...log.matchAll(pattern)].map((m) => ({ dup: m[1] === "1", packetId: Number(m[3]), topic: m[4]! }));
}

describe("device application against mosquitto 2.0 (--broker)", function () {
  this.timeout(120000);
  let world: DeviceWorld;
  let broker: MosquittoBroker;
  before(function () {
    if (!MOSQUITTO) this.skip();
  });
  beforeEach(async () => {
    world = await makeDeviceWorld();
    // Only the broker's keys and config: the state directory holds the device's files too.
    broker = await startMosquitto(world.dir, { readable: (f) => f.endsWith(".pem") || f.endsWith(".key") || f.endsWith(".conf") });
  });
  afterEach(async () => {
    await broker?.stop();
    await world?.close();
  });

  it("iotsafe demo --broker: the device connects to mosquitto through the modem, as the SIM certificate's CN, and exits 0 after N acknowledged", async function () {
    const { stdout } = await run(process.execPath, [cliPath, "demo", "--state", world.dir, "--broker", `127.0.0.1:${broker.port}`, "--messages", "3", "--interval", "200"]);
    assert.match(stdout, /broker: 127\.0\.0\.1:\d+ \(external\)/);
    assert.doesNotMatch(stdout, /virtual cloud on/);
    assert.match(stdout, /TLS\s+handshake.*via the modem's socket/);
    assert.match(stdout, /done: [3-9] readings acknowledged/);
    const log = broker.log();
    assert.match(log, /u'device-001'/, "mosquitto took the certificate's CN as the user name");
    const publishes = receivedPublishes(log);
    assert.ok(publishes.length >= 3, log);
    assert.ok(publishes.every((p) => p.topic === "devices/device-001/telemetry"));
    assert.match(log, /Sending PUBACK to device-001/);
  });

  it("a power cut mid-run: the next boot re-sends the readings in flight with DUP set (mosquitto's log says d1) and the same packet ids", async function () {
    // 1 s of network latency holds each PUBACK back: when mosquitto logs a PUBLISH, the device does not know yet.
    const first = await world.startModem({ networkLatencyMs: 1000 });
    const config = { broker: { host: "127.0.0.1", port: broker.port, serverName: "localhost" }, publishIntervalMs: 100, backoff: { initialMs: 100, maxMs: 500 } };
    const run1 = runDevice({ modem: first, storageDir: world.storageDir, config });
    await waitUntil("mosquitto to receive two readings", 60000, () => (receivedPublishes(broker.log()).length >= 2 ? true : undefined), 20);
    await run1.kill();
    await assert.rejects(run1.done);
    await first.close();
    const inflight = storedOutbox(world.storageDir).filter((r) => r.packetId !== 0);
    const seenBefore = receivedPublishes(broker.log());
    assert.ok(inflight.length > 0, "readings were in flight at the cut");
    assert.ok(seenBefore.every((p) => !p.dup));

    const second = await world.startModem();
    const run2 = runDevice({ modem: second, storageDir: world.storageDir, config, messages: inflight.length + 1 });
    const { result } = await run2.done;
    assert.equal(result.mqtt.resent, inflight.length);
    const after = receivedPublishes(broker.log()).slice(seenBefore.length);
    const dups = after.filter((p) => p.dup);
    assert.deepEqual(
      dups.map((p) => p.packetId),
      inflight.map((r) => r.packetId),
      "each reading in flight at the cut came again, DUP set, with the packet id it was first sent with, in order",
    );
    assert.ok(
      dups.some((d) => seenBefore.some((p) => p.packetId === d.packetId)),
      "mosquitto had at least one of them already: a true re-delivery (at least once)",
    );
  });
});
