// `npm start -- --fresh-sim --messages N`: the whole touchless-provisioning story as a user sees it —
// a SIM with only a claim credential, key generation in the SIM, the CSR, the certificate issued by
// the cloud's provisioning service, the reconnection with the operational identity, telemetry.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadProfile } from "../../hosts/sim/card/profile.js";
import { cliPath } from "../lib/sim-world.js";

const run = promisify(execFile);

describe("iotsafe demo --fresh-sim (npm start, touchless provisioning)", function () {
  this.timeout(120000);
  const state = mkdtempSync(join(tmpdir(), "iotsafe-demo-provisioning-"));
  after(() => rmSync(state, { recursive: true, force: true }));

  it("enrolls a fresh bootstrap SIM at first boot, then publishes as the operational identity; the next run reuses it; another fresh SIM enrolls again", async function () {
    const first = await run(process.execPath, [cliPath, "demo", "--state", state, "--fresh-sim", "--messages", "2", "--interval", "200"]);
    const out = first.stdout;
    const iccid = /new bootstrap SIM .* \(ICCID (\d+)\)/.exec(out)?.[1];
    assert.ok(iccid, out);
    const profile = loadProfile(join(state, "sim-bootstrap.json"));
    assert.equal(profile.iccid, iccid);
    const order = ["check", "generate-key", "csr", "claim-connect", "certificate-request", "certificate-verified", "certificate-stored", "register", "committed"];
    const positions = order.map((step) => out.search(new RegExp(`\\[device\\] provision ${step}\\s+\\d+ ms`)));
    assert.ok(positions.every((p, i) => p >= 0 && (i === 0 || p > positions[i - 1]!)), `steps in order:\n${out}`);
    assert.match(out, /generate-key .*generated inside the SIM in container 06/);
    assert.match(out, /\[cloud\]  provisioning: CSR from iotsafe-claim .* verified; certificate [0-9a-f]+… issued for CN \d+ \(PENDING_ACTIVATION\)/);
    assert.match(out, /\[cloud\]  provisioning: thing \d+ registered .* ACTIVE/);
    assert.match(out, new RegExp(`\\[device\\] SIM\\s+certificate .* client ID ${iccid} enrolled now \\(touchless provisioning\\): key 06 in the SIM`));
    assert.match(out, new RegExp(`\\[device\\] MQTT\\s+connect .* connected as ${iccid}`));
    assert.match(out, new RegExp(`\\[cloud\\]  ${iccid} → devices/${iccid}/telemetry: reading #1 temperature`));
    assert.match(out, /done: [2-9] readings acknowledged/);
    assert.doesNotMatch(out, /refused/);
    assert.ok(profile.objects.find((o) => o.kind === "private-key" && o.id === "06")?.contents, "the operational key is in the SIM's container 06");
    assert.ok(readdirSync(join(state, "storage", "provision")).includes("cert0"), "the issued certificate is in the device's storage");

    const second = await run(process.execPath, [cliPath, "demo", "--state", state, "--bootstrap-sim", "--messages", "1", "--interval", "200"]);
    assert.match(second.stdout, /reused bootstrap SIM/);
    assert.match(second.stdout, new RegExp(`client ID ${iccid} from the stored certificate`));
    assert.doesNotMatch(second.stdout, /provision generate-key/);
    assert.match(second.stdout, new RegExp(`\\[cloud\\]  ${iccid} → devices/${iccid}/telemetry`));

    const third = await run(process.execPath, [cliPath, "demo", "--state", state, "--fresh-sim", "--messages", "1", "--interval", "200"]);
    const otherIccid = /new bootstrap SIM .* \(ICCID (\d+)\)/.exec(third.stdout)?.[1];
    assert.ok(otherIccid && otherIccid !== iccid, "a new SIM, a new identity");
    assert.match(third.stdout, new RegExp(`client ID ${otherIccid} enrolled now`));
    assert.ok(existsSync(join(state, "registry.json")));
  });

  it("refuses --fresh-sim with an external broker", async () => {
    await assert.rejects(run(process.execPath, [cliPath, "demo", "--state", state, "--fresh-sim", "--broker", "127.0.0.1:1"]), /need the virtual cloud/);
  });
});
