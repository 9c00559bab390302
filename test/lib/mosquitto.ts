/**
 * A real mosquitto 2.0 broker as a test peer, configured as docs/peers.md says but with
 * `tls_version tlsv1.3`: TLS only, a client certificate from the directory's CA required, the
 * certificate's CN used as the user name. Shared by the mosquitto interop tests.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { freePort } from "../integration/tls-peers.js";

/** A program from PATH, or from the sbin directories Debian installs mosquitto into. */
export function findProgram(name: string): string | undefined {
  for (const candidate of [name, `/usr/sbin/${name}`, `/usr/local/sbin/${name}`]) {
    if (!spawnSync(candidate, ["--help"], { stdio: "ignore" }).error) return candidate;
  }
  return undefined;
}

export const MOSQUITTO = findProgram("mosquitto");

/** Polls `check` every `everyMs` until it returns a value; throws after `ms`. */
export async function waitUntil<T>(what: string, ms: number, check: () => T | undefined | Promise<T | undefined>, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export interface MosquittoBroker {
  port: number;
  process: ChildProcess;
  log(): string;
  waitForLog(pattern: RegExp, ms?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface StartMosquittoOptions {
  /** Which files of `dir` the broker must be able to read (default: all of them). */
  readable?: (fileName: string) => boolean;
}

/**
 * Starts mosquitto on a free port with a TLS 1.3 listener using `dir`'s ca.pem, server.pem and
 * server.key; writes mosquitto.conf and mosquitto.log into `dir`.
 */
export async function startMosquitto(dir: string, options: StartMosquittoOptions = {}): Promise<MosquittoBroker> {
  if (!MOSQUITTO) throw new Error("mosquitto is not installed");
  const port = await freePort();
  const logPath = join(dir, "mosquitto.log");
  writeFileSync(logPath, "");
  const config = [
    "per_listener_settings true",
    "persistence false",
    `log_dest file ${logPath}`,
    "log_type all",
    `listener ${port} 127.0.0.1`,
    `cafile ${join(dir, "ca.pem")}`,
    `certfile ${join(dir, "server.pem")}`,
    `keyfile ${join(dir, "server.key")}`,
    "require_certificate true",
    "use_identity_as_username true",
    "tls_version tlsv1.3",
    "allow_anonymous false",
    "",
  ].join("\n");
  const configPath = join(dir, "mosquitto.conf");
  writeFileSync(configPath, config);
  // Started as root, mosquitto drops to the mosquitto user: it must read the (throwaway) keys and write its log.
  chmodSync(dir, 0o755);
  for (const f of readdirSync(dir)) if (options.readable?.(f) ?? true) chmodSync(join(dir, f), 0o644);
  chmodSync(logPath, 0o666);
  const child = spawn(MOSQUITTO, ["-c", configPath], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  let exited = false;
  child.on("exit", () => (exited = true));
  const log = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
  await waitUntil(`mosquitto to listen on ${port}`, 10000, async () => {
    if (exited) throw new Error(`mosquitto exited: ${output}\n${log()}`);
    return (await portOpen(port)) ? true : undefined;
  });
  return {
    port,
    process: child,
    log,
    waitForLog: (pattern, ms = 10000) =>
      waitUntil(`${pattern} in the mosquitto log`, ms, () => {
        const text = log();
        return pattern.test(text) ? text : undefined;
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}
