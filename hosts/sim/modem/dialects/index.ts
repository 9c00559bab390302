// The vendor dialects of the virtual modem, registered by ../dialects.ts under these names.
import type { ModemDialect } from "../dialects.js";
import { quectelBg95Dialect } from "./quectel-bg95.js";
import { simcomSim7080Dialect } from "./simcom-sim7080.js";
import { nordicSlmDialect } from "./nordic-slm.js";
import { sequansGm02sDialect } from "./sequans-gm02s.js";
import { ubloxSaraR5Dialect } from "./ublox-sara-r5.js";

export const vendorDialects: readonly ModemDialect[] = [quectelBg95Dialect, simcomSim7080Dialect, ubloxSaraR5Dialect, sequansGm02sDialect, nordicSlmDialect];

export { nordicSlmDialect, quectelBg95Dialect, sequansGm02sDialect, simcomSim7080Dialect, ubloxSaraR5Dialect };
export { isLoopbackAddress, type VirtualConnection, VirtualConnectError, type VirtualTcpStack } from "./network.js";
