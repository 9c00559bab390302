// The noble crypto provider (the portable default) against the provider conformance suite.
import { asciiToBytes, toHex } from "../../../modules/bytes/bytes.js";
import { nobleCrypto, sha256Digest } from "../../../modules/crypto/noble-provider.js";
import * as assert from "../../lib/portable/assert.js";
import { describeProviderConformance } from "./provider-conformance.js";

describeProviderConformance("noble", nobleCrypto);

describe("crypto provider (noble) extras", () => {
  it("sha256Digest is SHA-256 (FIPS 180-4 'abc' example)", () => {
    assert.equal(toHex(sha256Digest(asciiToBytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
