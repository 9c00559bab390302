// quectel-bg95: the shared driver-vs-virtual-modem suite, and the virtual modem's wire format
// checked byte for byte against modems.md §2.1 (expected bytes written from the doc).
import { dialectSuite } from "./modem-dialect-harness.test.js";

dialectSuite({ dialect: "quectel-bg95", manufacturer: "Quectel", readCommand: "+QIRD", activatesData: true });
