/* SPDX-License-Identifier: MIT */
/* devices.c — CUDA_VISIBLE_DEVICES and the driver settings of a zone's process: its worker's driver starts with them. */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drvenv.h"
#include "session.h"
#include "visible.h"

/*
 * The driver reads CUDA_VISIBLE_DEVICES at cuInit and numbers the devices it names 0, 1, ...
 * everywhere (arguments, results, memory locations inside structures). A zone's driver is its
 * worker's, so the process's list goes with the zone's first hello and the proxy starts that
 * driver with it, read over the devices the proxy shows zones (proxy/devsel.c): every device
 * number the zone passes is then the driver's own. A list that hides every device ("", "-1",
 * what a data loader or a CPU-only test is given) fails cuInit with CUDA_ERROR_NO_DEVICE here,
 * before a zone is opened; one that names none of the proxy's devices is refused by the proxy
 * with the same error.
 */

int vgpu_devices_none(void)
{
	const char *s = getenv("CUDA_VISIBLE_DEVICES");
	return s && vgpu_visible_none(s);
}

int vgpu_devices_list(const char **out)
{
	const char *s = getenv("CUDA_VISIBLE_DEVICES");

	*out = NULL;
	if (!s)
		return 0;
	if (strlen(s) >= VGPU_HELLO_VISIBLE_BYTES) {
		vgpu_client_log(0, "CUDA_VISIBLE_DEVICES is %zu bytes long; a zone takes a list of at most %u: "
				"cuInit returns CUDA_ERROR_INVALID_VALUE", strlen(s), VGPU_HELLO_VISIBLE_BYTES - 1);
		return -E2BIG;
	}
	*out = s;
	return 0;
}

static void env_refused(const char *name, const char *value)
{
	vgpu_client_log(1, "%s=%s is not a value the driver takes; the zone's driver starts without it", name, value);
}

_Static_assert(VGPU_HELLO_ENV_BYTES == VGPU_DRVENV_BYTES, "a hello carries the driver settings' text");

int vgpu_devices_env(char *env)
{
	vgpu_drvenv_collect(env, env_refused);
	return env[0] != '\0';
}

int vgpu_launch_blocking(void)
{
	/* read once, as the driver reads it at cuInit */
	static int blocking = -1;
	int b = __atomic_load_n(&blocking, __ATOMIC_RELAXED);
	if (b < 0) {
		const char *s = getenv("CUDA_LAUNCH_BLOCKING");
		b = s && !strcmp(s, "1");
		__atomic_store_n(&blocking, b, __ATOMIC_RELAXED);
	}
	return b;
}
