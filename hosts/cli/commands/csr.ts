// `iotsafe csr`: the firmware builds a PKCS#10 request for a SIM-held key and has the SIM sign it.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Engine, runFirmware } from "../firmware-host.js";
import { registerCommand } from "../registry.js";

const USAGE = `usage: iotsafe csr --modem tcp://HOST:PORT --cn NAME [--key-id 01] [--public-key-id ID]
                  [--dns NAME,...] [--transport csim|cgla|auto] [--engine xs|node] [--out FILE]

Builds a certificate signing request on the device for the key pair in the SIM's private key
container --key-id, signed inside the SIM. Writes PEM to --out (default: standard output).`;

registerCommand("csr", {
  summary: "build a CSR on the device, signed by a SIM-held key",
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        modem: { type: "string" },
        cn: { type: "string" },
        "key-id": { type: "string", default: "01" },
        "public-key-id": { type: "string" },
        dns: { type: "string" },
        transport: { type: "string", default: "auto" },
        engine: { type: "string", default: "xs" },
        out: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (values.help || !values.modem || !values.cn) {
      process.stderr.write(USAGE + "\n");
      return values.help ? 0 : 2;
    }
    const { result } = await runFirmware<{ pem: string }>(
      "csr",
      { keyId: values["key-id"], publicKeyId: values["public-key-id"] ?? "", cn: values.cn, dns: values.dns ?? "", transport: values.transport },
      { engine: values.engine as Engine, modem: values.modem },
    );
    if (values.out) {
      writeFileSync(values.out, result.pem);
      process.stderr.write(`wrote ${values.out}\n`);
    } else {
      process.stdout.write(result.pem);
    }
    return 0;
  },
});
