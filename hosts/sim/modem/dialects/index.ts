// The vendor dialects of the virtual modem, registered by ../dialects.ts under these names.
import type { ModemDialect } from "../dialects.js";
import { quectelBg95Dialect } from "./quectel-bg95.js";

export const vendorDialects: readonly ModemDialect[] = [quectelBg95Dialect];

export { quectelBg95Dialect };
export { isLoopbackAddress, type VirtualConnection, VirtualConnectError, type VirtualTcpStack } from "./network.js";
