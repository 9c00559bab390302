// `iotsafe sim --dialect NAME` with link-model flags, end to end: spawn the CLI, talk AT to it.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RawModemClient } from "./modem-test-client.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = join(repoRoot, "bin/iotsafe.js");

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [cli, "sim", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function portOf(run: ReturnType<typeof start>): Promise<number> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const match = /tcp:\/\/127\.0\.0\.1:(\d+)/.exec(run.out());
    if (match) return Number(match[1]);
    if (run.child.exitCode !== null || Date.now() > deadline) throw new Error(`no address printed: ${run.out()} ${run.err()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("iotsafe sim --dialect with link-model flags (CLI)", function () {
  this.timeout(30000);
  const runs: ReturnType<typeof start>[] = [];
  afterEach(function () {
    for (const run of runs.splice(0)) if (run.child.exitCode === null) run.child.kill("SIGKILL");
  });

  it("lists every dialect in --help", async function () {
    const run = start(["--help"]);
    runs.push(run);
    assert.equal(await run.exit, 0);
    for (const name of ["generic", "quectel-bg95", "simcom-sim7080", "ublox-sara-r5", "sequans-gm02s", "nordic-slm"]) assert.ok(run.out().includes(name), name);
  });

  it("paces the UART at --baud, delays commands by --latency, injects --fault", async function () {
    const run = start(["--dialect", "quectel-bg95", "--baud", "9600", "--latency", "100", "--fault", "cme:on=+CSQ,code=30"]);
    runs.push(run);
    const client = await RawModemClient.connect(await portOf(run));
    try {
      await client.command("ATE0");
      await client.command("AT+CMEE=1");
      assert.equal(await client.command("AT+CSQ"), "\r\n+CME ERROR: 30\r\n");
      // 100 ms of latency plus ~1000 bytes of answer at 9600 baud (1.04 ms each): over a second.
      const started = Date.now();
      const answer = await client.command("AT+CGMR;+CGMI;+CGMM;+CGMR;+CGMI;+CGMM;+CGMR;+CGMI;+CGMM;+CCLK?;+CSQ;+CCLK?;+CSQ;+CCLK?;+CSQ;+CCLK?;+CSQ;+CCLK?;+CSQ");
      const elapsed = Date.now() - started;
      const expected = 100 + (answer.length + 100) * 1.04;
      assert.ok(answer.length > 300, `answer of ${answer.length} bytes`);
      assert.ok(elapsed >= 100 + answer.length * 1.04 * 0.9, `elapsed ${elapsed} ms for ${answer.length} bytes (expected about ${expected.toFixed(0)})`);
    } finally {
      client.close();
    }
  });

  it("refuses a malformed --fault or --baud with exit code 2 and a reason", async function () {
    for (const [args, reason] of [
      [["--fault", "explode"], /unknown fault/],
      [["--fault", "drop:bytes=lots"], /not a non-negative number/],
      [["--baud", "fast"], /whole number/],
      [["--baud", "100"], /below 300/],
      [["--host-alias", "cloud=10.0.0.1"], /loopback/],
    ] as const) {
      const run = start(["--dialect", "quectel-bg95", ...args]);
      runs.push(run);
      assert.equal(await run.exit, 2, run.err());
      assert.match(run.err(), reason);
    }
  });
});
