// `iotsafe profile`: virtual IoT SAFE SIM profiles (new, import, show) and the development CA (dev-ca).
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { toHex } from "../../../modules/bytes/bytes.js";
import { createDevCa, loadDevCaFiles, writeDevCa } from "../../sim/pki/dev-ca.js";
import { emptyProfile, loadProfile, saveProfile, type SimProfile } from "../../sim/card/profile.js";
import { importObjects, newBootstrapProfile, newDeviceProfile } from "../../sim/card/profile-tools.js";
import { derFromPemOrDer } from "../../sim/pki/pem.js";
import { registerCommand } from "../registry.js";

const USAGE = `usage:
  iotsafe profile new --out P.json --ca-cert CA.pem --ca-key CA.key --cn NAME [--days N] [--force]
      a device profile: key pair generated inside the virtual SIM (private key 01), client
      certificate signed by the CA in file 02, the CA certificate in file 03, writable
      containers 04 (key pair) and 05 (public key)
  iotsafe profile new --bootstrap --out P.json --ca-cert CLAIM-CA.pem --ca-key CLAIM-CA.key
      [--cn CLAIM-NAME] [--server-ca CA.pem] [--operational-ca CA.pem] [--iccid DIGITS] [--force]
      a SIM for touchless provisioning, holding only a bootstrap credential: claim key 01
      generated inside the virtual SIM with its certificate from the claim CA in file 02
      (CN default iotsafe-claim), the server's trust anchor in file 03 (default the claim CA),
      the operational CA in file 08 (if given), and empty writable key-pair containers 06
      and 07 for the operational key; a random ICCID unless --iccid
  iotsafe profile import --profile P.json [--private-key ID=key.pem]... [--file ID=cert.pem|der]...
      [--writable-private ID]... [--writable-public ID]...
      adds existing objects (IDs in hex); creates P.json if it does not exist
  iotsafe profile dev-ca --out-dir DIR [--cn NAME] [--days N] [--force]
      a P-256 development CA: DIR/ca.pem and DIR/ca.key
  iotsafe profile show --profile P.json
      lists the objects of a profile`;

class UsageError extends Error {
  override name = "UsageError";
}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== "string" || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

function days(values: Record<string, unknown>): number | undefined {
  if (values.days === undefined) return undefined;
  const n = Number(values.days);
  if (!Number.isInteger(n) || n < 1 || n > 36500) throw new UsageError(`--days must be a whole number of days (1..36500), got ${String(values.days)}`);
  return n;
}

/** "ID=path" pairs of repeatable options. */
function idAndPath(entries: string[] | undefined, option: string): { id: string; contents: Uint8Array; source: string }[] {
  return (entries ?? []).map((entry) => {
    const eq = entry.indexOf("=");
    if (eq <= 0 || eq === entry.length - 1) throw new UsageError(`--${option} expects ID=PATH, got ${JSON.stringify(entry)}`);
    const path = entry.slice(eq + 1);
    let contents: Uint8Array;
    try {
      contents = new Uint8Array(readFileSync(path));
    } catch (error) {
      throw new UsageError(`--${option}: cannot read ${path}: ${(error as Error).message}`);
    }
    return { id: entry.slice(0, eq), contents, source: `--${option} ${entry}` };
  });
}

async function profileNew(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      out: { type: "string" },
      "ca-cert": { type: "string" },
      "ca-key": { type: "string" },
      cn: { type: "string" },
      days: { type: "string" },
      force: { type: "boolean" },
      bootstrap: { type: "boolean" },
      "server-ca": { type: "string" },
      "operational-ca": { type: "string" },
      iccid: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const out = required(values, "out");
  if (values.bootstrap) return profileNewBootstrap(values, out);
  for (const option of ["server-ca", "operational-ca", "iccid"] as const) if (values[option] !== undefined) throw new UsageError(`--${option} goes with --bootstrap`);
  const cn = required(values, "cn");
  if (existsSync(out) && !values.force) throw new Error(`${out} exists and holds keys; use --force to replace it`);
  const ca = loadDevCaFiles(required(values, "ca-cert"), required(values, "ca-key"));
  const device = await newDeviceProfile(ca, { cn, days: days(values) });
  saveProfile(out, device.profile);
  const certificate = new X509Certificate(device.certificateDer);
  process.stdout.write(
    `wrote ${out}\n` +
      `  private key 01: generated in the virtual SIM, public key ${toHex(device.publicKey)}\n` +
      `  file 02: client certificate ${certificate.subject.replace(/\n/g, ", ")}, serial ${certificate.serialNumber}, valid to ${certificate.validTo}\n` +
      `  file 03: CA certificate ${new X509Certificate(ca.certificateDer).subject.replace(/\n/g, ", ")}\n` +
      `  04: writable key-pair container, 05: writable public-key container\n`,
  );
  return 0;
}

/** One certificate (PEM or DER file) as DER. */
function certificateFile(path: string, option: string): Uint8Array {
  let der: Uint8Array;
  try {
    der = derFromPemOrDer(new Uint8Array(readFileSync(path)));
    new X509Certificate(der);
  } catch (error) {
    throw new UsageError(`--${option}: ${path} is not a certificate (${(error as Error).message})`);
  }
  return der;
}

async function profileNewBootstrap(values: Record<string, string | boolean | undefined>, out: string): Promise<number> {
  if (existsSync(out) && !values.force) throw new Error(`${out} exists and holds keys; use --force to replace it`);
  const claimCa = loadDevCaFiles(required(values, "ca-cert"), required(values, "ca-key"));
  const iccid = typeof values.iccid === "string" ? values.iccid : undefined;
  if (iccid !== undefined && !/^\d{18,20}$/.test(iccid)) throw new UsageError(`--iccid must be 18..20 digits, got ${JSON.stringify(iccid)}`);
  const serverCa = typeof values["server-ca"] === "string" ? certificateFile(values["server-ca"], "server-ca") : undefined;
  const operationalCa = typeof values["operational-ca"] === "string" ? certificateFile(values["operational-ca"], "operational-ca") : undefined;
  const sim = await newBootstrapProfile(claimCa, {
    claimCn: typeof values.cn === "string" ? values.cn : "iotsafe-claim",
    days: days(values),
    ...(serverCa ? { serverCaDer: serverCa } : {}),
    ...(operationalCa ? { operationalCaDer: operationalCa } : {}),
    ...(iccid ? { iccid } : {}),
  });
  saveProfile(out, sim.profile);
  const claim = new X509Certificate(sim.claimCertificateDer);
  const subject = (der: Uint8Array) => new X509Certificate(der).subject.replace(/\n/g, ", ");
  process.stdout.write(
    `wrote ${out} (bootstrap SIM, ICCID ${sim.iccid})\n` +
      `  private key 01: claim key generated in the virtual SIM, public key ${toHex(sim.claimPublicKey)}\n` +
      `  file 02: claim certificate ${claim.subject.replace(/\n/g, ", ")}, issued by ${claim.issuer.replace(/\n/g, ", ")}, valid to ${claim.validTo}\n` +
      `  file 03: server trust anchor ${subject(serverCa ?? claimCa.certificateDer)}\n` +
      (operationalCa ? `  file 08: operational CA ${subject(operationalCa)}\n` : `  file 08: none (give --operational-ca, or configure the device's certificate trust anchors)\n`) +
      `  06, 07: empty writable key-pair containers for the operational key (no operational certificate yet)\n`,
  );
  return 0;
}

async function profileImport(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: "string" },
      "private-key": { type: "string", multiple: true },
      file: { type: "string", multiple: true },
      "writable-private": { type: "string", multiple: true },
      "writable-public": { type: "string", multiple: true },
    },
    strict: true,
    allowPositionals: false,
  });
  const path = required(values, "profile");
  const profile: SimProfile = existsSync(path) ? loadProfile(path) : emptyProfile();
  const updated = importObjects(profile, {
    privateKeys: idAndPath(values["private-key"], "private-key"),
    files: idAndPath(values.file, "file"),
    writablePrivate: values["writable-private"] ?? [],
    writablePublic: values["writable-public"] ?? [],
  });
  saveProfile(path, updated);
  process.stdout.write(`wrote ${path} (${updated.objects.length} objects)\n`);
  return 0;
}

async function profileDevCa(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { "out-dir": { type: "string" }, cn: { type: "string" }, days: { type: "string" }, force: { type: "boolean" } },
    strict: true,
    allowPositionals: false,
  });
  const dir = required(values, "out-dir");
  const ca = createDevCa({ cn: values.cn, days: days(values) });
  const { certificatePath, keyPath } = writeDevCa(ca, dir, values.force === true);
  process.stdout.write(`wrote ${certificatePath} and ${keyPath} (${new X509Certificate(ca.certificateDer).subject.replace(/\n/g, ", ")})\n`);
  return 0;
}

async function profileShow(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { profile: { type: "string" } }, strict: true, allowPositionals: false });
  const profile = loadProfile(required(values, "profile"));
  if (profile.description) process.stdout.write(`${profile.description}\n`);
  for (const o of profile.objects) {
    const size = o.contents ? o.contents.length / 2 : 0;
    let detail = o.contents ? `${size} bytes` : "empty";
    if (o.kind === "file" && o.contents) {
      try {
        const certificate = new X509Certificate(Buffer.from(o.contents, "hex"));
        detail += `, certificate ${certificate.subject.replace(/\n/g, ", ")}`;
      } catch {
        // not a certificate
      }
    }
    const access = `${o.access?.read ?? o.kind !== "secret" ? "r" : "-"}${o.access?.update ? "w" : "-"}`;
    process.stdout.write(`${o.kind.padEnd(11)} ${o.id.padEnd(8)} ${access} ${(o.label ?? "").padEnd(20)} ${detail}\n`);
  }
  return 0;
}

const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  new: profileNew,
  import: profileImport,
  "dev-ca": profileDevCa,
  show: profileShow,
};

registerCommand("profile", {
  summary: "virtual SIM profiles (new, import, show) and the development CA (dev-ca)",
  async run(args: string[]): Promise<number> {
    const [name, ...rest] = args;
    const subcommand = name ? SUBCOMMANDS[name] : undefined;
    if (!subcommand || rest.includes("--help") || rest.includes("-h")) {
      process.stderr.write(`${USAGE}\n`);
      return subcommand || name === undefined || name === "--help" || name === "-h" ? 0 : 2;
    }
    try {
      return await subcommand(rest);
    } catch (error) {
      const usage = error instanceof UsageError || (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"));
      process.stderr.write(`iotsafe profile ${name}: ${error instanceof Error ? error.message : String(error)}\n${usage ? USAGE + "\n" : ""}`);
      return usage ? 2 : 1;
    }
  },
});
