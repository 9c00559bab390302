// `iotsafe cloud`: runs the virtual cloud (TLS 1.3 + client certificates + MQTT broker) and logs
// each device's identity and each message it publishes.
import { X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { anyTopic, startVirtualCloud, type VirtualCloudOptions } from "../../sim/cloud/virtual-cloud.js";
import { loadDevCaFiles } from "../../sim/pki/dev-ca.js";
import { registerCommand } from "../registry.js";
import { untilStopped } from "../until-stopped.js";
import { parseListenAddress, UsageError } from "./sim.js";

const USAGE = `usage: iotsafe cloud --ca CA.pem [--listen HOST:PORT] [--cert server.pem --key server.key]
                    [--ca-key CA.key] [--allow-any-topic]

Runs the virtual cloud: a TLS 1.3 server that requires a client certificate signed by CA.pem,
with an MQTT 3.1.1 broker behind it. Prints each device's identity (its certificate's CN) and
each message it publishes. A device may publish and subscribe only on topics that have its CN
as one level (devices/CN/...). Ctrl-C stops it.
  --listen HOST:PORT   default 127.0.0.1:8883; PORT 0 picks a free port (printed)
  --ca CA.pem          CA certificate(s) of the device certificates
  --cert, --key        the server's certificate chain and key (PEM); without them a certificate
                       for localhost and 127.0.0.1 is issued from the CA, whose key is --ca-key
  --ca-key CA.key      default: ca.key next to CA.pem
  --allow-any-topic    no topic restrictions`;

function subjectOf(pem: string): string {
  try {
    return new X509Certificate(pem).subject.replace(/\n/g, ", ");
  } catch {
    return "an unreadable certificate";
  }
}

function readText(path: string, option: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`${option}: cannot read ${path}: ${(error as Error).message}`);
  }
}

async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        listen: { type: "string", default: "127.0.0.1:8883" },
        ca: { type: "string" },
        "ca-key": { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        "allow-any-topic": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usageFailure(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let options: VirtualCloudOptions;
  try {
    if (values.ca === undefined) throw new UsageError("--ca CA.pem is required");
    if ((values.cert === undefined) !== (values.key === undefined)) throw new UsageError("--cert and --key go together");
    const listen = parseListenAddress(values.listen as string);
    const clientCa = readText(values.ca, "--ca");
    if (!clientCa.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--ca: ${values.ca} holds no PEM certificate`);
    options = { host: listen.host, port: listen.port, clientCa };
    if (values.cert !== undefined && values.key !== undefined) {
      options.serverCertPem = readText(values.cert, "--cert");
      options.serverKeyPem = readText(values.key, "--key");
    } else {
      const caKey = values["ca-key"] ?? join(dirname(values.ca), "ca.key");
      if (!existsSync(caKey)) throw new UsageError(`no --cert/--key, and no CA key to issue a server certificate (${caKey} does not exist; give --ca-key)`);
      options.devCa = loadDevCaFiles(values.ca, caKey);
    }
    if (values["allow-any-topic"]) {
      options.authorizePublish = anyTopic;
      options.authorizeSubscribe = anyTopic;
    }
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(error.message);
    throw error;
  }

  const cloud = await startVirtualCloud({ ...options, log: (line) => process.stdout.write(`${new Date().toISOString()} cloud: ${line}\n`) });
  process.stdout.write(
    `virtual cloud listening on ${cloud.host}:${cloud.port} (MQTT over TLS 1.3; client certificates from ${subjectOf(options.clientCa as string)}; ` +
      `server certificate ${subjectOf(cloud.serverCertificatePem)})\n` +
      `topics: ${values["allow-any-topic"] ? "no restrictions" : "each device only under topics with its CN as a level, e.g. devices/CN/telemetry"}\n`,
  );

  // Runs until SIGINT/SIGTERM, then closes everything and exits 0.
  await untilStopped();
  await cloud.close();
  process.stderr.write(`virtual cloud stopped (${cloud.messages.length} messages received)\n`);
  return 0;
}

function usageFailure(message: string): number {
  process.stderr.write(`iotsafe cloud: ${message}\n${USAGE}\n`);
  return 2;
}

registerCommand("cloud", { summary: "run the virtual cloud (TLS 1.3 with client certificates + MQTT broker)", run });
