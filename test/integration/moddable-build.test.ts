// `npm run build:device` (build-scripts/mcconfig.mjs): without the Moddable SDK it stops with
// install instructions; with it, mcconfig processes the manifest for every board and the Linux
// simulator, and the firmware's JavaScript compiles and preloads for the ESP32 target. ESP-IDF
// cannot be installed here, so the ESP32 make is run only up to the XS archive (mc.xs.c: xsc +
// xsl), with IDF_PATH pointing at an empty git repository tagged v6.0 so that the makefile parses.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manifestMachine, repoRoot, skipWithoutModdable } from "../lib/moddable-sdk.js";

const BOARDS = ["esp32-bg95", "lilygo-t-sim7080g-s3", "walter"];

function buildDevice(args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [join(repoRoot, "build-scripts/mcconfig.mjs"), ...args], { cwd: repoRoot, env, encoding: "utf8", timeout: 600000 });
}

function withoutSdk(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MODDABLE;
  delete env.IDF_PATH;
  return env;
}

describe("npm run build:device", function () {
  this.timeout(900000);

  describe("without the SDK", () => {
    it("stops with exit 1 and says how to install the Moddable SDK", () => {
      const result = buildDevice(["--board", "walter"], withoutSdk());
      assert.equal(result.status, 1);
      assert.match(result.stderr, /MODDABLE is not set/);
      assert.match(result.stderr, /Getting Started/);
      assert.match(result.stderr, /build\/makefiles\/lin/);
    });

    it("names what is wrong when MODDABLE points at a folder without built tools", () => {
      const empty = mkdtempSync(join(tmpdir(), "not-an-sdk-"));
      try {
        const result = buildDevice(["--board", "walter"], { ...withoutSdk(), MODDABLE: empty });
        assert.equal(result.status, 1);
        assert.match(result.stderr, /tools are not built/);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });

    it("with --log, says to install xsbug-log's dependencies when the SDK lacks them", () => {
      const sdk = mkdtempSync(join(tmpdir(), "sdk-without-xsbug-log-"));
      try {
        const bin = join(sdk, "build/bin/lin/release");
        mkdirSync(bin, { recursive: true });
        writeFileSync(join(bin, "mcconfig"), "");
        const result = buildDevice(["--board", "walter", "--log"], { ...withoutSdk(), MODDABLE: sdk, IDF_PATH: sdk });
        assert.equal(result.status, 1);
        assert.match(result.stderr, /tools\/xsbug-log && npm install/);
      } finally {
        rmSync(sdk, { recursive: true, force: true });
      }
    });

    it("refuses unknown boards and arguments, listing the boards", () => {
      const result = buildDevice(["--board", "esp8266"], withoutSdk());
      assert.equal(result.status, 2);
      for (const board of [...BOARDS, "simulator"]) assert.ok(result.stderr.includes(board), board);
      assert.equal(buildDevice(["--board", "walter", "--fast"], withoutSdk()).status, 2);
      assert.match(buildDevice([], withoutSdk()).stderr, /--board is required/);
    });
  });

  describe("with the SDK", () => {
    before(function () {
      skipWithoutModdable(this);
    });

    for (const board of BOARDS) {
      it(`processes the manifest for ${board} (mcconfig -p esp32:hosts/esp32/${board}, no make)`, () => {
        const env = { ...process.env };
        delete env.IDF_PATH;
        const result = buildDevice(["--board", board, "--no-make"], env);
        assert.equal(result.status, 0, result.stderr.slice(-2000));
        const dir = join(process.env.MODDABLE!, "build/tmp/esp32", board, "release/main");
        const config = readFileSync(join(dir, "mc.config.js"), "utf8");
        assert.match(config, new RegExp(`"kind": "${board}"`));
        const makefile = readFileSync(join(dir, "makefile"), "utf8");
        // The board build carries the ESP32 machine sizes of manifest.json ("esp32/*"), with nothing incremental.
        const sizes = manifestMachine("esp32/*");
        assert.match(makefile, new RegExp(`^CREATION = -c ${sizes.chunkBytes},0,${sizes.heapSlots},0,${sizes.stackSlots},`, "m"));
        if (board !== "esp32-bg95") assert.match(makefile, /^ESP32_SUBCLASS = esp32s3$/m);
      });
    }

    it("compiles and preloads the firmware for an ESP32-S3 board up to the XS archive (make mc.xs.c)", function () {
      if (spawnSync("git", ["--version"]).status !== 0) this.skip();
      const result = buildDevice(["--board", "walter", "--no-make"], { ...process.env });
      assert.equal(result.status, 0, result.stderr.slice(-2000));
      const standIn = mkdtempSync(join(tmpdir(), "no-esp-idf-"));
      try {
        const git = (...args: string[]) => spawnSync("git", ["-C", standIn, "-c", "user.email=test@invalid", "-c", "user.name=test", ...args], { encoding: "utf8" });
        git("init", "-q");
        git("commit", "-q", "--allow-empty", "-m", "stand-in");
        git("tag", "v6.0");
        const dir = join(process.env.MODDABLE!, "build/tmp/esp32/walter/release/main");
        const bin = join(process.env.MODDABLE!, "build/bin/lin/release");
        rmSync(join(dir, "mc.xs.c"), { force: true });
        const make = spawnSync("make", [`IDF_PATH=${standIn}`, "SDKCONFIG_H=", join(dir, "mc.xs.c")], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, timeout: 600000 });
        assert.equal(make.status, 0, (make.stdout + make.stderr).slice(-3000));
        assert.ok(existsSync(join(dir, "mc.xs.c")), "xsl wrote the preloaded archive");
        assert.match(make.stdout, /# xsl modules/);
      } finally {
        rmSync(standIn, { recursive: true, force: true });
      }
    });

    it("builds the Linux simulator firmware (mcconfig -m -p lin)", () => {
      const result = buildDevice(["--board", "simulator", "--debug"], { ...process.env });
      assert.equal(result.status, 0, result.stderr.slice(-2000));
      assert.ok(existsSync(join(process.env.MODDABLE!, "build/bin/lin/mc/debug/main/mc.so")));
    });
  });
});
