// The firmware in the Moddable desktop simulator (mcsim, headless under Xvfb), reaching the virtual
// modem over TCP: boot, IoT SAFE, TLS 1.3 with the key in the SIM, MQTT, ten publishes acknowledged
// by the virtual cloud — with the XS machine sized exactly as on the ESP32 boards (the manifest's
// fixed-size creation, which the simulator enforces like the device). Skips without the SDK.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, runSimulator, skipWithoutModdable } from "../lib/moddable-sdk.js";

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

  it("boots, opens TLS 1.3 with the SIM's key and gets ten readings acknowledged, within the ESP32's XS machine sizes", async () => {
    const run = await runSimulator(["--state", state, "--messages", "10", "--timeout", "300"], 400000);
    assert.equal(run.exitCode, 0, run.abort ?? run.failed ?? run.output.slice(-3000));
    const summary = run.done as unknown as Summary;
    assert.equal(summary.acknowledged, 10);
    assert.equal(summary.connections, 1);
    assert.equal(summary.failures, 0);
    for (const phase of ["init", "attach", "iotsafe", "certificate", "tls", "mqtt"]) assert.ok(phase in summary.bootPhases, `phase ${phase}`);
    assert.match(summary.tls!.cipherSuite, /^TLS_/);
    assert.match(run.output, /crypto moddable-native/, "the device selected the native provider");
    assert.match(run.output, /CertificateVerify signed in the SIM/);
    // The run used the manifest's ESP32 machine: the stack never came near its end.
    const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as { platforms: Record<string, { creation?: { stack: number } }> };
    const stackSlots = manifest.platforms["lin"]!.creation!.stack;
    assert.equal(stackSlots, manifest.platforms["esp32/*"]!.creation!.stack, "the simulator runs with the boards' sizes");
    const used = run.instruments?.["Stack used"];
    const available = run.instruments?.["Stack available"];
    assert.ok(used !== undefined && available !== undefined && available > 0, "instrumentation reported the stack");
    assert.ok(used <= 0.7 * available, `stack peak ${used} of ${available} bytes leaves less than 30% headroom`);
  });
});
