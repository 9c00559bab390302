/** Card access layer: APDU codec, status words, T=0 rules, logical channels, AT transports. */
export * from "./apdu.js";
export * from "./at-transport.js";
export * from "./channel.js";
export * from "./class-byte.js";
export * from "./errors.js";
export * from "./fallback.js";
export * from "./manage-channel.js";
export * from "./modem-channel.js";
export * from "./status.js";
export * from "./t0.js";
export * from "./transport.js";
