// The whole device in the simulator: the firmware's device application inside XS, the virtual
// modem (quectel-bg95, TLS through its sockets), the virtual IoT SAFE SIM, the virtual cloud. What
// the cloud receives is checked against what the device stored: nothing lost, repeats only for
// readings that were in flight, the dropped count exact.
import assert from "node:assert/strict";
import type { DeviceEvent } from "../../modules/device/device.js";
import { type DeviceWorld, makeDeviceWorld, receivedIds, runDevice, storedOutbox } from "../lib/device-world.js";
import { connectTcpLink } from "../../hosts/node/links.js";
import { freePort } from "./tls-peers.js";

const fastBackoff = { initialMs: 100, maxMs: 500, multiplier: 2, jitter: 0.5 };

function brokerConfig(port: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { broker: { host: "127.0.0.1", port, serverName: "localhost" }, publishIntervalMs: 150, backoff: fastBackoff, ...extra };
}

/** Every id from 1 to `upTo` once, after dropping repeats. */
function distinct(ids: number[]): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

describe("device application end to end (XS, virtual modem, SIM and cloud)", function () {
  this.timeout(90000);
  let world: DeviceWorld;
  beforeEach(async () => {
    world = await makeDeviceWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  for (const engine of ["xs", "node"] as const) {
    it(`${engine}: boots phase by phase and publishes N readings the cloud attributes to the SIM certificate's identity`, async function () {
      const cloud = await world.startCloud();
      const modem = await world.startModem();
      const run = runDevice({ modem, storageDir: world.storageDir, config: brokerConfig(cloud.port), messages: 5, engine });
      const { result, peakHeapCount } = await run.done;
      assert.equal(result.clientId, "device-001");
      assert.ok(result.acknowledged >= 5, "stops once 5 were acknowledged (those already in flight may follow)");
      const phases = run.events.filter((e): e is Extract<DeviceEvent, { type: "phase" }> => e.type === "phase").map((e) => e.phase);
      assert.deepEqual(phases, ["power-on", "init", "attach", "iotsafe", "certificate", "tls", "mqtt"]);
      const byPhase = Object.fromEntries(run.events.filter((e): e is Extract<DeviceEvent, { type: "phase" }> => e.type === "phase").map((e) => [e.phase, e]));
      assert.ok(byPhase["init"]!.traffic.atCommands > 0 && byPhase["init"]!.traffic.apdus === 0);
      assert.ok(byPhase["certificate"]!.traffic.apdus > 0, "the certificate is read from the SIM through APDUs");
      assert.ok(byPhase["tls"]!.traffic.apdus > 0, "the CertificateVerify is signed in the SIM");
      assert.match(byPhase["tls"]!.detail, /via the modem's socket/);
      assert.equal(result.telemetryTraffic.apdus, 0, "publishing needs no SIM operation");
      assert.ok(result.perAcknowledged && result.perAcknowledged.atCommands > 0);
      // The cloud: five readings, identity from the client certificate (not from anything the device claims).
      const mine = cloud.messages.filter((m) => m.identity === "device-001");
      assert.ok(mine.length >= 5);
      assert.ok(mine.every((m) => m.topic === "devices/device-001/telemetry" && m.qos === 1));
      assert.deepEqual(distinct(receivedIds(cloud.messages)).slice(0, 5), [1, 2, 3, 4, 5]);
      const first = JSON.parse(Buffer.from(mine[0]!.payload).toString("utf8")) as { sensor: string; value: { value: number; unit: string }; time: number; dropped: number };
      assert.equal(first.sensor, "temperature");
      assert.equal(first.value.unit, "Cel");
      assert.ok(Math.abs(first.time - Date.now()) < 60000, "stamped with the wall clock");
      assert.equal(first.dropped, 0);
      // What was not acknowledged is still stored; what was, is not.
      const left = storedOutbox(world.storageDir).map((r) => r.id);
      assert.equal(left.length, result.outbox.size);
      assert.ok(left.every((id) => id > 5));
      process.stdout.write(
        `      ${engine}: boot phases ${JSON.stringify(result.bootPhases)}; boot traffic ${JSON.stringify(result.bootTraffic)}; per reading ${JSON.stringify(result.perAcknowledged)}${peakHeapCount ? `; XS peak heap ${peakHeapCount}` : ""}\n`,
      );
    });
  }

  it("survives a reboot mid-run: the pending readings are re-sent (DUP, same packet ids), none lost; repeats only of readings in flight", async function () {
    const cloud = await world.startCloud();
    // Network latency holds each PUBACK back 300 ms: when the cloud has a reading, the device does not know yet.
    const first = await world.startModem({ networkLatencyMs: 300 });
    const run1 = runDevice({ modem: first, storageDir: world.storageDir, config: brokerConfig(cloud.port, { publishIntervalMs: 100 }) });
    await new Promise<void>((resolve) => {
      const stop = cloud.onMessage(() => {
        if (receivedIds(cloud.messages).length < 3) return;
        stop();
        void run1.kill(); // power cut, right as the cloud takes the third reading
        resolve();
      });
    });
    await assert.rejects(run1.done);
    await first.close();
    const stored = storedOutbox(world.storageDir);
    const inflightAtCut = stored.filter((r) => r.packetId !== 0).map((r) => r.id);
    const beforeReboot = receivedIds(cloud.messages);
    const beforeRebootCount = cloud.messages.length;
    assert.ok(inflightAtCut.length > 0, "readings were in flight at the power cut");
    assert.ok(inflightAtCut.some((id) => beforeReboot.includes(id)), "the cloud had some of them already");
    const highestStored = Math.max(...stored.map((r) => r.id));

    const second = await world.startModem();
    const run2 = runDevice({ modem: second, storageDir: world.storageDir, config: brokerConfig(cloud.port, { publishIntervalMs: 100 }), messages: stored.length + 2 });
    const { result } = await run2.done;
    assert.equal(result.mqtt.resent, inflightAtCut.length, "exactly the readings in flight were re-sent with DUP by the new session");
    // The broker's side of it: the re-sent readings arrived with DUP set, and nothing else did.
    const afterReboot = cloud.messages.slice(beforeRebootCount);
    const dupIds = receivedIds(afterReboot.filter((m) => m.dup));
    assert.deepEqual(dupIds.sort((a, b) => a - b), [...inflightAtCut].sort((a, b) => a - b));
    assert.ok(cloud.messages.slice(0, beforeRebootCount).every((m) => !m.dup), "no DUP before the reboot");
    const all = receivedIds(cloud.messages);
    // At least once: every reading stored before the cut reached the cloud.
    const missing = range(1, highestStored).filter((id) => !all.includes(id));
    assert.deepEqual(missing, [], "no reading lost");
    // Repeats happen only for readings that were in flight at the cut (at-least-once, deduplicated by id).
    const repeated = distinct(all.filter((id, i) => all.indexOf(id) !== i));
    assert.ok(repeated.length > 0, "the reading whose PUBACK the cut swallowed came again");
    assert.ok(
      repeated.every((id) => inflightAtCut.includes(id)),
      `repeats ${JSON.stringify(repeated)} ⊆ in flight at the cut ${JSON.stringify(inflightAtCut)}`,
    );
    // Deduplicated by reading id: each once, contiguous.
    assert.deepEqual(distinct(all), range(1, Math.max(...all)));
  });

  it("outbox full while the broker is unreachable: the oldest readings go, the count is kept and reported", async function () {
    const port = await freePort();
    const modem = await world.startModem();
    const run = runDevice({
      modem,
      storageDir: world.storageDir,
      config: brokerConfig(port, { publishIntervalMs: 60, outbox: { capacity: 5, inflight: 1 } }),
      messages: 6,
    });
    // Nothing listens on `port`: connections fail, the device backs off and retries; readings pile up.
    await run.waitFor((e) => e.type === "connection-lost");
    await run.waitFor((e) => e.type === "backoff");
    await run.waitFor((e) => e.type === "dropped" && e.total >= 4);
    const cloud = await world.startCloud(port);
    const { result } = await run.done;
    const drops = run.events.filter((e): e is Extract<DeviceEvent, { type: "dropped" }> => e.type === "dropped").map((e) => e.total);
    assert.deepEqual(drops, range(1, drops.length), "each drop reported once, the total counting up");
    assert.equal(result.outbox.dropped, drops.length);
    const received = distinct(receivedIds(cloud.messages));
    const left = storedOutbox(world.storageDir).map((r) => r.id);
    const dropped = range(1, result.outbox.nextId - 1).filter((id) => !received.includes(id) && !left.includes(id));
    assert.equal(dropped.length, result.outbox.dropped, `ids that vanished ${JSON.stringify(dropped)} are exactly the ones counted as dropped`);
    assert.ok(dropped.includes(1) && received[0]! > 1, "the oldest went first");
    const last = cloud.messages.filter((m) => m.identity === "device-001").map((m) => JSON.parse(Buffer.from(m.payload).toString("utf8")) as { id: number; dropped: number });
    assert.ok(last.some((r) => r.dropped >= 4), "readings carry the dropped count to the cloud");
    assert.ok(result.failures >= 1);
  });

  const faults: { name: string; inject: string; step?: RegExp }[] = [
    { name: "the network closes the TCP connection", inject: "socket-closed" },
    { name: "the data context drops", inject: "network-lost", step: /reactivate|reinit|soft-reset|hard-reset/ },
    { name: "the modem reboots by itself", inject: "reset", step: /reinit|reactivate|soft-reset|hard-reset/ },
    { name: "the modem hangs until the board's reset pin", inject: "hang", step: /hard-reset/ },
  ];
  for (const fault of faults) {
    it(`link drop — ${fault.name}: reconnects with backoff, no reading lost`, async function () {
      const cloud = await world.startCloud();
      const modem = await world.startModem({ bootTimeMs: 300 });
      const run = runDevice({ modem, storageDir: world.storageDir, config: brokerConfig(cloud.port, { outbox: { capacity: 2000, inflight: 4 } }), messages: 10 });
      await run.waitFor((e) => e.type === "acknowledged" && e.acknowledged >= 3);
      modem.linkModel!.inject(fault.inject);
      const { result } = await run.done;
      assert.ok(result.failures >= 1, "the failure was noticed");
      assert.ok(result.connections >= 2, "and the device connected again");
      assert.ok(run.events.some((e) => e.type === "backoff"), "after a backoff pause");
      if (fault.step) {
        const steps = Object.keys(result.recoveries);
        assert.ok(
          steps.some((s) => fault.step!.test(s)),
          `recovery ladder steps ${JSON.stringify(result.recoveries)} include ${fault.step}`,
        );
      }
      const all = receivedIds(cloud.messages);
      assert.deepEqual(distinct(all), range(1, Math.max(...all)), "every reading up to the last one received arrived (repeats dropped by id)");
      assert.ok(Math.max(...all) >= 10);
    });
  }

  /** The device's "tls" phase events, in order. */
  function tlsPhases(events: DeviceEvent[]) {
    return events.filter((e): e is Extract<DeviceEvent, { type: "phase" }> => e.type === "phase" && e.phase === "tls");
  }

  it("reconnecting after the network closed the connection resumes the TLS session: no APDU, the same identity at the cloud", async function () {
    const cloud = await world.startCloud();
    const modem = await world.startModem({ bootTimeMs: 300 });
    const run = runDevice({ modem, storageDir: world.storageDir, config: brokerConfig(cloud.port), messages: 8 });
    await run.waitFor((e) => e.type === "acknowledged" && e.acknowledged >= 3);
    modem.linkModel!.inject("socket-closed");
    const { result } = await run.done;
    assert.ok(result.connections >= 2, "the device connected again");
    const [full, ...later] = tlsPhases(run.events);
    assert.match(full!.detail, /CertificateVerify signed in the SIM/);
    assert.ok(full!.traffic.apdus > 0, "the first handshake used the SIM");
    assert.ok(later.length >= 1);
    for (const phase of later) {
      assert.match(phase.detail, /session resumed/);
      assert.equal(phase.traffic.apdus, 0, "a resumed handshake sends the SIM nothing");
    }
    assert.equal(result.tls!.resumptions, later.length);
    const identities = new Set(cloud.messages.map((m) => m.identity));
    assert.deepEqual([...identities], ["device-001"], "the cloud attributes every reading, before and after, to the SIM certificate's CN");
    const all = receivedIds(cloud.messages);
    assert.deepEqual(distinct(all), range(1, Math.max(...all)));
  });

  it('network "direct": TLS over a host link (for modems without sockets) with the generic dialect', async function () {
    const cloud = await world.startCloud();
    const modem = await world.startModem(undefined, "generic");
    const net = await connectTcpLink("127.0.0.1", cloud.port);
    const run = runDevice({ modem, storageDir: world.storageDir, config: brokerConfig(cloud.port, { network: "direct", modem: { dialect: "generic" } }), messages: 3, links: { net } });
    const { result } = await run.done;
    assert.ok(result.acknowledged >= 3);
    assert.match((run.events.find((e) => e.type === "phase" && e.phase === "tls") as { detail: string }).detail, /via the host link/);
    assert.deepEqual(distinct(receivedIds(cloud.messages)).slice(0, 3), [1, 2, 3]);
  });

  it("a dialect without sockets on the modem network ends the run with the driver's error instead of retrying forever", async function () {
    const cloud = await world.startCloud();
    const modem = await world.startModem(undefined, "generic");
    const run = runDevice({ modem, storageDir: world.storageDir, config: brokerConfig(cloud.port, { modem: { dialect: "generic" } }) });
    await assert.rejects(run.done, /ModemUnsupportedError|no socket commands/);
  });

  it("link drop — the cloud goes away and comes back on the same port: reconnects, no reading lost", async function () {
    const port = await freePort();
    let cloud = await world.startCloud(port);
    const modem = await world.startModem();
    const run = runDevice({ modem, storageDir: world.storageDir, config: brokerConfig(port), messages: 10 });
    await run.waitFor((e) => e.type === "acknowledged" && e.acknowledged >= 3);
    const before = receivedIds(cloud.messages);
    await cloud.close();
    await run.waitFor((e) => e.type === "backoff");
    cloud = await world.startCloud(port);
    const { result } = await run.done;
    assert.ok(result.connections >= 2);
    // The new cloud process cannot open the old one's ticket: it declines, and a full handshake follows.
    const phases = tlsPhases(run.events);
    assert.match(phases.at(-1)!.detail, /CertificateVerify signed in the SIM/);
    assert.equal(result.tls!.resumptions, 0);
    const all = [...before, ...receivedIds(cloud.messages)];
    assert.deepEqual(distinct(all), range(1, Math.max(...all)));
  });
});
