/* SPDX-License-Identifier: MIT */
/* visible.c — what a process sees under CUDA_VISIBLE_DEVICES: cuInit's answer, the count, each
 * ordinal's PCI bus id and UUID, memory used on each, and which ordinal each bus id finds.
 * tests/e2e/visible_devices.sh runs it under many lists, directly and through vgpu. Devices
 * are printed by ordinal, never by CUdevice value (a zone's are the proxy's). */
#include "e2e.h"

static const char *err_name(CUresult r)
{
	const char *n = NULL;
	cuGetErrorName(r, &n);
	return n ? n : "?";
}

int main(void)
{
	int count = 0;
	CUresult r = cuInit(0);
	printf("cuInit: %s\n", err_name(r));
	if (r != CUDA_SUCCESS) {
		EXPECT(r == CUDA_ERROR_NO_DEVICE);
		EXPECT(cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0);
		return 0;
	}
	CK(cuDeviceGetCount(&count));
	printf("devices: %d\n", count);
	CUdevice devs[16];
	EXPECT(count >= 1 && count <= 16);
	for (int i = 0; i < count; i++) {
		char bus[32];
		CUuuid u;
		CUcontext ctx;
		CUdeviceptr p;
		unsigned char back[64], pat[64];
		CK(cuDeviceGet(&devs[i], i));
		CK(cuDeviceGetPCIBusId(bus, sizeof bus, devs[i]));
		CK(cuDeviceGetUuid_v2(&u, devs[i]));
		/* the device works: memory on it, a pattern there and back */
		CK(cuDevicePrimaryCtxRetain(&ctx, devs[i]));
		CK(cuCtxPushCurrent(ctx));
		CUdevice cur;
		CK(cuCtxGetDevice(&cur));
		EXPECT(cur == devs[i]);
		for (int b = 0; b < 64; b++)
			pat[b] = (unsigned char)(i * 64 + b);
		CK(cuMemAlloc(&p, sizeof pat));
		CK(cuMemcpyHtoD(p, pat, sizeof pat));
		CK(cuMemcpyDtoH(back, p, sizeof back));
		EXPECT(!memcmp(back, pat, sizeof pat));
		CK(cuMemFree(p));
		CK(cuCtxPopCurrent(NULL));
		CK(cuDevicePrimaryCtxRelease(devs[i]));
		printf("ordinal %d: bus %s, uuid ...%02x\n", i, bus, (unsigned char)u.bytes[15]);
	}
	CUdevice d;
	CK_ERR(cuDeviceGet(&d, count), CUDA_ERROR_INVALID_DEVICE);
	/* every bus id the machine has: found as the ordinal that has it, or not at all */
	for (unsigned b = 0x40; b < 0x44; b++) {
		char bus[32];
		snprintf(bus, sizeof bus, "0000:%02x:00.0", b);
		r = cuDeviceGetByPCIBusId(&d, bus);
		int ord = -1;
		for (int i = 0; r == CUDA_SUCCESS && i < count; i++)
			if (devs[i] == d)
				ord = i;
		if (r == CUDA_SUCCESS)
			EXPECT(ord >= 0);
		if (r == CUDA_SUCCESS)
			printf("bus %s: ordinal %d\n", bus, ord);
		else
			printf("bus %s: %s\n", bus, err_name(r));
	}
	return 0;
}
