// The native crypto provider on the Moddable SDK's real crypt and ec modules: the same conformance
// suite as the noble provider (test/unit/crypto/provider-conformance.ts), built as a preloaded
// Moddable app and run in the desktop simulator (mcsim, headless). Skips without the SDK.
import assert from "node:assert/strict";
import { runSimulator, skipWithoutModdable } from "../lib/moddable-sdk.js";

describe("native crypto provider inside the Moddable simulator (SDK crypt + ec)", function () {
  this.timeout(300000);
  before(function () {
    skipWithoutModdable(this, { simulator: true });
  });

  it("passes the provider conformance suite with the SDK's native digests, AES, GHASH and EC", async () => {
    const run = await runSimulator(["--conformance", "--timeout", "240"], 280000);
    const failures = run.output.split("\n").filter((line) => line.startsWith("not ok"));
    assert.deepEqual(failures, [], "every conformance test passes");
    assert.equal(run.exitCode, 0, run.abort ?? run.failed ?? run.output.slice(-2000));
    const summary = run.done as { passed: number; failed: number };
    assert.equal(summary.failed, 0);
    assert.ok(summary.passed >= 20, `ran ${summary.passed} conformance tests`);
  });
});
