/**
 * For the tests that need the Moddable SDK (test/integration/moddable-*.test.ts): whether it is
 * there, and running hosts/moddable-sim/run.mjs. Without MODDABLE (as in CI) those tests skip
 * with the reason printed once.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const repoRoot = join(import.meta.dirname, "../../..");

/** Why the SDK-based tests cannot run here, or undefined. */
export function moddableProblem(options: { simulator?: boolean } = {}): string | undefined {
  const sdk = process.env.MODDABLE;
  if (!sdk) return "MODDABLE is not set (install the Moddable SDK for Linux; README, 'Run in the Moddable simulator')";
  if (!existsSync(join(sdk, "build/bin/lin/release/mcconfig"))) return `the SDK's Linux tools are not built under ${sdk}`;
  if (options.simulator) {
    if (!existsSync(join(sdk, "build/bin/lin/release/mcsim"))) return "mcsim is not built";
    if (!existsSync(join(sdk, "tools/xsbug-log/node_modules"))) return "xsbug-log has no dependencies (cd $MODDABLE/tools/xsbug-log && npm install)";
    if (spawnSync("sh", ["-c", "command -v xvfb-run"]).status !== 0) return "xvfb-run is missing (apt-get install -y xvfb xauth)";
  }
  return undefined;
}

const reported = new Set<string>();

/** Skips the current suite (from a `before` hook) when the SDK is missing, saying why once. */
export function skipWithoutModdable(context: Mocha.Context, options: { simulator?: boolean } = {}): void {
  const problem = moddableProblem(options);
  if (!problem) return;
  if (!reported.has(problem)) {
    reported.add(problem);
    process.stderr.write(`      (skipping Moddable SDK tests: ${problem})\n`);
  }
  context.skip();
}

export interface SimulatorRun {
  exitCode: number;
  abort?: string;
  failed?: string;
  done?: Record<string, unknown>;
  memory?: { slotBytes: number; chunkBytes: number; stackBytes: number };
  uart?: { received: number; delivered: number; dropped: number; overflows: number; maxFill: number; maxLateMs: number; drains: number };
  instruments?: Record<string, number>;
  output: string;
}

/** Runs `node hosts/moddable-sim/run.mjs ARGS --json` and parses its summary line. */
export function runSimulator(args: string[], timeoutMs: number): Promise<SimulatorRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "hosts/moddable-sim/run.mjs"), ...args, "--json"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`run.mjs did not finish within ${timeoutMs} ms:\n${output.slice(-3000)}`));
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      const last = output.trim().split("\n").at(-1) ?? "";
      try {
        resolve({ ...(JSON.parse(last) as Omit<SimulatorRun, "output">), output });
      } catch {
        reject(new Error(`run.mjs gave no summary:\n${output.slice(-3000)}`));
      }
    });
  });
}

/** The XS machine the ESP32 boards get (manifest.json, "esp32/*" creation): bytes, slots, slots. */
export interface MachineSizes {
  chunkBytes: number;
  heapSlots: number;
  stackSlots: number;
}

interface ManifestCreation {
  chunk: { initial: number };
  heap: { initial: number };
  stack: number;
}

/** The creation sizes of one manifest platform ("esp32/*" for the boards, "lin" for the simulator). */
export function manifestMachine(platform: string): MachineSizes {
  const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as { platforms: Record<string, { creation?: ManifestCreation }> };
  const creation = manifest.platforms[platform]?.creation;
  if (!creation) throw new Error(`manifest.json has no creation for platform ${platform}`);
  return { chunkBytes: creation.chunk.initial, heapSlots: creation.heap.initial, stackSlots: creation.stack };
}

/** Bytes of XS memory the machine takes on a 32-bit MCU (16-byte slots). */
export function machineBytesOn32Bit(sizes: MachineSizes): number {
  return sizes.chunkBytes + 16 * (sizes.heapSlots + sizes.stackSlots);
}

export interface MemoryHeadroom {
  /** Live peaks: slots and stack slots counted in slots (the same on any word size), chunks in bytes (of the simulator's 64-bit build). */
  peak: { slots: number; chunkBytes: number; stackSlots: number };
  /** Capacity over peak, minus one: 0.3 = 30% headroom. */
  headroom: { slots: number; chunks: number; stack: number };
}

/**
 * Headroom of `sizes` over a run's live peaks (run.mjs --memory). The simulator is 64-bit: its
 * slots are `slotBytes` wide (taken from the run's instruments), which converts its byte figures
 * into slot counts.
 */
export function memoryHeadroom(run: SimulatorRun, sizes: MachineSizes): MemoryHeadroom {
  if (!run.memory || !run.instruments) throw new Error("the run has no memory figures (run.mjs --memory)");
  const slotAvailable = run.instruments["Slot available"];
  const stackAvailable = run.instruments["Stack available"];
  if (!slotAvailable || !stackAvailable) throw new Error("the run's instruments lack the slot heap and stack sizes");
  const slotBytes = Math.round(slotAvailable / sizes.heapSlots);
  const stackSlotBytes = Math.round(stackAvailable / sizes.stackSlots);
  const peak = { slots: Math.ceil(run.memory.slotBytes / slotBytes), chunkBytes: run.memory.chunkBytes, stackSlots: Math.ceil(run.memory.stackBytes / stackSlotBytes) };
  return {
    peak,
    headroom: { slots: sizes.heapSlots / peak.slots - 1, chunks: sizes.chunkBytes / peak.chunkBytes - 1, stack: sizes.stackSlots / peak.stackSlots - 1 },
  };
}
