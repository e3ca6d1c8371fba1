/* SPDX-License-Identifier: MIT */
/* errors.c — end to end: the driver's error codes for calls before cuInit, bogus and freed pointers, missing names. */
#include "e2e.h"

int main(void)
{
	CUdeviceptr d = 0, e;
	CUdevice dev;
	CUcontext ctx;
	CUmodule mod;
	CUfunction f;
	int count = 0;
	char buf[64];
	const char *s = NULL;

	/* Answered locally, before anything else, with the driver's own strings. */
	CK(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &s));
	EXPECT(s && !strcmp(s, "out of memory"));
	CK(cuGetErrorString(CUDA_ERROR_INVALID_VALUE, &s));
	EXPECT(s && !strcmp(s, "invalid argument"));
	CK(cuGetErrorName(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
	EXPECT(s && !strcmp(s, "CUDA_ERROR_ILLEGAL_ADDRESS"));
	CK_ERR(cuGetErrorName((CUresult)123456, &s), CUDA_ERROR_INVALID_VALUE);
	EXPECT(s == NULL);
	s = "untouched";
	CK_ERR(cuGetErrorString((CUresult)123456, &s), CUDA_ERROR_INVALID_VALUE);
	EXPECT(s == NULL);

	/* Before cuInit. */
	CK_ERR(cuDeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
	CK_ERR(cuMemAlloc(&d, 16), CUDA_ERROR_NOT_INITIALIZED);

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	/* No current context yet. */
	CK_ERR(cuMemAlloc(&d, 16), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxCreate(&ctx, NULL, 0, dev));

	/* A pointer that was never allocated, one past the end, and a freed one. */
	CK_ERR(cuMemcpyHtoD((CUdeviceptr)0x1000, buf, sizeof(buf)), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemAlloc(&d, 64));
	CK_ERR(cuMemcpyHtoD(d + 1, buf, 64), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemcpyDtoH(buf, d + 64, 1), CUDA_ERROR_INVALID_VALUE);
	CK(cuMemAlloc(&e, 64));
	CK(cuMemFree(e));
	CK_ERR(cuMemcpyDtoH(buf, e, 8), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemFree(e), CUDA_ERROR_INVALID_VALUE);
	CK_ERR(cuMemsetD32(d, 0, 17), CUDA_ERROR_INVALID_VALUE);

	/* Missing kernel name, bogus handles. */
	CK(cuModuleLoad(&mod, e2e_kernel_path("basic.ptx")));
	CK_ERR(cuModuleGetFunction(&f, mod, "not_a_kernel"), CUDA_ERROR_NOT_FOUND);
	/* Forged handles are only safe to try through the proxy (a driver may dereference them). */
	if (getenv("VGPU_E2E_PROXY")) {
		CK_ERR(cuModuleGetFunction(&f, (CUmodule)(uintptr_t)0x12345678, "vec_add"), CUDA_ERROR_INVALID_HANDLE);
		CK_ERR(cuStreamSynchronize((CUstream)(uintptr_t)0xdeadbeef00ull), CUDA_ERROR_INVALID_HANDLE);
	}
	CUresult r = cuModuleLoadData(&mod, "this is not a module image");
	EXPECT(r == CUDA_ERROR_INVALID_IMAGE || r == CUDA_ERROR_INVALID_PTX);
	CK_ERR(cuModuleLoad(&mod, "/nonexistent/kernel.ptx"), CUDA_ERROR_FILE_NOT_FOUND);

	CK(cuMemFree(d));
	CK(cuCtxDestroy(ctx));
	printf("errors: ok\n");
	return 0;
}
