/* SPDX-License-Identifier: MIT */
/* VGPU_SIM_PTX_CACHE: a PTX text loaded again takes a copy of its parsed form, and every
 * module so made is its own (variables at their own addresses with their initial values,
 * kernels bound to their module's variables); the least recently used text leaves a full
 * cache. */
#include "simtest.h"

#include <stdint.h>

uint64_t vgpu_sim_ptx_cache_hits(void);

#define PTX_HEAD ".version 8.0\n.target sm_75\n.address_size 64\n"
static const char ptx_a[] =
	PTX_HEAD
	".visible .global .align 4 .u32 g = 7;\n"
	".visible .entry bump(.param .u32 k)\n{\n"
	"\t.reg .b32 %r<4>;\n"
	"\tld.param.u32 %r1, [k];\n"
	"\tld.global.u32 %r2, [g];\n"
	"\tadd.s32 %r3, %r2, %r1;\n"
	"\tst.global.u32 [g], %r3;\n"
	"\tret;\n}\n";
static const char ptx_b[] = PTX_HEAD ".visible .global .align 4 .u32 b = 1;\n";
static const char ptx_c[] = PTX_HEAD ".visible .global .align 4 .u32 c = 2;\n";

static uint32_t get(CUmodule m, const char *name, CUdeviceptr *where)
{
	CUdeviceptr p;
	size_t n = 0;
	uint32_t v = 0;
	CK(cuModuleGetGlobal(&p, &n, m, name));
	EXPECT(n == 4);
	CK(cuMemcpyDtoH(&v, p, 4));
	if (where)
		*where = p;
	return v;
}

static void bump(CUmodule m, unsigned k)
{
	CUfunction f;
	void *args[] = { &k };
	CK(cuModuleGetFunction(&f, m, "bump"));
	CK(st_launch1(f, args));
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	setenv("VGPU_SIM_PTX_CACHE", "2", 1);
	CK(cuInit(0));
	CUdevice dev;
	CUcontext ctx;
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));

	CUmodule m1, m2, m3, mb, mc, m4;
	CUdeviceptr g1, g2, g3;
	CK(cuModuleLoadData(&m1, ptx_a));
	EXPECT(vgpu_sim_ptx_cache_hits() == 0);
	CK(cuModuleLoadData(&m2, ptx_a));
	EXPECT(vgpu_sim_ptx_cache_hits() == 1);
	EXPECT(get(m1, "g", &g1) == 7 && get(m2, "g", &g2) == 7);
	EXPECT(g1 != g2);

	/* each module's kernel updates its own variable */
	bump(m1, 5);
	EXPECT(get(m1, "g", NULL) == 12 && get(m2, "g", NULL) == 7);
	bump(m2, 1);
	EXPECT(get(m1, "g", NULL) == 12 && get(m2, "g", NULL) == 8);

	/* loaded again after a module of the text was changed and unloaded: the initial value */
	CK(cuModuleUnload(m1));
	CK(cuModuleLoadData(&m3, ptx_a));
	EXPECT(vgpu_sim_ptx_cache_hits() == 2);
	EXPECT(get(m3, "g", &g3) == 7);
	bump(m3, 3);
	EXPECT(get(m3, "g", NULL) == 10 && get(m2, "g", NULL) == 8);

	/* two more texts in a cache of two: the first, least recently used, is parsed again */
	CK(cuModuleLoadData(&mb, ptx_b));
	CK(cuModuleLoadData(&mc, ptx_c));
	EXPECT(vgpu_sim_ptx_cache_hits() == 2);
	EXPECT(get(mb, "b", NULL) == 1 && get(mc, "c", NULL) == 2);
	CK(cuModuleLoadData(&m4, ptx_a));
	EXPECT(vgpu_sim_ptx_cache_hits() == 2);
	EXPECT(get(m4, "g", NULL) == 7);
	bump(m4, 2);
	EXPECT(get(m4, "g", NULL) == 9 && get(m3, "g", NULL) == 10);

	CK(cuModuleUnload(m2));
	CK(cuModuleUnload(m3));
	CK(cuModuleUnload(m4));
	CK(cuModuleUnload(mb));
	CK(cuModuleUnload(mc));
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("test_sim_ptx_cache: ok\n");
	return 0;
}
