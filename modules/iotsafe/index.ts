/** GSMA IoT SAFE applet client, the SIM-backed TLS credential and on-device CSRs. */
export * from "./client.js";
export * from "./constants.js";
export * from "./credential.js";
export * from "./csr.js";
export * from "./errors.js";
export * from "./objects.js";
export * from "./public-key.js";
export * from "./signature.js";
export * from "./tlv.js";
