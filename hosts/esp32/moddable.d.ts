// Types for the Moddable SDK modules the board hosts use that @moddable/typings (5.6.0) lacks.
declare module "rng" {
  const RNG: {
    /** `count` bytes from the SDK's generator (seeded from the ESP32 hardware RNG on the device). */
    get(count: number): ArrayBuffer;
  };
  export default RNG;
}
