/*
 * ECMA-419 host provider (embedded:provider/builtin) of a generic ESP32 board wired to a Quectel
 * BG95. The modem's pins are the manifest's config.board (overridable on the mcconfig command line:
 * modemTx=, modemRx=, modemPowerKey=, ...); this provider only lists the I/O classes.
 */
import Digital from "embedded:io/digital";
import I2C from "embedded:io/i2c";
import Serial from "embedded:io/serial";
import SMBus from "embedded:io/smbus";

const device = {
	io: { Digital, I2C, Serial, SMBus }
};

export default device;
