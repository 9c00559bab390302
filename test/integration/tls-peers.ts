/**
 * Real TLS peers for the TLS client's integration tests: a throwaway PKI made with the openssl
 * command line, `openssl s_server` processes and Node TLS servers on loopback ports.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function openssl(dir: string, ...args: string[]): string {
  return execFileSync("openssl", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export interface Pki {
  dir: string;
  path(name: string): string;
  read(name: string): string;
  remove(): void;
}

/**
 * Builds the PKI of peers.md in a temp dir: a P-256 CA, an RSA-2048 CA, server certificates under
 * each (SAN localhost + 127.0.0.1, EKU serverAuth) plus a P-384 one under the P-256 CA, a P-256 client certificate (EKU clientAuth), a
 * server certificate from a CA nobody trusts, and an expired server certificate.
 */
export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "iotsafe-tls-"));
  const run = (...args: string[]) => openssl(dir, ...args);
  const serverExt = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n";
  const clientExt = "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n";
  writeFileSync(join(dir, "server.ext"), serverExt);
  writeFileSync(join(dir, "client.ext"), clientExt);

  const ecKey = (name: string) => run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${name}.key`);
  const rsaKey = (name: string) => run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", `${name}.key`);
  const caCert = (name: string, cn: string) => run("req", "-x509", "-new", "-key", `${name}.key`, "-sha256", "-days", "30", "-subj", `/CN=${cn}`, "-out", `${name}.pem`);
  const issue = (name: string, cn: string, ca: string, ext: string) => {
    run("req", "-new", "-key", `${name}.key`, "-subj", `/CN=${cn}`, "-out", `${name}.csr`);
    run("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.pem`, "-CAkey", `${ca}.key`, "-CAcreateserial", "-days", "30", "-sha256", "-extfile", ext, "-out", `${name}.pem`);
  };

  ecKey("ca");
  caCert("ca", "Test CA");
  ecKey("server");
  issue("server", "localhost", "ca", "server.ext");
  ecKey("client");
  issue("client", "device-001", "ca", "client.ext");
  ecKey("other-client"); // a key that matches no certificate

  run("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", "p384-server.key");
  issue("p384-server", "localhost", "ca", "server.ext");

  rsaKey("rsa-ca");
  caCert("rsa-ca", "Test RSA CA");
  rsaKey("rsa-server");
  issue("rsa-server", "localhost", "rsa-ca", "server.ext");

  ecKey("rogue-ca");
  caCert("rogue-ca", "Rogue CA");
  ecKey("rogue-server");
  issue("rogue-server", "localhost", "rogue-ca", "server.ext");

  // An expired certificate needs explicit dates: `openssl ca` takes them (x509 -req in 3.0 does not).
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    [
      "[ca]",
      "default_ca = test",
      "[test]",
      "dir = .",
      "database = index.txt",
      "serial = serial",
      "new_certs_dir = .",
      "default_md = sha256",
      "policy = any",
      "copy_extensions = none",
      "unique_subject = no",
      "[any]",
      "commonName = supplied",
      "[server_ext]",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "extendedKeyUsage=serverAuth",
      "keyUsage=digitalSignature",
      "",
    ].join("\n"),
  );
  ecKey("expired-server");
  run("req", "-new", "-key", "expired-server.key", "-subj", "/CN=localhost", "-out", "expired-server.csr");
  run(
    "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "expired-server.csr", "-out", "expired-server.pem",
    "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extensions", "server_ext", "-notext",
  );

  return {
    dir,
    path: (name) => join(dir, name),
    read: (name) => readFileSync(join(dir, name), "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A free loopback TCP port (bound then released; fine for tests). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export interface SServer {
  port: number;
  process: ChildProcess;
  /** Everything the server printed so far (stdout + stderr). */
  output(): string;
  /** Resolves when the output matches `pattern` (or rejects after `ms`). */
  waitFor(pattern: RegExp, ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `openssl s_server` on a free loopback port with `args` (after -accept); resolves once it accepts. */
export async function startSServer(dir: string, args: string[]): Promise<SServer> {
  const port = await freePort();
  const child = spawn("openssl", ["s_server", "-accept", `127.0.0.1:${port}`, ...args], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    for (const l of [...listeners]) l();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let exited = false;
  child.on("exit", () => {
    exited = true;
    for (const l of [...listeners]) l();
  });
  const waitFor = (pattern: RegExp, ms = 10000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pattern.test(output)) {
          cleanup();
          resolve();
        } else if (exited) {
          cleanup();
          reject(new Error(`s_server exited before printing ${pattern}; output:\n${output}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`s_server did not print ${pattern} within ${ms} ms; output:\n${output}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  await waitFor(/ACCEPT/);
  return {
    port,
    process: child,
    output: () => output,
    waitFor,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** The s_server arguments of peers.md for a server that requires a client certificate. */
export function sServerArgs(cert: string, key: string, extra: string[] = []): string[] {
  return ["-tls1_3", "-cert", cert, "-key", key, "-CAfile", "ca.pem", "-Verify", "1", "-verify_return_error", "-rev", "-naccept", "1", ...extra];
}
