// Builds the crypto conformance app (main.js here) for the Moddable simulator: esbuild bundles it
// into one ESM module outside the repository ($MODDABLE/build/tmp/iotsafe-crypto-conformance/)
// next to a generated manifest, and returns the manifest's path for hosts/moddable-sim/run.mjs.
// The bundle is preloaded like the firmware, so the native provider is checked as the device runs it.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");

export async function buildConformanceApp({ preload = true } = {}) {
  if (!process.env.MODDABLE) throw new Error("MODDABLE is not set");
  const dir = join(process.env.MODDABLE, "build/tmp", preload ? "iotsafe-crypto-conformance" : "iotsafe-crypto-conformance-nopreload");
  mkdirSync(dir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(here, "main.js")],
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral",
    mainFields: ["module", "main"],
    logLevel: "warning",
    absWorkingDir: root,
    nodePaths: [join(root, "node_modules")],
    outfile: join(dir, "main.js"),
    external: ["crypt", "ec", "ecp"],
  });
  const manifest = {
    include: ["$(MODDABLE)/examples/manifest_base.json", "$(MODDABLE)/modules/crypt/digest/manifest.json"],
    modules: { "*": ["./main", "$(MODULES)/crypt/arith/*"] },
    preload: preload ? ["main", "ec", "ecp"] : ["ec", "ecp"],
    platforms: {
      lin: { creation: { static: 0, chunk: { initial: 1048576, incremental: 0 }, heap: { initial: 65536, incremental: 0 }, stack: 4096 } },
      "...": { error: "the conformance app runs in the Linux simulator" },
    },
  };
  const path = join(dir, "manifest.json");
  writeFileSync(path, JSON.stringify(manifest, null, 1));
  return path;
}
