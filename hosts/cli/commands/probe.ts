// `iotsafe probe`: the firmware opens IoT SAFE through the modem, reads the certificate and signs a
// digest; the host checks the signature with node:crypto against the certificate's public key.
import { createHash, randomBytes, verify, X509Certificate } from "node:crypto";
import { parseArgs } from "node:util";
import { type Engine, runFirmware } from "../firmware-host.js";
import { registerCommand } from "../registry.js";

const USAGE = `usage: iotsafe probe --modem tcp://HOST:PORT [--key-id 01] [--cert-ids 02[,03...]]
                    [--transport csim|cgla|auto] [--engine xs|node] [--json]

Runs the firmware (in XS by default): modem init and identity, IoT SAFE selection, certificate
read, and one signature of a random digest made in the SIM — cold, then again with the certificate
cached. Verifies the signature with node:crypto and prints the SIM traffic of each.`;

export interface ProbeFigures {
  apdus: number;
  apduBytesSent: number;
  apduBytesReceived: number;
  at: { commands: number; bytesOut: number; bytesIn: number };
  ms: number;
}

export interface ProbeResult {
  identity: Record<string, string>;
  transport: string;
  certificates: string[];
  signatures: string[];
  cold: ProbeFigures;
  cached: ProbeFigures;
}

export function describeFigures(f: ProbeFigures): string {
  return `${f.apdus} APDUs (${f.apduBytesSent} B to the card, ${f.apduBytesReceived} B back), ${f.at.commands} AT commands, ${f.at.bytesOut} B out + ${f.at.bytesIn} B in over the AT link, ${f.ms} ms`;
}

/** Checks every signature of a probe against the leaf certificate's key; throws if one fails. */
export function verifyProbe(result: ProbeResult, message: Uint8Array): X509Certificate {
  const leaf = new X509Certificate(Buffer.from(result.certificates[0]!, "hex"));
  result.signatures.forEach((hex, i) => {
    if (!verify("sha256", message, leaf.publicKey, Buffer.from(hex, "hex"))) {
      throw new Error(`signature ${i + 1} made in the SIM does not verify against the certificate ${leaf.subject}`);
    }
  });
  return leaf;
}

registerCommand("probe", {
  summary: "read the SIM's certificate and sign a digest in the SIM, checked by node:crypto",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        modem: { type: "string" },
        "key-id": { type: "string", default: "01" },
        "cert-ids": { type: "string", default: "02" },
        transport: { type: "string", default: "auto" },
        engine: { type: "string", default: "xs" },
        json: { type: "boolean" },
        help: { type: "boolean" },
      },
    });
    if (values.help || !values.modem) {
      process.stderr.write(USAGE + "\n");
      return values.help ? 0 : 2;
    }
    const message = randomBytes(48);
    const digest = createHash("sha256").update(message).digest("hex");
    const run = await runFirmware<ProbeResult>(
      "iotsafe-probe",
      { keyId: values["key-id"], certificateIds: values["cert-ids"], transport: values.transport, digest },
      { engine: values.engine as Engine, modem: values.modem },
    );
    const leaf = verifyProbe(run.result, message);
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...run.result, verified: true, peakHeapCount: run.peakHeapCount }, null, 2) + "\n");
      return 0;
    }
    const r = run.result;
    process.stdout.write(
      [
        `engine:      ${values.engine === "node" ? "Node" : "XS (xsnap-worker)"}`,
        `modem:       ${r.identity.manufacturer} ${r.identity.model} (IMEI ${r.identity.imei}, ICCID ${r.identity.iccid})`,
        `transport:   ${r.transport}`,
        `certificate: ${leaf.subject.replace(/\n/g, ", ")} issued by ${leaf.issuer.replace(/\n/g, ", ")}`,
        `signature:   made in the SIM, verified by node:crypto with the certificate's public key`,
        `cold:        read certificate + one signature: ${describeFigures(r.cold)}`,
        `cached:      certificate cached + one signature: ${describeFigures(r.cached)}`,
        ...(run.peakHeapCount ? [`XS heap:     peak ${run.peakHeapCount} slots`] : []),
      ].join("\n") + "\n",
    );
    return 0;
  },
});
