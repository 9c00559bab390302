/** Touchless provisioning: the SIM makes the device's key at first boot, the cloud issues its certificate. */
export * from "./config.js";
export * from "./connect.js";
export * from "./credential.js";
export * from "./errors.js";
export * from "./fleet-api.js";
export * from "./provisioner.js";
export * from "./state.js";
