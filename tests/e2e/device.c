/* SPDX-License-Identifier: MIT */
/* device.c — end to end: driver version, device queries, primary and created contexts, the context stack. */
#include "e2e.h"

int main(void)
{
	int ver = 0, count = 0, major = 0, minor = 0, warp = 0, sms = 0, maxthr = 0;
	char name[256];
	CUuuid uuid;
	size_t total = 0;
	CUdevice dev;
	CUcontext primary, ctx, cur, popped;
	unsigned flags = 0;
	int active = 0;

	CK(cuInit(0));
	CK(cuDriverGetVersion(&ver));
	EXPECT(ver >= 12000);
	CK(cuDeviceGetCount(&count));
	EXPECT(count >= 1);
	CK(cuDeviceGet(&dev, 0));
	CK_ERR(cuDeviceGet(&dev, count), CUDA_ERROR_INVALID_DEVICE);
	CK(cuDeviceGet(&dev, 0));
	CK(cuDeviceGetName(name, sizeof(name), dev));
	EXPECT(strlen(name) > 0);
	CK(cuDeviceGetUuid(&uuid, dev));
	CK(cuDeviceTotalMem(&total, dev));
	EXPECT(total >= (1u << 20));   /* a zone with a memory quota is told the quota (registration.sh: 16 MiB) */
	CK(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
	CK(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
	CK(cuDeviceGetAttribute(&warp, CU_DEVICE_ATTRIBUTE_WARP_SIZE, dev));
	CK(cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev));
	CK(cuDeviceGetAttribute(&maxthr, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, dev));
	EXPECT(major * 10 + minor >= 75);
	EXPECT(warp == 32);
	EXPECT(sms >= 1);
	EXPECT(maxthr >= 256);
	printf("device 0: %s, compute %d.%d, %d SMs, warp %d, %zu MiB\n", name, major, minor, sms, warp, total >> 20);

	/* Primary context: retain, make current, state, release. */
	CK(cuDevicePrimaryCtxRetain(&primary, dev));
	EXPECT(primary != NULL);
	CK(cuDevicePrimaryCtxGetState(dev, &flags, &active));
	EXPECT(active == 1);
	CK(cuCtxSetCurrent(primary));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == primary);
	CK(cuCtxGetDevice(&dev));
	EXPECT(dev == 0);

	/* A created context goes on top of the stack; pop returns it and restores the primary. */
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	EXPECT(ctx != NULL && ctx != primary);
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == ctx);
	CK(cuCtxPopCurrent(&popped));
	EXPECT(popped == ctx);
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == primary);
	CK(cuCtxPushCurrent(ctx));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == ctx);
	CK(cuCtxSynchronize());
	unsigned api = 0;
	CK(cuCtxGetApiVersion(ctx, &api));
	EXPECT(api >= 3020);
	size_t stack = 0;
	CK(cuCtxGetLimit(&stack, CU_LIMIT_STACK_SIZE));
	EXPECT(stack > 0);
	int lo = 0, hi = 0;
	CK(cuCtxGetStreamPriorityRange(&lo, &hi));
	CK(cuCtxDestroy(ctx));
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == primary);
	CK(cuDevicePrimaryCtxRelease(dev));

	printf("device: ok\n");
	return 0;
}
