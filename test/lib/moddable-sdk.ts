/**
 * For the tests that need the Moddable SDK (test/integration/moddable-*.test.ts): whether it is
 * there, and running hosts/moddable-sim/run.mjs. Without MODDABLE (as in CI) those tests skip
 * with the reason printed once.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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
