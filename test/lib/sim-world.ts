/**
 * A virtual device world for end-to-end tests: a SIM profile made by the `iotsafe profile` CLI
 * (key generated inside the virtual SIM, certificate from a given CA), a virtual modem serving it
 * over TCP, and helpers that run firmware entry points in XS or on Node against that modem.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cardFromProfileFile } from "../../hosts/sim/card/iotsafe-card.js";
import { type RunningVirtualModem, startVirtualModem } from "../../hosts/sim/modem/index.js";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const cliPath = join(repoRoot, "bin", "iotsafe.js");

/** Runs the `iotsafe` CLI to completion; throws with its stderr if it fails. */
export function iotsafeCli(...args: string[]): string {
  return execFileSync(process.execPath, [cliPath, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export interface SimWorld {
  dir: string;
  profilePath: string;
  modem: RunningVirtualModem;
  /** tcp://127.0.0.1:PORT of the virtual modem. */
  modemUrl: string;
  close(): Promise<void>;
}

/** A profile for CN `cn` issued by the CA at caCert/caKey, served by a virtual modem on loopback. */
export async function startSimWorld(options: { caCert: string; caKey: string; cn?: string; extraProfileArgs?: string[][]; dialect?: string }): Promise<SimWorld> {
  const dir = mkdtempSync(join(tmpdir(), "iotsafe-world-"));
  const profilePath = join(dir, "sim.json");
  iotsafeCli("profile", "new", "--out", profilePath, "--ca-cert", options.caCert, "--ca-key", options.caKey, "--cn", options.cn ?? "device-001");
  for (const args of options.extraProfileArgs ?? []) iotsafeCli("profile", ...args.map((a) => a.replace("{profile}", profilePath)));
  const modem = await startVirtualModem({
    card: await cardFromProfileFile(profilePath),
    listen: { host: "127.0.0.1", port: 0 },
    ...(options.dialect ? { dialect: options.dialect } : {}),
  });
  return {
    dir,
    profilePath,
    modem,
    modemUrl: `tcp://127.0.0.1:${modem.port}`,
    async close() {
      await modem.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
