// The firmware bundle for the XS runner: every firmware entry point, callable from Node.
import { firmwareEntries } from "../../../modules/device/entries.js";
import { registerEntry } from "./xs-side.js";

for (const [name, entry] of Object.entries(firmwareEntries)) registerEntry(name, entry);
