/*
 * Hardware random numbers for the firmware's Platform.randomBytes.
 *
 * ESP32: esp_fill_random() reads the SoC's hardware RNG. Its output is true random only while an
 * entropy source runs: the RF subsystem, or the SAR-ADC noise source that bootloader_random_enable()
 * switches on. These boards talk to a cellular modem and never start Wi-Fi/Bluetooth, so the ADC
 * source is enabled on first use and left on (ESP-IDF: not to be combined with ADC or RF use; an
 * application that adds an ADC sensor must call bootloader_random_disable() first and accept
 * pseudo-random output, or seed from the SIM's GET RANDOM instead).
 * Linux (the Moddable desktop simulator): getrandom(2).
 */
#include "xsmc.h"
#include "xsHost.h"

#if ESP32
	#include "esp_random.h"
	#include "bootloader_random.h"
	static uint8_t gEntropySourceOn = 0;
#elif defined(__linux__)
	#include <sys/random.h>
	#include <errno.h>
#else
	#error "iotsafe random: no random source for this platform"
#endif

void xs_iotsafe_fill_random(xsMachine *the)
{
	void *data;
	xsUnsignedValue size;

	xsmcGetBufferWritable(xsArg(0), &data, &size);
#if ESP32
	if (!gEntropySourceOn) {
		bootloader_random_enable();
		gEntropySourceOn = 1;
	}
	esp_fill_random(data, size);
#else
	{
		uint8_t *bytes = data;
		while (size > 0) {
			ssize_t got = getrandom(bytes, size, 0);
			if (got < 0) {
				if (EINTR == errno)
					continue;
				xsUnknownError("getrandom failed");
			}
			bytes += got;
			size -= (xsUnsignedValue)got;
		}
	}
#endif
}
