// Types for the Moddable SDK modules the board hosts use that @moddable/typings (5.6.0) lacks,
// and for this project's own native module.
declare module "crypt" {
  import type { NativeBlockCipher, NativeDigest, NativeMode } from "../../modules/crypto/native-provider.js";
  /** modules/crypt/digest/crypt.js: MD5, SHA1, SHA224, SHA256, SHA384, SHA512. */
  export const Digest: new (algorithm: string) => NativeDigest;
  export const GHASH: new (h: ArrayBuffer, aad?: ArrayBuffer) => NativeDigest;
  export const BlockCipher: new (algorithm: string, key: ArrayBuffer) => NativeBlockCipher;
  export const Mode: new (mode: string, cipher: NativeBlockCipher, iv?: ArrayBuffer) => NativeMode;
}

declare module "ec" {
  import type { NativeEc } from "../../modules/crypto/native-provider.js";
  /** modules/crypt/arith/ec.js: y² = x³ + ax + b over GF(m), native point multiplication. */
  const EC: new (a: bigint, b: bigint, m: bigint) => NativeEc;
  export default EC;
}

declare module "ecp" {
  import type { NativeEcPoint } from "../../modules/crypto/native-provider.js";
  /** modules/crypt/arith/ecp.js. */
  const ECPoint: new (x: bigint, y: bigint, identity?: boolean) => NativeEcPoint;
  export default ECPoint;
}

declare module "iotsafe/random" {
  /** Fills `buffer` from the hardware RNG (hosts/esp32/random/random.c). */
  export default function fillRandom(buffer: ArrayBuffer | ArrayBufferView): void;
}

declare module "iotsafe/memory-probe" {
  /** Measurement builds only (hosts/moddable-sim/memory-probe.js). */
  export default function measure(): { slotBytes: number; chunkBytes: number; stackBytes: number };
}
