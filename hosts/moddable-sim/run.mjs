#!/usr/bin/env node
// Runs the firmware in Moddable's desktop simulator (mcsim), headless, against this project's
// virtual world: the virtual cloud (TLS 1.3 + MQTT, `iotsafe cloud`) and the virtual modem with the
// IoT SAFE SIM (`iotsafe sim`), which the firmware reaches over TCP instead of a UART.
//
//   node hosts/moddable-sim/run.mjs [--messages N] [--dialect NAME] [--timeout S]
//        [--creation chunk=BYTES,heap=SLOTS,stack=SLOTS] [--memory] [--uart BAUD] [--fault SPEC]... [--json] [--samples]
//   node hosts/moddable-sim/run.mjs --conformance [--json]   (the crypto conformance app instead)
//
// It builds with `mcconfig -d -m -p lin` (a debug build: trace output and instrumentation reach
// the SDK's xsbug-log, with hosts/moddable-sim/xsbug-log-machine.cjs as its log machine), runs
// mcsim under xvfb-run, prints the firmware's output, and ends when the firmware prints @done
// (exit 0) or @failed / aborts (exit 1). --creation overrides the manifest's XS machine sizes (a
// wrapper manifest outside the repo); with incremental sizes 0 the simulator enforces them like the
// device does, which is how the memory budget is checked. --memory adds a probe that collects
// garbage every 20 ms and at each device event and reports the largest live heap ("@memory").
// --uart BAUD puts the ESP32 UART receive model (128-byte FIFO, hosts/esp32/uart-fifo.ts) on the
// modem link and reports its statistics ("@uart"). --config KEY=VALUE passes a config override to
// mcconfig (e.g. logLevel=debug). --no-debugger builds an instrumented release (-i) and runs mcsim
// without xsbug-log, reading trace() and the instrumentation from its stdout.
// --json prints one summary object last.
//
// Needs: the Moddable SDK built for Linux (MODDABLE set, its build/bin/lin/release on PATH or
// found under MODDABLE), `npm install` in $MODDABLE/tools/xsbug-log, Debian's xvfb, and the
// project built (npm run build) with a state folder (npm start creates state/).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export class SimulatorSetupError extends Error {
  name = "SimulatorSetupError";
}

/** What is missing to run the Moddable simulator here, or undefined when everything is in place. */
export function simulatorProblem(env = process.env) {
  const sdk = env.MODDABLE;
  if (!sdk) return "MODDABLE is not set (install the Moddable SDK for Linux: see README, 'Run in the Moddable simulator')";
  if (!existsSync(join(sdk, "build/bin/lin/release/mcconfig"))) return `no Linux tools under ${sdk}/build/bin/lin/release (build them: cd $MODDABLE/build/makefiles/lin && make)`;
  if (!existsSync(join(sdk, "build/bin/lin/release/mcsim"))) return `mcsim is missing under ${sdk}/build/bin/lin/release`;
  if (!existsSync(join(sdk, "tools/xsbug-log/node_modules"))) return `xsbug-log has no dependencies (cd $MODDABLE/tools/xsbug-log && npm install)`;
  if (spawnSync("sh", ["-c", "command -v xvfb-run"]).status !== 0) return "xvfb-run is missing (apt-get install -y xvfb xauth)";
  return undefined;
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function sdkEnv() {
  const sdk = process.env.MODDABLE;
  const bin = join(sdk, "build/bin/lin/release");
  return { ...process.env, PATH: `${bin}:${process.env.PATH}` };
}

/** Starts a CLI service and resolves its printed TCP port. */
function startService(args, pattern, label, log) {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [join(root, "bin/iotsafe.js"), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const timer = setTimeout(() => reject(new SimulatorSetupError(`${label} did not start: ${output}`)), 20000);
    const onData = (data) => {
      output += data;
      log?.(`[${label}] ${String(data).trimEnd()}`);
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolveStart({ child, port: Number(match[1]) });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new SimulatorSetupError(`${label} exited (${code}): ${output}`));
    });
  });
}

/** JSON from a trace line, or undefined when the line came out mangled. */
function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseCreation(text) {
  const creation = {};
  for (const part of text.split(",")) {
    const [key, value] = part.split("=");
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new SimulatorSetupError(`--creation ${part}: not a positive integer`);
    if (key === "chunk") creation.chunk = { initial: n, incremental: 0 };
    else if (key === "heap") creation.heap = { initial: n, incremental: 0 };
    else if (key === "stack") creation.stack = n;
    else throw new SimulatorSetupError(`--creation: unknown key ${key} (chunk, heap, stack)`);
  }
  return creation;
}

/**
 * Builds and runs the firmware in mcsim. Resolves { exitCode, done, failed, abort, events, instruments, lines }.
 * options: messages, dialect, timeoutSeconds, creation ({chunk,heap,stack} override), faults [], state,
 * manifest (another app's manifest, e.g. the crypto conformance app), world (false: start no virtual
 * cloud or modem), memory (live-heap probe), uartBaud (the UART FIFO model), debugger ("xsbug-log" | "none"),
 * log (line printer), samples, verbose.
 */
export async function runInSimulator(options = {}) {
  const problem = simulatorProblem();
  if (problem) throw new SimulatorSetupError(problem);
  const world = options.world !== false;
  const state = options.state ?? join(root, "state");
  for (const file of world ? ["ca.pem", "server.pem", "server.key", "sim.json"] : []) {
    if (!existsSync(join(state, file))) throw new SimulatorSetupError(`${join(state, file)} is missing: run npm start once to create the state folder`);
  }
  // dist/device/main.js (the firmware bundle the manifest lists) must match the sources.
  const build = spawnSync(process.execPath, [join(root, "build-scripts/build.mjs"), "--if-stale"], { cwd: root, encoding: "utf8" });
  if (build.status !== 0 || !existsSync(join(root, "dist/device/main.js"))) throw new SimulatorSetupError(`npm run build failed:\n${build.stderr.slice(-2000)}`);
  const log = options.log ?? (() => {});
  const env = sdkEnv();
  const services = [];
  let simulator;
  // If this process is stopped (a test timeout, Ctrl-C), take the simulator and the services along.
  const stopChildren = () => {
    if (simulator && simulator.exitCode === null) {
      try {
        process.kill(-simulator.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    for (const child of services) child.kill("SIGTERM");
  };
  process.once("exit", stopChildren);
  try {
    const config = [];
    if (world) {
      const cloud = await startService(["cloud", "--ca", join(state, "ca.pem"), "--cert", join(state, "server.pem"), "--key", join(state, "server.key"), "--listen", "127.0.0.1:0"], /listening on 127\.0\.0\.1:(\d+)/, "cloud", options.verbose ? log : undefined);
      services.push(cloud.child);
      const modemArgs = ["sim", "--listen", "127.0.0.1:0", "--profile", join(state, "sim.json"), "--dialect", options.dialect ?? "quectel-bg95"];
      for (const fault of options.faults ?? []) modemArgs.push("--fault", fault);
      const modem = await startService(modemArgs, /listening on tcp:\/\/127\.0\.0\.1:(\d+)/, "modem", options.verbose ? log : undefined);
      services.push(modem.child);
      config.push(`modemPort=${modem.port}`, `brokerPort=${cloud.port}`, `dialect=${options.dialect ?? "quectel-bg95"}`);
    }

    // A wrapper manifest (outside the repo) when the machine sizes are overridden or the live heap
    // is measured (it adds the SDK's debug and instrumentation modules and the probe).
    let manifest = options.manifest ?? join(root, "manifest.json");
    let name = options.manifest ? basename(dirname(options.manifest)) : "main";
    if (options.creation || options.memory) {
      const c = options.creation ?? {};
      name = `iotsafe_${c.chunk?.initial ?? "c"}_${c.heap?.initial ?? "h"}_${c.stack ?? "s"}${options.memory ? "_probe" : ""}`;
      const dir = join(process.env.MODDABLE, "build/tmp/iotsafe-wrappers", name);
      mkdirSync(dir, { recursive: true });
      manifest = join(dir, "manifest.json");
      const wrapper = { include: [options.manifest ?? join(root, "manifest.json")], platforms: { lin: options.creation ? { creation: { static: 0, ...c } } : {} } };
      if (options.memory) {
        wrapper.include.push("$(MODULES)/base/debug/manifest.json", "$(MODULES)/base/instrumentation/manifest.json");
        wrapper.modules = { "iotsafe/memory-probe": join(root, "hosts/moddable-sim/memory-probe") };
      }
      writeFileSync(manifest, JSON.stringify(wrapper, null, 1));
    }
    const xsbugPort = await freePort();
    if (options.messages) config.push(`messages=${options.messages}`);
    if (options.memory) config.push(`memoryProbe=${options.memoryIntervalMs ?? 20}`);
    if (options.uartBaud) config.push(`uartBaud=${options.uartBaud}`);
    config.push(...(options.config ?? []));
    // With xsbug-log: a debug build. Without a debugger: an instrumented release build (a debug build
    // would keep trying to reach a debugger), which prints trace() and instrumentation on stdout.
    const withXsbug = (options.debugger ?? "xsbug-log") === "xsbug-log";
    const made = spawnSync("mcconfig", [manifest, withXsbug ? "-d" : "-i", "-m", "-p", "lin", "-t", "build", ...config], { cwd: root, env, encoding: "utf8" });
    if (made.status !== 0) throw new SimulatorSetupError(`mcconfig failed:\n${(made.stdout + made.stderr).split("\n").filter((l) => !l.startsWith("#") && !l.includes("warning")).slice(-15).join("\n")}`);
    const library = join(process.env.MODDABLE, "build/bin/lin/mc", withXsbug ? "debug" : "instrument", name, "mc.so");

    const result = { exitCode: undefined, done: undefined, failed: undefined, abort: undefined, events: [], instruments: undefined, memory: undefined, uart: undefined, lines: [] };
    // The simulator finds its debugger through XSBUG_HOST/XSBUG_PORT (xs/platforms/lin_xs.c).
    const runEnv = { ...env, XSBUG_PORT: String(xsbugPort), XSBUG_HOST: "localhost" };
    if (withXsbug) Object.assign(runEnv, { XSBUG_LOG_PORT: String(xsbugPort), XSBUG_LOGMACHINE: join(root, "hosts/moddable-sim/xsbug-log-machine.cjs"), ...(options.samples ? { IOTSAFE_SAMPLES: "1" } : {}) });
    const command = withXsbug
      ? ["-a", process.execPath, join(process.env.MODDABLE, "tools/xsbug-log/xsbug-log.js"), "mcsim", library]
      : ["-a", join(process.env.MODDABLE, "build/bin/lin/release/mcsim"), library];
    simulator = spawn("xvfb-run", command, { cwd: root, env: runEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
    const timeoutMs = (options.timeoutSeconds ?? 300) * 1000;
    await new Promise((resolveRun) => {
      let pending = "";
      let instrumentNames = [];
      const peaks = {};
      let finishing = false;
      const timer = setTimeout(() => {
        result.abort = `timeout after ${timeoutMs / 1000} s`;
        resolveRun();
      }, timeoutMs);
      const finish = () => {
        // Without xsbug-log nothing prints the instrument peaks: take them from the samples seen.
        if (finishing) return;
        finishing = true;
        if (!withXsbug) result.instruments = { ...peaks };
        clearTimeout(timer);
        setTimeout(resolveRun, withXsbug ? 0 : 50);
      };
      const onLine = (line) => {
        const text = line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/^(\(xsdb\) )+/, "").replace(/^\[Thread \d+\] /, "");
        if (!text.trim()) return;
        if (text.startsWith("instruments key: ")) {
          instrumentNames = text.slice(17).split(",");
          return;
        }
        if (text.startsWith("instruments: ")) {
          text
            .slice(13)
            .split(",")
            .forEach((value, index) => {
              const name = instrumentNames[index];
              const n = Number(value);
              if (name && Number.isFinite(n) && !(n <= peaks[name])) peaks[name] = n;
            });
          if (options.samples) log(`@sample ${text.slice(13)}`);
          return;
        }
        result.lines.push(text);
        if (text.startsWith("@device ")) result.events.push(parseJson(text.slice(8)));
        else if (text.startsWith("@done ")) {
          result.done = parseJson(text.slice(6)) ?? { unparsed: text.slice(6) };
          if (!withXsbug) finish();
        } else if (text.startsWith("@failed ")) {
          result.failed = text.slice(8);
          if (!withXsbug) finish();
        } else if (text.startsWith("@memory ")) result.memory = parseJson(text.slice(8));
        else if (text.startsWith("@uart ")) result.uart = parseJson(text.slice(6));
        else if (text.includes("#xsbug-log disconnected from") && !result.done && !result.failed && !result.abort) {
          // mcsim went away without a word: an XS abort (out of memory, stack) or a crash.
          result.abort = "the simulator disconnected before the firmware finished (aborted or crashed)";
          finish();
        } else if (text.startsWith("@abort ")) result.abort = text.slice(7);
        else if (!withXsbug && /XS abort|stack overflow|not enough memory|# Chunk allocation|# Slot allocation/.test(text)) {
          result.abort = text;
          finish();
        } else if (text.startsWith("@instruments ")) {
          result.instruments = parseJson(text.slice(13));
          finish();
        }
        log(text);
      };
      const onData = (data) => {
        pending += data;
        let newline;
        while ((newline = pending.indexOf("\n")) >= 0) {
          onLine(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
        }
      };
      simulator.stdout.on("data", onData);
      simulator.stderr.on("data", onData);
      simulator.once("exit", (code, signal) => {
        if (!result.done && !result.failed && !result.abort) result.abort = `the simulator exited (${signal ?? code}) before the firmware finished`;
        finish();
      });
    });
    result.exitCode = result.done && !result.failed && !result.abort ? 0 : 1;
    return result;
  } finally {
    process.removeListener("exit", stopChildren);
    stopChildren();
  }
}

async function main(argv) {
  const options = { faults: [], log: (line) => process.stdout.write(line + "\n") };
  let json = false;
  let conformance = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new SimulatorSetupError(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--messages") options.messages = Number(value());
    else if (arg === "--dialect") options.dialect = value();
    else if (arg === "--timeout") options.timeoutSeconds = Number(value());
    else if (arg === "--creation") options.creation = parseCreation(value());
    else if (arg === "--fault") options.faults.push(value());
    else if (arg === "--state") options.state = resolve(value());
    else if (arg === "--manifest") options.manifest = resolve(value());
    else if (arg === "--samples") options.samples = true;
    else if (arg === "--memory") options.memory = true;
    else if (arg === "--uart") options.uartBaud = Number(value());
    else if (arg === "--config") (options.config ??= []).push(value());
    else if (arg === "--no-debugger") options.debugger = "none";
    else if (arg === "--conformance") conformance = true;
    else if (arg === "--verbose") options.verbose = true;
    else if (arg === "--json") json = true;
    else if (arg === "--help" || arg === "-h") {
      process.stdout.write("usage: node hosts/moddable-sim/run.mjs [--messages N] [--dialect NAME] [--timeout S] [--creation chunk=B,heap=SLOTS,stack=SLOTS] [--memory] [--uart BAUD] [--fault SPEC]... [--config KEY=VALUE]... [--no-debugger] [--state DIR] [--json] [--samples] [--verbose]\n       node hosts/moddable-sim/run.mjs --conformance [--json]\n");
      return 0;
    } else throw new SimulatorSetupError(`unknown argument ${arg}`);
  }
  if (conformance) {
    // The crypto provider conformance suite on the SDK's native crypto, instead of the firmware.
    const { buildConformanceApp } = await import("./conformance/build.mjs");
    options.manifest = await buildConformanceApp();
    options.world = false;
  }
  const result = await runInSimulator(options);
  if (json) process.stdout.write(JSON.stringify({ exitCode: result.exitCode, abort: result.abort, failed: result.failed, done: result.done, memory: result.memory, uart: result.uart, instruments: result.instruments }) + "\n");
  else if (result.abort) process.stdout.write(`stopped: ${result.abort}\n`);
  return result.exitCode;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => process.exit(130));
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`moddable-sim: ${error.message}\n`);
      process.exit(2);
    },
  );
}
