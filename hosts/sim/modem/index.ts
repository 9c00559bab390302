// The virtual modem's public surface.
export { AtSyntaxError, CME, CmeError, DataTimeoutError, UnknownDialectError, cmeText } from "./errors.js";
export { type AtCommand, type AtParameter, type CommandForm, parseCommandLine, parseParameters } from "./at-syntax.js";
export {
  byForm,
  type CommandContext,
  type CommandHandler,
  type CommandTable,
  expectParamCount,
  integerParam,
  optionalIntegerParam,
  stringParam,
} from "./commands.js";
export { genericCommands } from "./generic-commands.js";
export { genericDialect, type ModemDialect, modemDialect, modemDialectNames, registerModemDialect } from "./dialects.js";
export {
  AtPort,
  DEFAULT_IDENTITY,
  type RawSink,
  type ModemHooks,
  type ModemIdentity,
  type NetworkOptions,
  type SimState,
  VirtualModem,
  type VirtualModemOptions,
} from "./virtual-modem.js";
export {
  FAULT_KINDS,
  type FaultKind,
  type FaultSpec,
  LinkModel,
  LinkModelError,
  type LinkModelOptions,
  type LinkModelStats,
  parseFaultSpec,
} from "./link-model.js";
export { isLoopbackAddress, type VirtualConnection, VirtualConnectError, type VirtualTcpStack } from "./dialects/network.js";
export { loopbackTcpStack, type LoopbackStackOptions } from "./dialects/loopback.js";
export {
  attachVirtualModem,
  linkModelOf,
  createVirtualModem,
  type ModemSetupOptions,
  PtyUnavailableError,
  type RunningVirtualModem,
  socatAvailable,
  startVirtualModem,
  type StartVirtualModemOptions,
} from "./server.js";
