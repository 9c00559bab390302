// `iotsafe sim` end to end: spawn the CLI, read the address it prints, talk AT to it, stop it with SIGINT.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openDeviceLink } from "../../hosts/node/links.js";
import { socatAvailable } from "../../hosts/sim/modem/index.js";
import { RawModemClient } from "./modem-test-client.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const cli = join(repoRoot, "bin/iotsafe.js");

interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runCli(args: string[]): CliRun {
  const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function waitForLine(run: CliRun, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(run.stdout());
    if (match) return match;
    if (run.child.exitCode !== null) throw new Error(`CLI exited early: ${run.stdout()} ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`CLI printed no ${pattern}: ${run.stdout()} ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function exitWithin(run: CliRun, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`CLI did not exit within ${ms} ms: ${run.stderr()}`)), ms);
  });
  try {
    return await Promise.race([run.exit, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("iotsafe sim (CLI)", function () {
  const runs: CliRun[] = [];
  afterEach(function () {
    for (const run of runs.splice(0)) if (run.child.exitCode === null) run.child.kill("SIGKILL");
  });

  it("listens on the port it prints, answers the golden CSIM exchange, and stops cleanly on SIGINT", async function () {
    const run = runCli(["sim", "--listen", "127.0.0.1:0"]);
    runs.push(run);
    const match = await waitForLine(run, /^virtual modem listening on tcp:\/\/127\.0\.0\.1:(\d+)\n/);
    const port = Number(match[1]);
    assert.ok(port > 0);
    assert.equal(run.stdout().split("\n").filter(Boolean).length, 1, "one line on stdout");

    const client = await RawModemClient.connect(port);
    client.send('AT+CSIM=10,"0070000001"\r');
    assert.equal(await client.readUntil("\r\nOK\r\n"), 'AT+CSIM=10,"0070000001"\r\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');

    run.child.kill("SIGINT");
    const exit = await exitWithin(run, 10_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    // The connection was closed by the stopping modem.
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(client.ended, true);
    client.close();
  });

  it("stops on SIGTERM too", async function () {
    const run = runCli(["sim", "--listen", "127.0.0.1:0"]);
    runs.push(run);
    await waitForLine(run, /listening on tcp:\/\/127\.0\.0\.1:\d+/);
    run.child.kill("SIGTERM");
    assert.deepEqual(await exitWithin(run, 10_000), { code: 0, signal: null });
  });

  it("refuses unknown dialects, bad addresses and unknown options with exit code 2", async function () {
    for (const args of [["--dialect", "quectel-nope"], ["--listen", "127.0.0.1:99999"], ["--frobnicate"]]) {
      const run = runCli(["sim", ...args]);
      runs.push(run);
      const exit = await exitWithin(run, 10_000);
      assert.equal(exit.code, 2, `${args.join(" ")}: ${run.stderr()}`);
      assert.match(run.stderr(), /iotsafe sim: /);
      assert.equal(run.stdout(), "");
    }
  });

  it("fails with a clear message on a missing --profile file", async function () {
    const run = runCli(["sim", "--listen", "127.0.0.1:0", "--profile", "/nonexistent/profile.json"]);
    runs.push(run);
    const exit = await exitWithin(run, 10_000);
    assert.notEqual(exit.code, 0);
    assert.match(run.stderr(), /\/nonexistent\/profile\.json/);
  });

  it("--profile puts the IoT SAFE card from the profile behind AT+CSIM", async function () {
    const { emptyProfile, saveProfile } = (await import(pathToFileURL(join(repoRoot, "dist/hosts/sim/card/profile.js")).href)) as {
      emptyProfile(description?: string): { iccid?: string };
      saveProfile(path: string, profile: unknown): void;
    };
    const dir = mkdtempSync(join(tmpdir(), "sim-cli-profile-"));
    try {
      const profilePath = join(dir, "sim.json");
      const profile = emptyProfile("CLI test");
      profile.iccid = "89882280000011112222";
      saveProfile(profilePath, profile);
      const run = runCli(["sim", "--listen", "127.0.0.1:0", "--profile", profilePath]);
      runs.push(run);
      const port = Number((await waitForLine(run, /listening on tcp:\/\/127\.0\.0\.1:(\d+)/))[1]);
      const client = await RawModemClient.connect(port);
      await client.command("ATE0");
      // The profile's ICCID reaches AT+CCID: the card behind the modem is the profile's.
      assert.equal(await client.command("AT+CCID"), "\r\n+CCID: 89882280000011112222\r\n\r\nOK\r\n");
      assert.equal(await client.command('AT+CSIM=10,"0070000001"'), '\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
      assert.match(await client.command('AT+CSIM=24,"01A4040007A0000005590010"'), /^\r\n\+CSIM: 4,"(9000|61[0-9A-F]{2})"\r\n\r\nOK\r\n$/);
      client.close();
      run.child.kill("SIGINT");
      assert.deepEqual(await exitWithin(run, 10_000), { code: 0, signal: null });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--pty makes a serial device (needs socat) or explains that socat is missing", async function () {
    const dir = mkdtempSync(join(tmpdir(), "sim-cli-pty-"));
    const path = join(dir, "modem");
    try {
      const run = runCli(["sim", "--pty", path]);
      runs.push(run);
      if (!socatAvailable()) {
        const exit = await exitWithin(run, 10_000);
        assert.equal(exit.code, 1);
        assert.match(run.stderr(), /socat/);
        return;
      }
      await waitForLine(run, new RegExp(`listening on ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n`));
      const link = openDeviceLink(path);
      let received = "";
      link.onReadable = () => (received += Buffer.from(link.read()!).toString("latin1"));
      link.write(Uint8Array.from(Buffer.from('AT+CSIM=10,"0070000001"\r', "latin1")));
      const deadline = Date.now() + 10_000;
      while (!received.includes("OK\r\n") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(received, 'AT+CSIM=10,"0070000001"\r\r\n+CSIM: 6,"019000"\r\n\r\nOK\r\n');
      link.close();
      run.child.kill("SIGINT");
      assert.deepEqual(await exitWithin(run, 10_000), { code: 0, signal: null });
      assert.equal(existsSync(path), false, "socat removes the pty link");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
