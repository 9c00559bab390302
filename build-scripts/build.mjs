#!/usr/bin/env node
// Builds everything the project runs: tsc emits modules/, hosts/ and test/ to dist/ for Node;
// a second tsc pass type-checks the firmware against ES2022 alone (no Node or DOM globals), a third
// the Moddable hosts against @moddable/typings;
// esbuild bundles the firmware for the XS engine (xsnap), one bundle per XS entry point.
//   IOTSAFE_BUILD_LENIENT=1   report type errors but still emit and bundle (for work in progress)
//   --if-stale   do nothing when dist/ is newer than every source file (used by npm start/bench)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const stamp = join(dist, ".build-stamp");
const sourceDirs = ["modules", "hosts", "test", "build-scripts"];

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else out.push(path);
  }
  return out;
}

function newestSource() {
  let newest = 0;
  for (const d of sourceDirs) for (const f of walk(join(root, d))) newest = Math.max(newest, statSync(f).mtimeMs);
  for (const f of ["tsconfig.json", "tsconfig.firmware.json", "tsconfig.device.json", "package.json"]) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

if (process.argv.includes("--if-stale") && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource()) {
  process.exit(0);
}

function tsc(project) {
  const result = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", project], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`build: tsc -p ${project} failed`);
    // While several people edit at once, IOTSAFE_BUILD_LENIENT=1 keeps going (tsc still emits).
    if (process.env.IOTSAFE_BUILD_LENIENT !== "1") process.exit(1);
  }
}

const started = Date.now();
tsc("tsconfig.json");
tsc("tsconfig.firmware.json");
tsc("tsconfig.device.json");

// XS bundles. es2020 output: XS 13.3 (xsnap) mis-orders class static initialisation at es2022.
mkdirSync(join(dist, "xs"), { recursive: true });
const xsOptions = { bundle: true, format: "iife", target: "es2020", platform: "neutral", sourcemap: false, logLevel: "warning", mainFields: ["module", "main"] };

// 1. The firmware unit tests, with the XS-side test harness first so describe/it exist.
const unitTests = walk(join(root, "test/unit")).filter((f) => f.endsWith(".test.ts")).sort();
const harness = join(root, "hosts/sim/xs/test-harness.ts");
const entryLines = [harness, ...unitTests].map((f) => `import ${JSON.stringify("./" + relative(root, f).split("\\").join("/"))};`);
await esbuild.build({ ...xsOptions, stdin: { contents: entryLines.join("\n"), resolveDir: root, sourcefile: "xs-unit-tests-entry.ts", loader: "ts" }, outfile: join(dist, "xs/unit-tests.js") });
writeFileSync(join(dist, "xs/unit-tests.json"), JSON.stringify({ files: unitTests.map((f) => relative(root, f)) }, null, 2));

// 2. The firmware's entry points for the XS runner (apps and CLI commands run inside XS).
const firmwareEntry = join(root, "hosts/sim/xs/firmware-entry.ts");
if (existsSync(firmwareEntry)) {
  await esbuild.build({ ...xsOptions, entryPoints: [firmwareEntry], outfile: join(dist, "xs/firmware.js") });
}

// 3. The device build for Moddable's mcconfig (manifest.json lists dist/device/main): one ESM
// module with the SDK's modules (embedded:*, timer, time, crypt, ec, ecp, preference, mc/config) and the
// native iotsafe/random left as imports.
await esbuild.build({
  ...xsOptions,
  // The SDK's XS (16/17) runs ES2022 class fields natively; es2020 would turn private fields into
  // module-level WeakMaps, which are read-only once the bundle is preloaded into flash.
  target: "es2022",
  format: "esm",
  entryPoints: [join(root, "hosts/esp32/main.ts")],
  outfile: join(dist, "device/main.js"),
  external: ["embedded:*", "timer", "time", "crypt", "ec", "ecp", "preference", "iotsafe/*", "mc/config"],
});

writeFileSync(stamp, new Date().toISOString());
console.error(`build: done in ${((Date.now() - started) / 1000).toFixed(1)} s (${unitTests.length} unit test files bundled for XS)`);
