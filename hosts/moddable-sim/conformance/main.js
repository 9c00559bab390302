/*
 * The crypto provider conformance suite (test/unit/crypto/provider-conformance.ts) on the native
 * provider backed by the SDK's real crypt and ec modules, as a Moddable app: built by build.mjs in
 * this folder, run in mcsim by test/integration/moddable-crypto.test.ts. Plain JS so that the
 * suite's mocha-typed sources need not join the device type-check.
 */
import { run } from "./harness.ts";
import { describeProviderConformance } from "../../../test/unit/crypto/provider-conformance.ts";
import { createNativeProvider } from "../../../modules/crypto/native-provider.ts";
import { BlockCipher, Digest, GHASH, Mode } from "crypt";
import EC from "ec";
import ECPoint from "ecp";

describeProviderConformance("moddable-native on the SDK's crypt and ec modules", createNativeProvider({ Digest, BlockCipher, Mode, GHASH, EC, ECPoint }));

export default function main() {
	run((line) => trace(`${line}\n`)).then(
		(summary) => trace(`${summary.failed === 0 ? "@done" : "@failed"} ${JSON.stringify(summary)}\n`),
		(error) => trace(`@failed ${error}\n`),
	);
}
