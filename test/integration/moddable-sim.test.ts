// The firmware in the Moddable desktop simulator (mcsim, headless under Xvfb), reaching the virtual
// modem over TCP: boot, IoT SAFE, TLS 1.3 with the key in the SIM, MQTT, ten publishes acknowledged
// by the virtual cloud — with the XS machine sized exactly as on the ESP32 boards (the manifest's
// fixed-size creation, which the simulator enforces like the device). Skips without the SDK.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { machineBytesOn32Bit, manifestMachine, memoryHeadroom, repoRoot, runSimulator, skipWithoutModdable } from "../lib/moddable-sdk.js";

interface Summary {
  acknowledged: number;
  connections: number;
  failures: number;
  bootPhases: Record<string, number>;
  tls?: { cipherSuite: string; group: string };
}

describe("firmware in the Moddable simulator", function () {
  this.timeout(600000);
  let state: string;

  before(function () {
    skipWithoutModdable(this, { simulator: true });
    // A state folder of its own: dev CA, SIM profile with the device key and certificate, server certificate.
    state = mkdtempSync(join(tmpdir(), "iotsafe-moddable-"));
    const demo = spawnSync(process.execPath, [join(repoRoot, "bin/iotsafe.js"), "demo", "--state", state, "--messages", "1", "--interval", "200"], { cwd: repoRoot, encoding: "utf8", timeout: 180000 });
    assert.equal(demo.status, 0, `iotsafe demo could not create the state folder:\n${demo.stdout}\n${demo.stderr}`);
  });
  after(() => {
    if (state) rmSync(state, { recursive: true, force: true });
  });

  it("boots, opens TLS 1.3 with the SIM's key and gets ten readings acknowledged, within the ESP32's XS machine and with 30% headroom", async () => {
    // --memory: the machine is the manifest's (fixed sizes, enforced by mcsim like the device), and a
    // probe collects garbage every 20 ms and at each device event to find the largest live heap.
    const run = await runSimulator(["--state", state, "--messages", "10", "--timeout", "300", "--memory"], 400000);
    assert.equal(run.exitCode, 0, run.abort ?? run.failed ?? run.output.slice(-3000));
    const summary = run.done as unknown as Summary;
    assert.equal(summary.acknowledged, 10);
    assert.equal(summary.connections, 1);
    assert.equal(summary.failures, 0);
    for (const phase of ["init", "attach", "iotsafe", "certificate", "tls", "mqtt"]) assert.ok(phase in summary.bootPhases, `phase ${phase}`);
    assert.match(summary.tls!.cipherSuite, /^TLS_/);
    assert.match(run.output, /crypto moddable-native/, "the device selected the native provider");
    assert.match(run.output, /CertificateVerify signed in the SIM/);
    const boards = manifestMachine("esp32/*");
    assert.deepEqual(manifestMachine("lin"), boards, "the simulator runs with the boards' machine");
    assert.ok(machineBytesOn32Bit(boards) <= 162 * 1024, "the machine fits the ESP32's usual ~160 KiB for XS");
    const { peak, headroom } = memoryHeadroom(run, boards);
    const figures = `live peaks ${peak.slots} slots, ${peak.chunkBytes} chunk bytes, ${peak.stackSlots} stack slots`;
    assert.ok(headroom.slots >= 0.3, `${figures}: ${boards.heapSlots} slots leave less than 30% headroom`);
    assert.ok(headroom.chunks >= 0.3, `${figures}: ${boards.chunkBytes} chunk bytes leave less than 30% headroom`);
    assert.ok(headroom.stack >= 0.3, `${figures}: ${boards.stackSlots} stack slots leave less than 30% headroom`);
  });
});
