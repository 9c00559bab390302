/*
 * Random bytes from the ESP32's hardware random number generator (random.c); in the desktop
 * simulator, from the operating system (getrandom). Fills the ArrayBuffer or view it is given.
 */
function fillRandom(buffer) @ "xs_iotsafe_fill_random";

export default fillRandom;
