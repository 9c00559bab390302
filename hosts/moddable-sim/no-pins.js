/*
 * Stand-in for embedded:io/digital and embedded:io/smbus in the Moddable desktop simulator, which
 * has neither: the simulator board (hosts/esp32/boards.ts, kind "moddable-simulator") opens no
 * pins, so nothing constructs these; if something does, it learns why at once.
 */
class NoPins {
	static Input = 0;
	static InputPullUp = 1;
	static InputPullDown = 2;
	static InputPullUpDown = 3;
	static Output = 8;
	static OutputOpenDrain = 9;
	constructor() {
		throw new Error("the Moddable simulator has no GPIO or I2C pins (board kind moddable-simulator)");
	}
}
Object.freeze(NoPins.prototype);

export default NoPins;
