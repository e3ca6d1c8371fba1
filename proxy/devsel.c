/* SPDX-License-Identifier: MIT */
/* devsel.c — CUDA_VISIBLE_DEVICES of a zone's process, applied by its worker's driver. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxyd.h"

/*
 * The driver reads CUDA_VISIBLE_DEVICES once, at cuInit, and from then on numbers every device
 * it shows 0, 1, ... (arguments, results, memory locations inside structures alike). A zone's
 * driver is its worker's, started before its first call, so the zone's list travels with its
 * first hello: the supervisor reads it over the devices the proxy shows zones (their UUIDs, from
 * the start-up probe), keeps the ordinals it names, and the worker starts its driver with those
 * devices composed over the proxy's own list. What a zone names is only ever one of the proxy's
 * devices: an index past them, or a UUID of a device the proxy's list hides, ends the list as
 * it does for the driver.
 */

static int uuid_of(int i, CUuuid *u, void *arg)
{
	const struct vgpu_proxy_config *cfg = arg;
	if (i < 0 || i >= cfg->ndev)
		return -1;
	*u = cfg->dev_uuid[i];
	return 0;
}

int vgpu_devsel_resolve(const struct vgpu_proxy_config *cfg, const char *visible, char devices[VGPU_VISIBLE_TEXT])
{
	int ord[VGPU_VISIBLE_MAX], k, n = cfg->ndev < VGPU_VISIBLE_MAX ? cfg->ndev : VGPU_VISIBLE_MAX, same;

	devices[0] = 0;
	k = vgpu_visible_parse(visible, n, uuid_of, (void *)cfg, ord, VGPU_VISIBLE_MAX);
	same = k == cfg->ndev;
	for (int i = 0; same && i < k; i++)
		same = ord[i] == i;
	if (!same)
		vgpu_visible_compose(NULL, ord, k, devices, VGPU_VISIBLE_TEXT);   /* fits: k ordinals below 64 */
	return k;
}

int vgpu_devsel_env(const struct vgpu_proxy_config *cfg, const char *devices, char *env, size_t cap, char *why,
		    size_t why_len)
{
	int ord[VGPU_VISIBLE_MAX];
	int k = vgpu_visible_ordinals(devices, cfg->ndev < VGPU_VISIBLE_MAX ? cfg->ndev : VGPU_VISIBLE_MAX, ord);

	if (k <= 0) {
		snprintf(why, why_len, "the zone's devices \"%.100s\" are not devices of this proxy, which shows zones %d",
			 devices, cfg->ndev);
		return -ENODEV;
	}
	if (vgpu_visible_compose(cfg->parent_visible, ord, k, env, cap) < 0) {
		snprintf(why, why_len, "the zone's devices \"%.100s\" over the proxy's CUDA_VISIBLE_DEVICES make a list "
			 "longer than %zu bytes", devices, cap);
		return -E2BIG;
	}
	return 0;
}
