// Shared set-up for the virtual IoT SAFE card tests: a profile with known objects, hex exchange,
// and node:crypto checks that are independent of the card's own crypto (noble).
import { createECDH, createPublicKey, verify, type KeyObject } from "node:crypto";
import { IotSafeCard, type IotSafeCardOptions } from "../../hosts/sim/card/iotsafe-card.js";
import { PROFILE_FORMAT, type CardOptions, type ProfileObject, type SimProfile } from "../../hosts/sim/card/profile.js";
import { transmitHex } from "../../hosts/sim/card/hex-transmit.js";

/** A fixed P-256 scalar for key 01 (any valid scalar; the public key is derived by node:crypto below). */
export const KEY01_SCALAR = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
/** Key 303036 ("006", ZARIOT style) with its public part reported as 303037 ("007"). */
export const KEY006_SCALAR = "519b423d715f8b581f4fa8ee59f4771a5b44c8130b4e3eacca54a56dda72b464";
export const PSK06 = "0102030405060708090a0b0c0d0e0f10";
/** The GSMA IoT SAFE applet AID (iotsafe.md §1.2), as hex. */
export const GSMA_AID = "A0000005590010";

/** Uncompressed public point of a scalar, computed by OpenSSL (node:crypto), not by the card. */
export function publicPointOf(scalarHex: string): string {
  const ecdh = createECDH("prime256v1");
  ecdh.setPrivateKey(Buffer.from(scalarHex, "hex"));
  return ecdh.getPublicKey("hex", "uncompressed").toUpperCase();
}

export function publicKeyObject(pointHex: string): KeyObject {
  const point = Buffer.from(pointHex, "hex");
  return createPublicKey({
    key: { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33, 65).toString("base64url") },
    format: "jwk",
  });
}

/** ECDSA P-256 check of raw r‖s (hex) over `message` (hashed with SHA-256 by OpenSSL). */
export function verifiesRaw(pointHex: string, message: Buffer, rawSignatureHex: string): boolean {
  return verify("sha256", message, { key: publicKeyObject(pointHex), dsaEncoding: "ieee-p1363" }, Buffer.from(rawSignatureHex, "hex"));
}

/** A deterministic 875-byte "certificate" file (size 0x036B as in iotsafe.md §5.2), ending in 00 on purpose. */
export function certificateFileBytes(): Buffer {
  const out = Buffer.alloc(875);
  for (let i = 0; i < out.length; i++) out[i] = (i * 7 + 3) & 0xff;
  out[0] = 0x30;
  out[1] = 0x82;
  out.writeUInt16BE(871, 2);
  out[874] = 0x00;
  return out;
}

export function testObjects(): ProfileObject[] {
  return [
    { kind: "private-key", id: "01", label: "client-key", contents: KEY01_SCALAR, usage: "tls12-certificate-verify" },
    { kind: "file", id: "02", label: "client-certificate", usage: "certificate", contents: certificateFileBytes().toString("hex") },
    { kind: "file", id: "03", label: "ca-certificate", usage: "certificate", contents: "30030201ff" },
    { kind: "private-key", id: "04", access: { read: true, update: true }, functions: ["key-generation", "key-agreement"] },
    { kind: "public-key", id: "05", access: { read: true, update: true } },
    { kind: "secret", id: "06", label: "psk", contents: PSK06 },
    { kind: "private-key", id: "303031", publicId: "303032", access: { read: true, update: true } },
    { kind: "private-key", id: "303036", publicId: "303037", contents: KEY006_SCALAR },
    { kind: "private-key", id: "1234", access: { read: true, update: true } },
    { kind: "file", id: "0200", contents: "00".repeat(40) },
    { kind: "file", id: "07", label: "secret-file", access: { read: false }, contents: "aa" },
  ];
}

export function testProfile(options: Partial<CardOptions> = {}, objects: ProfileObject[] = testObjects()): SimProfile {
  return { format: PROFILE_FORMAT, options, objects };
}

export function testCard(options: Partial<CardOptions> = {}, cardOptions: IotSafeCardOptions = {}): IotSafeCard {
  return new IotSafeCard(testProfile(options), cardOptions);
}

/** Sends hex, returns upper-case hex of the whole answer (data + SW). */
export const send = transmitHex;

/** Opens channel 1 and selects the GSMA AID there, checking both answers. */
export async function openAndSelect(card: IotSafeCard): Promise<void> {
  const open = await send(card, "0070000001");
  if (open !== "019000") throw new Error(`MANAGE CHANNEL answered ${open}`);
  const select = await send(card, "01A4040007A0000005590010");
  if (select !== "9000") throw new Error(`SELECT answered ${select}`);
}

export const HELLO_WORLD_SHA256 = "B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9";
