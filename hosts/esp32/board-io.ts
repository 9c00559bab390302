/**
 * BoardIo (boards.ts) on Moddable's ECMA-419 I/O: GPIOs through embedded:io/digital, the PMU's
 * registers through embedded:io/smbus. (In the desktop simulator these two modules are stand-ins
 * that refuse to open: the simulator board has no pins.)
 */
import Digital from "embedded:io/digital";
import SMBus from "embedded:io/smbus";
import type { BoardIo } from "./boards.js";

export function moddableBoardIo(): BoardIo {
  return {
    output(pin, initial) {
      const digital = new Digital({ pin, mode: Digital.Output });
      digital.write(initial);
      return { write: (value) => digital.write(value) };
    },
    input(pin) {
      const digital = new Digital({ pin, mode: Digital.Input });
      return { read: () => digital.read() };
    },
    i2c({ data, clock, address, hz }) {
      // @moddable/typings 5.6.0 types SMBus's options as a tuple (ConstructorParameters<I2C> & {...}).
      const options = { data, clock, address, hz } as unknown as ConstructorParameters<typeof SMBus>[0];
      const bus = new SMBus(options);
      return {
        readRegister: (register) => bus.readUint8(register),
        writeRegister: (register, value) => bus.writeUint8(register, value),
      };
    },
  };
}
