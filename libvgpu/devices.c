/* SPDX-License-Identifier: MIT */
/* devices.c — CUDA_VISIBLE_DEVICES in a zone: the devices a process of the zone sees, and in what order. */
#include "client.h"

#include <stdlib.h>

#include "visible.h"

/*
 * The driver reads CUDA_VISIBLE_DEVICES at cuInit: a process sees the devices the list names,
 * in its order, as ordinals 0, 1, ... (visible.h has the rules). In a zone the driver is the
 * worker's, whose environment is the proxy's, so libvgpu applies the zone's list itself, over
 * the devices the proxy shows the zone. A list that hides every device ("", "-1") fails cuInit
 * with CUDA_ERROR_NO_DEVICE before the zone is opened, as a process told to use no GPU (a data
 * loader, a CPU-only test) expects, and no worker is made for it; a list that keeps the zone's
 * first devices in their order ("0", "0,1", "0,5,1" which ends at 5) leaves the count at its
 * length: device ordinals and CUdevice values stay the proxy's, which they equal.
 *
 * A list that names other devices or another order ("1", "2,0") would need every device
 * ordinal a zone passes (arguments, CUdevice results, memory locations inside structures) to be
 * translated, which the runtime relies on (it takes a CUdevice past its count as invalid); the
 * worker's driver could do it if given the list before it starts. Until then such a list fails
 * cuInit with CUDA_ERROR_NOT_SUPPORTED and a line saying why, rather than running on devices the
 * program did not choose.
 */

#define VIS_MAX 64

/* -1: every device the proxy shows; else how many, the zone's first (atomically) */
static int vis_n = -1;

/* the UUID of the zone's device i, for a list that names devices by UUID (arg: the channel) */
static int uuid_of(int i, CUuuid *u, void *arg)
{
	CUdevice dev;
	CUdevice *pd = &dev;
	CUuuid *pu = u;
	int ord = i;
	void *av[2] = { &pd, &ord };
	if (vgpu_call_on(arg, &vgpu_call_cuDeviceGet, av) != CUDA_SUCCESS)
		return -1;
	void *au[2] = { &pu, &dev };
	return vgpu_call_on(arg, &vgpu_call_cuDeviceGetUuid_v2, au) == CUDA_SUCCESS ? 0 : -1;
}

int vgpu_devices_none(void)
{
	const char *s = getenv("CUDA_VISIBLE_DEVICES");
	return s && vgpu_visible_none(s);
}

CUresult vgpu_devices_init(struct vgpu_conn *c)
{
	const char *s = getenv("CUDA_VISIBLE_DEVICES");
	int n = 0, *pn = &n, list[VIS_MAX], k;
	void *av[1] = { &pn };

	if (!s) {
		__atomic_store_n(&vis_n, -1, __ATOMIC_RELAXED);
		return CUDA_SUCCESS;
	}
	CUresult r = vgpu_call_on(c, &vgpu_call_cuDeviceGetCount, av);
	if (r != CUDA_SUCCESS)
		return r;
	k = vgpu_visible_parse(s, n, uuid_of, c, list, VIS_MAX);
	for (int i = 0; i < k; i++)
		if (list[i] != i) {
			vgpu_client_log(1, "CUDA_VISIBLE_DEVICES=%s names the zone's device %d as device %d: a zone can "
					"hide its last devices but not renumber them yet; cuInit returns "
					"CUDA_ERROR_NOT_SUPPORTED", s, list[i], i);
			__atomic_store_n(&vis_n, 0, __ATOMIC_RELAXED);   /* and the zone shows the process no device */
			return CUDA_ERROR_NOT_SUPPORTED;
		}
	if (__atomic_exchange_n(&vis_n, k, __ATOMIC_RELAXED) != k)
		vgpu_client_log(2, "CUDA_VISIBLE_DEVICES=%s: the process sees %d of the zone's %d device%s", s, k, n,
				n == 1 ? "" : "s");
	return k ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
}

/* 1 when the process may not see the zone's device dev */
static int hidden(int dev)
{
	int n = __atomic_load_n(&vis_n, __ATOMIC_RELAXED);
	return dev < 0 || (n >= 0 && dev >= n);
}

int vgpu_devices_call(struct vgpu_conn *c, const struct vgpu_call_desc *d, void *const *argv, CUresult *res)
{
	int n;

	switch (d->opcode) {
	case VGPU_OP_cuDeviceGet:   /* (CUdevice *device, int ordinal) */
		if (!hidden(*(const int *)argv[1]))
			return 0;
		*res = CUDA_ERROR_INVALID_DEVICE;
		return 1;
	case VGPU_OP_cuDeviceGetCount:   /* (int *count) */
		*res = vgpu_call_on(c, d, argv);
		n = __atomic_load_n(&vis_n, __ATOMIC_RELAXED);
		if (*res == CUDA_SUCCESS && n >= 0 && *(int *const *)argv[0])
			**(int *const *)argv[0] = n;
		return 1;
	case VGPU_OP_cuDeviceGetByPCIBusId: {   /* (CUdevice *dev, const char *pciBusId) */
		CUdevice *out = *(CUdevice *const *)argv[0];
		*res = vgpu_call_on(c, d, argv);
		if (*res == CUDA_SUCCESS && out && hidden(*out))
			*res = CUDA_ERROR_INVALID_DEVICE;
		return 1;
	}
	default:
		return 0;
	}
}
