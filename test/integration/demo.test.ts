// `npm start` runs `iotsafe demo`: the whole device in the simulator. Run it as a user would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { cliPath } from "../lib/sim-world.js";

const run = promisify(execFile);

describe("iotsafe demo (npm start)", function () {
  this.timeout(60000);
  const state = mkdtempSync(join(tmpdir(), "iotsafe-demo-"));
  after(() => rmSync(state, { recursive: true, force: true }));

  it("creates its state once, runs the firmware in XS end to end, and the cloud sees the SIM's identity", async function () {
    const first = await run(process.execPath, [cliPath, "demo", "--state", state]);
    assert.match(first.stdout, /created: development CA, SIM profile, server certificate/);
    assert.match(first.stdout, /firmware running inside the XS engine/);
    assert.match(first.stdout, /client device-001 \(identity from its certificate\) sent "hello from the device"/);
    assert.match(first.stdout, /CertificateVerify signed in the SIM \(\d+ APDUs/);
    assert.match(first.stdout, /The cloud saw: device-001\./);
    for (const file of ["ca.pem", "ca.key", "sim.json", "server.pem", "server.key"]) assert.ok(existsSync(join(state, file)), file);

    const second = await run(process.execPath, [cliPath, "demo", "--state", state]);
    assert.match(second.stdout, /\(reused\)/);
    assert.match(second.stdout, /The cloud saw: device-001\./);
  });
});
