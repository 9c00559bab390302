/*
 * embedded:io/smbus in the Moddable desktop simulator: the same refusing stand-in as no-pins.js.
 * (A manifest maps each file to one module name, hence this second file.)
 */
export { default } from "embedded:io/digital";
