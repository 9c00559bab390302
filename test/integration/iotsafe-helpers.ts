// Shared set-up of the IoT SAFE client integration tests: a virtual card profile holding a real
// P-256 key and an openssl-made certificate for it, and software (node:crypto) references for
// signatures, ECDH, PRF and HKDF that are independent of both the client and the card.
import { execFileSync, spawnSync } from "node:child_process";
import { createHmac, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IotSafeCard } from "../../hosts/sim/card/iotsafe-card.js";
import { type CardOptions, PROFILE_FORMAT, type SimProfile } from "../../hosts/sim/card/profile.js";
import type { ApduTransport } from "../../modules/sim/transport.js";

export const PSK_HEX = "0102030405060708090a0b0c0d0e0f10";

export interface DeviceIdentity {
  /** The key's private scalar, hex (for the virtual card's profile). */
  scalarHex: string;
  /** The key as node:crypto holds it (for reference computations only). */
  privateKey: KeyObject;
  /** A self-signed certificate for the key, DER, made by openssl. */
  certificateDer: Buffer;
}

/** A fresh P-256 key and an openssl self-signed certificate for it (CN=device-001). */
export function makeDeviceIdentity(): DeviceIdentity {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const d = privateKey.export({ format: "jwk" }).d!;
  const scalarHex = Buffer.from(d, "base64url").toString("hex").padStart(64, "0");
  const dir = mkdtempSync(join(tmpdir(), "iotsafe-id-"));
  try {
    const keyPath = join(dir, "device.key");
    const certPath = join(dir, "device.der");
    writeFileSync(keyPath, privateKey.export({ type: "pkcs8", format: "pem" }));
    execFileSync("openssl", ["req", "-x509", "-new", "-key", keyPath, "-sha256", "-days", "30", "-subj", "/CN=device-001", "-outform", "DER", "-out", certPath], { stdio: "pipe" });
    return { scalarHex, privateKey, certificateDer: readFileSync(certPath) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The store used by the integration tests. */
export function deviceProfile(identity: DeviceIdentity, options: Partial<CardOptions> = {}): SimProfile {
  return {
    format: PROFILE_FORMAT,
    options,
    objects: [
      { kind: "private-key", id: "01", label: "client-key", contents: identity.scalarHex, usage: "tls13-certificate-verify" },
      { kind: "file", id: "02", label: "client-certificate", usage: "certificate", contents: identity.certificateDer.toString("hex") },
      { kind: "file", id: "03", label: "greeting", contents: Buffer.from("hello, world").toString("hex") },
      { kind: "private-key", id: "04", access: { read: true, update: true } },
      { kind: "public-key", id: "05", access: { read: true, update: true } },
      { kind: "secret", id: "06", label: "psk", contents: PSK_HEX },
      { kind: "private-key", id: "303031", publicId: "303032", access: { read: true, update: true } },
    ],
  };
}

/** The card as an ApduTransport (the same role AT+CSIM plays on a device). */
export function cardTransport(card: IotSafeCard): ApduTransport {
  return { name: "virtual card", transmit: (apdu) => card.transmit(apdu) };
}

/** TLS 1.2 PRF, P_SHA256 (RFC 5246 §5), by node:crypto HMAC. */
export function softwarePrf(secret: Buffer, labelAndSeed: Buffer, length: number): Buffer {
  const hmac = (data: Buffer) => createHmac("sha256", secret).update(data).digest();
  const out: Buffer[] = [];
  let a = labelAndSeed;
  let total = 0;
  while (total < length) {
    a = hmac(a);
    const block = hmac(Buffer.concat([a, labelAndSeed]));
    out.push(block);
    total += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** HKDF-Extract (RFC 5869 §2.2), by node:crypto HMAC. */
export function softwareHkdfExtract(hash: "sha256" | "sha384", salt: Buffer, ikm: Buffer): Buffer {
  return createHmac(hash, salt).update(ikm).digest();
}

/** Runs openssl, returning its exit status and combined stdout + stderr. */
export function openssl(args: string[]): { status: number; output: string } {
  const result = spawnSync("openssl", args, { encoding: "utf8" });
  return { status: result.status ?? 1, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}
