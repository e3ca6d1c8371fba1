/* SPDX-License-Identifier: MIT */
/* oldlaunch.c — end to end: a kernel launched with the pre-CUDA 4.0 API (block shape, parameter buffer, cuLaunchGrid). */
#define CUDA_ENABLE_DEPRECATED 1
#include "e2e.h"

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	CUdeviceptr a, b, c;
	const int n = 1000;
	float ha[1000], hb[1000], hc[1000];

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuModuleLoad(&mod, e2e_kernel_path("basic.ptx")));
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	for (int i = 0; i < n; i++) {
		ha[i] = (float)i;
		hb[i] = (float)(3 * i);
	}
	CK(cuMemAlloc(&a, sizeof(ha)));
	CK(cuMemAlloc(&b, sizeof(hb)));
	CK(cuMemAlloc(&c, sizeof(hc)));
	CK(cuMemcpyHtoD(a, ha, sizeof(ha)));
	CK(cuMemcpyHtoD(b, hb, sizeof(hb)));

	/* vec_add(const float *a, const float *b, float *c, int n): pointers at 0, 8, 16, n at 24 */
	CK(cuFuncSetBlockShape(f, 128, 1, 1));
	CK(cuFuncSetSharedSize(f, 0));
	CK(cuParamSetv(f, 0, &a, sizeof(a)));
	CK(cuParamSetv(f, 8, &b, sizeof(b)));
	CK(cuParamSetv(f, 16, &c, sizeof(c)));
	CK(cuParamSeti(f, 24, (unsigned)n));
	CK(cuParamSetSize(f, 28));
	CK(cuLaunchGrid(f, (n + 127) / 128, 1));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(hc, c, sizeof(hc)));
	for (int i = 0; i < n; i++)
		EXPECT(hc[i] == 4.0f * i);
	CK(cuParamSetv(f, 4090, &a, sizeof(a)));   /* inside the space since CUDA 12.1 (32,764 bytes) */
	CK_ERR(cuParamSetv(f, 1 << 20, &a, sizeof(a)), CUDA_ERROR_INVALID_VALUE);   /* past it */
	CK_ERR(cuFuncSetBlockShape(f, 0, 1, 1), CUDA_ERROR_INVALID_VALUE);
	printf("oldlaunch: a kernel launched with block shape, parameter buffer and cuLaunchGrid\n");
	CK(cuMemFree(a));
	CK(cuMemFree(b));
	CK(cuMemFree(c));
	CK(cuModuleUnload(mod));
	CK(cuDevicePrimaryCtxRelease(dev));
	return 0;
}
