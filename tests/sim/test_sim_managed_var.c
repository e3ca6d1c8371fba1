/* SPDX-License-Identifier: MIT */
/* __managed__ variables in the simulator: PTX's .attribute(.managed) parsed, the variable's
 * address from cuLibraryGetManaged usable by the host before any context is current (as
 * cudart asks for it), kernels and the host seeing each other's values, pointer attributes,
 * and the refusals (a variable that is not managed, an attribute that is not .managed). */
#include "simtest.h"

#include <stdint.h>

static const char ptx[] =
	".version 8.0\n.target sm_75\n.address_size 64\n"
	".global .attribute(.managed) .align 4 .u32 mv;\n"
	".global .align 4 .u32 plain;\n"
	".global .attribute(.managed) .align 8 .b8 marr[24] = {1, 2, 3};\n"
	".visible .entry bump(.param .u32 k)\n{\n"
	"\t.reg .b32 %r<4>;\n\t.reg .b64 %rd<2>;\n"
	"\tld.param.u32 %r1, [k];\n"
	"\tld.global.u32 %r2, [mv];\n"
	"\tadd.s32 %r3, %r2, %r1;\n"
	"\tst.global.u32 [mv], %r3;\n"
	"\tst.global.u32 [plain], %r2;\n"
	"\tld.global.u8 %r2, [marr+2];\n"
	"\tst.global.u8 [marr+23], %r2;\n"
	"\tret;\n}\n";

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));

	/* cudart's order: the library first, its managed variables at once, no context yet */
	CUlibrary lib;
	CK(cuLibraryLoadData(&lib, ptx, NULL, NULL, 0, NULL, NULL, 0));
	CUcontext cur = (CUcontext)1;
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == NULL);
	CUdeviceptr mv, marr;
	size_t n = 0;
	CK(cuLibraryGetManaged(&mv, &n, lib, "mv"));
	EXPECT(mv && n == 4);
	CK(cuLibraryGetManaged(&marr, &n, lib, "marr"));
	EXPECT(marr && n == 24);
	/* asking did not leave a context current on the thread */
	CK(cuCtxGetCurrent(&cur));
	EXPECT(cur == NULL);
	/* the host uses the address as the variable: initial values there, writes kept */
	const uint8_t *a = (const uint8_t *)(uintptr_t)marr;
	EXPECT(a[0] == 1 && a[1] == 2 && a[2] == 3 && a[3] == 0);
	*(volatile uint32_t *)(uintptr_t)mv = 40;

	/* kernels in device 0's primary context see the host's value and the host sees theirs */
	CUdevice dev;
	CUcontext ctx;
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CUkernel k;
	CK(cuLibraryGetKernel(&k, lib, "bump"));
	unsigned two = 2;
	void *args[] = { &two };
	CK(cuLaunchKernel((CUfunction)k, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	EXPECT(*(volatile uint32_t *)(uintptr_t)mv == 42);
	EXPECT(a[23] == 3);
	CUdeviceptr plain;
	uint32_t pv = 0;
	CK(cuLibraryGetGlobal(&plain, &n, lib, "plain"));
	CK(cuMemcpyDtoH(&pv, plain, 4));
	EXPECT(pv == 40);
	/* the same address when asked again, now with a context current */
	CUdeviceptr again;
	CK(cuLibraryGetManaged(&again, NULL, lib, "mv"));
	EXPECT(again == mv);

	/* pointer attributes: managed for the managed variable only */
	int ism = -1;
	CK(cuPointerGetAttribute(&ism, CU_POINTER_ATTRIBUTE_IS_MANAGED, mv));
	EXPECT(ism == 1);
	CK(cuPointerGetAttribute(&ism, CU_POINTER_ATTRIBUTE_IS_MANAGED, plain));
	EXPECT(ism == 0);

	/* refusals */
	CK_RC(cuLibraryGetManaged(&again, NULL, lib, "plain"), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuLibraryGetManaged(&again, NULL, lib, "nosuch"), CUDA_ERROR_NOT_FOUND);
	CK_RC(cuLibraryGetManaged(&again, NULL, lib, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuLibraryGetManaged(&again, NULL, (CUlibrary)&two, "mv"), CUDA_ERROR_INVALID_HANDLE);
	static const char *bad[] = {
		".version 8.0\n.target sm_75\n.address_size 64\n.global .attribute(.unified) .u32 x;\n",
		".version 8.0\n.target sm_75\n.address_size 64\n.global .attribute(.managed .u32 x;\n",
		".version 8.0\n.target sm_75\n.address_size 64\n.global .attribute .u32 x;\n",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CUmodule m;
		CK_RC(cuModuleLoadData(&m, bad[i]), CUDA_ERROR_INVALID_PTX);
	}

	CK(cuLibraryUnload(lib));
	printf("test_sim_managed_var: ok\n");
	return 0;
}
