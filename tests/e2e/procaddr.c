/* SPDX-License-Identifier: MIT */
/* procaddr.c — end to end: entry points fetched at run time with cuGetProcAddress, by version and stream mode. */
#include "e2e.h"

typedef CUresult (*pfn_alloc)(CUdeviceptr *, size_t);
typedef CUresult (*pfn_free)(CUdeviceptr);
typedef CUresult (*pfn_count)(int *);
typedef CUresult (*pfn_htod)(CUdeviceptr, const void *, size_t);
typedef CUresult (*pfn_dtoh)(void *, CUdeviceptr, size_t);

int main(void)
{
	CUdriverProcAddressQueryResult st;
	void *p = NULL;
	int count = 0;
	CUdevice dev;
	CUcontext ctx;

	CK(cuInit(0));
	CK(cuGetProcAddress("cuDeviceGetCount", &p, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &st));
	EXPECT(p && st == CU_GET_PROC_ADDRESS_SUCCESS);
	CK(((pfn_count)p)(&count));
	EXPECT(count >= 1);
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));

	/* cuMemAlloc at CUDA 12 is the 64-bit _v2 entry point. */
	pfn_alloc alloc;
	pfn_free mfree;
	pfn_htod htod;
	pfn_dtoh dtoh;
	CK(cuGetProcAddress("cuMemAlloc", (void **)&alloc, 12000, 0, &st));
	CK(cuGetProcAddress("cuMemFree", (void **)&mfree, 12000, 0, &st));
	CK(cuGetProcAddress("cuMemcpyHtoD", (void **)&htod, 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, &st));
	CK(cuGetProcAddress("cuMemcpyDtoH", (void **)&dtoh, 12000, CU_GET_PROC_ADDRESS_LEGACY_STREAM, &st));
	CUdeviceptr d;
	char in[100] = "through entry points from cuGetProcAddress", out[100] = { 0 };
	CK(alloc(&d, sizeof(in)));
	CK(htod(d, in, sizeof(in)));
	CK(dtoh(out, d, sizeof(out)));
	EXPECT(strcmp(in, out) == 0);
	CK(mfree(d));

	/* A version older than the function: the driver says so in the status, with success and
	 * no pointer. */
	p = &p;
	CK(cuGetProcAddress("cuLaunchKernelEx", &p, 11000, 0, &st));
	EXPECT(st == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT && p == NULL);
	p = &p;
	CK(cuGetProcAddress("cuNoSuchFunction", &p, 13000, 0, &st));   /* the status says it */
	EXPECT(st == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND && p == NULL);
	CK(cuGetProcAddress("cuGetErrorName", &p, 13000, 0, &st));
	const char *nm = NULL;
	CK(((CUresult (*)(CUresult, const char **))p)(CUDA_ERROR_INVALID_VALUE, &nm));
	EXPECT(nm && strcmp(nm, "CUDA_ERROR_INVALID_VALUE") == 0);
	/* The graphics interop entry points are found by version, as the runtime's interop calls
	 * ask for them; in a zone and on the simulator (no display) they answer NOT_SUPPORTED. */
	p = NULL;
	CK(cuGetProcAddress("cuGLGetDevices", &p, 13000, 0, &st));
	EXPECT(st == CU_GET_PROC_ADDRESS_SUCCESS && p != NULL);
	if (!e2e_real_driver_direct()) {
		unsigned ngl = 9;
		CUdevice gl[2];
		CK_ERR(((CUresult (*)(unsigned *, CUdevice *, unsigned, int))p)(&ngl, gl, 2, 1), CUDA_ERROR_NOT_SUPPORTED);
		EXPECT(ngl == 0);
	}
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("procaddr: ok\n");
	return 0;
}
