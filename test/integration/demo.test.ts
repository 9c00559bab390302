// `npm start` runs `iotsafe demo`: the whole device in the simulator. Run it as a user would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { cliPath } from "../lib/sim-world.js";

const run = promisify(execFile);

describe("iotsafe demo (npm start)", function () {
  this.timeout(120000);
  const state = mkdtempSync(join(tmpdir(), "iotsafe-demo-"));
  after(() => rmSync(state, { recursive: true, force: true }));

  it("creates its state once, runs the device in XS through the virtual modem to the virtual cloud, and exits 0 after --messages N", async function () {
    const first = await run(process.execPath, [cliPath, "demo", "--state", state, "--messages", "3", "--interval", "200"]);
    const out = first.stdout;
    assert.match(out, /created: development CA, SIM profile, server certificate/);
    assert.match(out, /firmware inside the XS engine/);
    // Progress by phase, with timings and AT / APDU counts.
    assert.match(out, /\[device\] modem\s+init\s+\d+ ms\s+\d+ AT/);
    assert.match(out, /\[device\] network\s+attach\s+\d+ ms\s+\d+ AT/);
    assert.match(out, /\[device\] SIM\s+certificate\s+\d+ ms\s+\d+ AT\s+\d+ APDUs\s+client ID device-001 from the SIM's certificate/);
    assert.match(out, /\[device\] TLS\s+handshake\s+\d+ ms\s+\d+ AT\s+\d+ APDUs\s+.*via the modem's socket; CertificateVerify signed in the SIM/);
    assert.match(out, /\[device\] MQTT\s+connect\s+\d+ ms/);
    // The cloud logs each reading with the identity from the certificate.
    for (const id of [1, 2, 3]) assert.match(out, new RegExp(`\\[cloud\\]  device-001 → devices/device-001/telemetry: reading #${id} temperature -?\\d`));
    assert.match(out, /done: [3-9] readings acknowledged/);
    assert.match(out, /boot, power-on to CONNACK: \d+ AT commands \(\d+ bytes\), \d+ APDUs/);
    assert.match(out, /publishing: [\d.]+ AT commands and \d+ AT bytes per acknowledged reading, 0 APDUs/);
    for (const file of ["ca.pem", "ca.key", "sim.json", "server.pem", "server.key"]) assert.ok(existsSync(join(state, file)), file);
    assert.ok(readdirSync(join(state, "storage", "outbox")).includes("meta"), "the outbox lives in the state folder");

    const second = await run(process.execPath, [cliPath, "demo", "--state", state, "--messages", "2", "--interval", "200"]);
    assert.match(second.stdout, /\(reused\)/);
    // Reading ids continue where the first run stopped: the outbox (and its counter) persisted.
    const ids = [...second.stdout.matchAll(/reading #(\d+) temperature/g)].map((m) => Number(m[1]));
    assert.ok(ids.length >= 2 && Math.min(...ids) >= 4, `ids ${JSON.stringify(ids)} continue after the first run's`);
    // Stopping waits for the readings already in flight: two or a few more are acknowledged.
    const done = /done: (\d+) readings acknowledged/.exec(second.stdout);
    assert.ok(done && Number(done[1]) >= 2, second.stdout);
  });

  it("a dropped connection: the device reconnects by resuming the TLS session, and the summary says so", async function () {
    const { stdout } = await run(process.execPath, [cliPath, "demo", "--state", state, "--messages", "12", "--interval", "300", "--fault", "socket-closed:on=+QISEND,after=12"]);
    assert.match(stdout, /\[device\] TLS\s+handshake\s+\d+ ms\s+\d+ AT\s+4 APDUs\s+.*CertificateVerify signed in the SIM/);
    assert.match(stdout, /\[device\] \(again\) TLS\s+handshake\s+\d+ ms\s+\d+ AT\s+TLS_.*session resumed: no certificates, nothing signed in the SIM/);
    assert.match(stdout, /connections: 2 \(1 resumed the TLS session: no SIM signature\)/);
  });

  it("runs until Ctrl-C without --messages, then stops cleanly and keeps the outbox", async function () {
    const child = execFile(process.execPath, [cliPath, "demo", "--state", state, "--interval", "100"]);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no acknowledged reading within 60 s:\n${out}`)), 60000);
      child.stdout!.on("data", () => {
        if (/acknowledged \(PUBACK\)[^\n]*— 2 this run/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, out);
    assert.match(out, /Ctrl-C: the firmware stops where it is/);
    assert.match(out, /stopped: \d+ readings acknowledged this run/);
  });
});
