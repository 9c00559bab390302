// MQTT 3.1.1 client: the public surface other layers import.
export * from "./client.js";
export * from "./codec.js";
export * from "./errors.js";
export * from "./reader.js";
export * from "./session.js";
export * from "./stream.js";
