#!/usr/bin/env node
// Builds the firmware for a board (or the Moddable desktop simulator) with the Moddable SDK's
// mcconfig: `npm run build:device -- --board NAME [options] [key=value ...]`.
//
//   --board NAME     a folder under hosts/esp32/ with a manifest.json (lilygo-t-sim7080g-s3,
//                    walter, esp32-bg95), or "simulator" for the Linux desktop simulator (-p lin)
//   --debug          debug build (xsbug over the USB/serial port); default: release
//   --log            debug build whose trace() output prints in this terminal (mcconfig -dl: the
//                    SDK's xsbug-log, no xsbug window)
//   --instrumented   release build with instrumentation (-i)
//   --target T       mcconfig target: build (default), deploy, all, clean
//   --no-make        stop after mcconfig's manifest processing (writes the makefile, runs no make)
//   key=value        config overrides, e.g. apn=iot.example brokerHost=mqtt.example.com modemTx=17
//                    (see hosts/esp32/settings.ts for the flat keys)
//
// First it builds the project (build-scripts/build.mjs: dist/device/main.js is the firmware bundle
// manifest.json lists). It needs the Moddable SDK (MODDABLE set, its tools built) and, for ESP32
// boards, ESP-IDF (IDF_PATH set, v6.0 as the SDK expects). Nothing here downloads either.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const boardsDir = join(root, "hosts/esp32");

export const SDK_INSTRUCTIONS = `The Moddable SDK is needed to build the firmware for a board or the Moddable simulator.
Install it once (outside this repository), following the SDK's "Getting Started" for your OS:
  https://github.com/Moddable-OpenSource/moddable/blob/public/documentation/Moddable%20SDK%20-%20Getting%20Started.md
On Debian/Ubuntu:
  sudo apt-get install gcc git wget make libncurses-dev flex bison gperf libgtk-3-dev
  git clone https://github.com/Moddable-OpenSource/moddable ~/Projects/moddable
  export MODDABLE=~/Projects/moddable
  export PATH=$PATH:$MODDABLE/build/bin/lin/release
  cd $MODDABLE/build/makefiles/lin && make
For ESP32 boards also install ESP-IDF v6.0 and set IDF_PATH (the SDK's documentation/devices/esp32.md).
Then run this again (MODDABLE must be set in the environment).`;

/** The boards: folders under hosts/esp32/ whose manifest.json sets config.board. */
export function boardNames() {
  if (!existsSync(boardsDir)) return [];
  return readdirSync(boardsDir, { withFileTypes: true })
    .filter((entry) => {
      const manifest = join(boardsDir, entry.name, "manifest.json");
      if (!entry.isDirectory() || !existsSync(manifest)) return false;
      try {
        return typeof JSON.parse(readFileSync(manifest, "utf8"))?.config?.board?.kind === "string";
      } catch {
        return false;
      }
    })
    .map((entry) => entry.name)
    .sort();
}

function hostPlatform() {
  if (process.platform === "darwin") return "mac";
  if (process.platform === "win32") return "win";
  return "lin";
}

export class BuildDeviceError extends Error {
  name = "BuildDeviceError";
}

export function parseArguments(argv) {
  const options = { board: undefined, mode: "release", target: "build", make: true, config: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--board") {
      options.board = argv[++i];
      if (!options.board) throw new BuildDeviceError("--board needs a name");
    } else if (arg === "--debug") options.mode = "debug";
    else if (arg === "--log") options.mode = "log";
    else if (arg === "--instrumented") options.mode = "instrumented";
    else if (arg === "--target") {
      options.target = argv[++i];
      if (!["build", "deploy", "all", "clean", "xsbug"].includes(options.target ?? "")) throw new BuildDeviceError(`--target must be build, deploy, all, clean or xsbug, not ${options.target}`);
    } else if (arg === "--no-make") options.make = false;
    else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(arg)) options.config.push(arg);
    else throw new BuildDeviceError(`unknown argument ${arg} (usage: npm run build:device -- --board NAME [--debug|--log|--instrumented] [--target T] [--no-make] [key=value ...])`);
  }
  const boards = boardNames();
  if (!options.board) throw new BuildDeviceError(`--board is required: one of ${[...boards, "simulator"].join(", ")}`);
  if (options.board !== "simulator" && !boards.includes(options.board)) {
    throw new BuildDeviceError(`unknown board ${options.board}: one of ${[...boards, "simulator"].join(", ")} (a board is a folder under hosts/esp32/ whose manifest.json sets config.board)`);
  }
  return options;
}

/** The mcconfig command line for `options` (without running anything). */
export function mcconfigArguments(options) {
  const args = [join(root, "manifest.json")];
  if (options.mode === "debug") args.push("-d");
  else if (options.mode === "log") args.push("-dl");
  else if (options.mode === "instrumented") args.push("-i");
  if (options.make) args.push("-m");
  args.push("-p", options.board === "simulator" ? "lin" : `esp32:${join(boardsDir, options.board)}`);
  args.push("-t", options.target);
  args.push(...options.config);
  return args;
}

/** What is missing in the environment, or undefined. */
export function environmentProblem(options, env = process.env) {
  const sdk = env.MODDABLE;
  if (!sdk) return `MODDABLE is not set.\n${SDK_INSTRUCTIONS}`;
  const tool = join(sdk, "build/bin", hostPlatform(), "release", "mcconfig");
  if (!existsSync(tool)) return `MODDABLE=${sdk}, but its tools are not built (${tool} is missing).\n${SDK_INSTRUCTIONS}`;
  if (options.mode === "log" && !existsSync(join(sdk, "tools/xsbug-log/node_modules"))) {
    return "--log prints through the SDK's xsbug-log, which has no dependencies yet: cd $MODDABLE/tools/xsbug-log && npm install";
  }
  if (options.board !== "simulator" && options.make && !env.IDF_PATH) {
    return "IDF_PATH is not set: ESP32 builds need ESP-IDF v6.0 (the SDK's documentation/devices/esp32.md, \"Linux\" or \"macOS\" set-up), or use --no-make to stop after mcconfig's manifest processing.";
  }
  return undefined;
}

export function main(argv, env = process.env) {
  let options;
  try {
    options = parseArguments(argv);
  } catch (error) {
    process.stderr.write(`build:device: ${error.message}\n`);
    return 2;
  }
  const problem = environmentProblem(options, env);
  if (problem) {
    process.stderr.write(`build:device: ${problem}\n`);
    return 1;
  }
  const built = spawnSync(process.execPath, [join(root, "build-scripts/build.mjs")], { cwd: root, stdio: "inherit", env });
  if (built.status !== 0) {
    process.stderr.write("build:device: the project build failed (see above)\n");
    return 1;
  }
  const bin = join(env.MODDABLE, "build/bin", hostPlatform(), "release");
  const args = mcconfigArguments(options);
  process.stderr.write(`build:device: mcconfig ${args.join(" ")}\n`);
  const result = spawnSync(join(bin, "mcconfig"), args, { cwd: root, stdio: "inherit", env: { ...env, PATH: `${bin}:${env.PATH ?? ""}` } });
  if (result.status !== 0) {
    process.stderr.write(`build:device: mcconfig failed (exit ${result.status})\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exit(main(process.argv.slice(2)));
}
