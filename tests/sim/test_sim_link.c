/* SPDX-License-Identifier: MIT */
/* The JIT linker of libcudasim: relocatable PTX of two files (tests/kernels/link_a.cu calls a
 * function and reads a variable of link_b.cu) joined by cuLinkCreate/AddData/Complete and
 * run; a fatbin input; the JIT log and time options; and every refusal. */
#include "simtest.h"

#include <stdint.h>
#include <unistd.h>

static char *pa, *pb;
static size_t na, nb;

/* Links what the inputs give, loads and runs link_kernel and checks its results. */
static void run_linked(const void *img)
{
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, img));
	CK(cuModuleGetFunction(&f, m, "link_kernel"));
	enum { N = 300 };
	CUdeviceptr d;
	CK(cuMemAlloc(&d, N * sizeof(int)));
	int n = N, h[N];
	void *args[] = {&d, &n};
	CK(cuLaunchKernel(f, (N + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(h, d, sizeof(h)));
	for (int i = 0; i < N; i++)
		EXPECT(h[i] == i * 3 + 7 + 3);
	/* the variable is one: link_b's own kernel sees a change made through cuModuleGetGlobal */
	CUdeviceptr g;
	size_t gs;
	CK(cuModuleGetGlobal(&g, &gs, m, "link_scale"));
	EXPECT(gs == 4);
	int five = 5;
	CK(cuMemcpyHtoD(g, &five, 4));
	CK(cuModuleGetFunction(&f, m, "link_b_kernel"));
	void *args2[] = {&d};
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args2, NULL));
	CK(cuMemcpyDtoH(h, d, 32 * sizeof(int)));
	for (int i = 0; i < 32; i++)
		EXPECT(h[i] == i * 5);
	CK(cuMemFree(d));
	CK(cuModuleUnload(m));
}

static void t_two_ptx(void)
{
	char info[1024] = "x", elog[256] = "x";
	CUjit_option o[6] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
			     CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_WALL_TIME, CU_JIT_LOG_VERBOSE};
	void *v[6] = {info, (void *)(uintptr_t)sizeof(info), elog, (void *)(uintptr_t)sizeof(elog), NULL,
		      (void *)(uintptr_t)1};
	CUlinkState s;
	CK(cuLinkCreate(6, o, v, &s));
	EXPECT(info[0] == 0 && elog[0] == 0 && v[1] == 0 && v[3] == 0);
	/* one with its NUL counted, one exactly its text */
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, pa, na + 1, "a.ptx", 0, NULL, NULL));
	CUjit_option lo[2] = {CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_GENERATE_LINE_INFO};
	void *lv[2] = {(void *)(uintptr_t)4, (void *)(uintptr_t)1};
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, pb, nb, "b.ptx", 2, lo, lv));
	/* verbose: each input noted as it is added */
	EXPECT(strstr(info, "vgpu-sim: ") && strstr(info, "'b.ptx'"));
	void *img;
	size_t sz;
	CK(cuLinkComplete(s, &img, &sz));
	EXPECT(sz == strlen(img) + 1);
	EXPECT(strstr(info, "linked 2 PTX inputs (a.ptx, b.ptx)") && strstr(info, "2 entry points"));
	EXPECT((uintptr_t)v[1] == strlen(info) + 1);
	EXPECT(elog[0] == 0 && v[3] == 0);
	float ms;
	memcpy(&ms, &v[4], sizeof(ms));
	EXPECT(ms >= 0 && ms < 60000);
	/* a second Complete gives the same image */
	void *img2;
	CK(cuLinkComplete(s, &img2, NULL));
	EXPECT(img2 == img);
	/* the image stays valid until cuLinkDestroy: another state made and gone meanwhile */
	CUlinkState s2;
	CK(cuLinkCreate(0, NULL, NULL, &s2));
	CK(cuLinkAddData(s2, CU_JIT_INPUT_PTX, pb, nb + 1, NULL, 0, NULL, NULL));
	CK(cuLinkDestroy(s2));
	run_linked(img);
	/* and again through cuModuleLoadDataEx with a copy of exactly sz bytes */
	char *copy = malloc(sz);
	memcpy(copy, img, sz);
	CK(cuLinkDestroy(s));
	run_linked(copy);
	free(copy);
}

static void t_single_and_fatbin(void)
{
	CUlinkState s;
	void *img;
	size_t sz;
	/* b alone has all it needs */
	CK(cuLinkCreate(0, NULL, NULL, &s));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, pb, nb + 1, "b.ptx", 0, NULL, NULL));
	CK(cuLinkComplete(s, &img, &sz));
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, img));
	CK(cuModuleGetFunction(&f, m, "link_b_kernel"));
	CK(cuModuleUnload(m));
	CK(cuLinkDestroy(s));

	/* a alone: its externs stay unresolved */
	char elog[512] = "";
	CUjit_option o[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void *v[2] = {elog, (void *)(uintptr_t)sizeof(elog)};
	CK(cuLinkCreate(2, o, v, &s));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, pa, na + 1, "a.ptx", 0, NULL, NULL));
	CK_RC(cuLinkComplete(s, &img, &sz), CUDA_ERROR_INVALID_IMAGE);
	EXPECT(strstr(elog, "unresolved extern variable 'link_scale'") && strstr(elog, "a.ptx"));
	EXPECT((uintptr_t)v[1] == strlen(elog) + 1);
	CK(cuLinkDestroy(s));

	/* a's PTX with b from a fatbin (its PTX taken) */
	size_t fn;
	void *fb = st_read(st_path("tests/kernels/link_b.rdc.fatbin"), &fn);
	CK(cuLinkCreate(0, NULL, NULL, &s));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, pa, na + 1, "a.ptx", 0, NULL, NULL));
	CK(cuLinkAddData(s, CU_JIT_INPUT_FATBINARY, fb, fn, "b.fatbin", 0, NULL, NULL));
	CK(cuLinkComplete(s, &img, &sz));
	run_linked(img);
	CK(cuLinkDestroy(s));
	free(fb);

	/* a cubin of SASS only: no PTX to run */
	void *cb = st_read(st_path("tests/kernels/basic.cubin"), &fn);
	CK(cuLinkCreate(2, o, v, &s));
	CK_RC(cuLinkAddData(s, CU_JIT_INPUT_CUBIN, cb, fn, "basic.cubin", 0, NULL, NULL),
	      CUDA_ERROR_NO_BINARY_FOR_GPU);
	EXPECT(strstr(elog, "basic.cubin") && strstr(elog, "SASS"));
	CK(cuLinkDestroy(s));
	free(cb);
}

static void t_logs_and_errors(void)
{
	CUlinkState s;
	void *img;
	size_t sz;
	/* an 8-byte error log: cut, NUL-terminated, its size written back */
	char small[8 + 8];
	memset(small, 'Z', sizeof(small));
	CUjit_option o[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void *v[2] = {small, (void *)(uintptr_t)8};
	CK(cuLinkCreate(2, o, v, &s));
	CK_RC(cuLinkComplete(s, &img, &sz), CUDA_ERROR_INVALID_VALUE);   /* no input */
	EXPECT(small[7] == 0 && strlen(small) == 7 && !memcmp(small, "vgpu-si", 7) && small[8] == 'Z');
	EXPECT((uintptr_t)v[1] == 8);

	/* a syntax error: reported when the input is added, with its line, in both logs */
	char bad[] = ".version 8.0\n.target sm_75\n.address_size 64\n\n.visible .entry k()\n{\n"
		     "\tfrobnicate.u32 %r1;\n\tret;\n}\n";
	char elog[512] = "";
	CUjit_option ao[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void *av[2] = {elog, (void *)(uintptr_t)sizeof(elog)};
	CK_RC(cuLinkAddData(s, CU_JIT_INPUT_PTX, bad, sizeof(bad), "bad.ptx", 2, ao, av), CUDA_ERROR_INVALID_PTX);
	EXPECT(strstr(elog, "bad.ptx") && strstr(elog, "line 7"));
	EXPECT((uintptr_t)av[1] == strlen(elog) + 1);
	EXPECT((uintptr_t)v[1] == 8);
	CK(cuLinkDestroy(s));

	/* an unknown option */
	CUjit_option uo[1] = {(CUjit_option)999};
	void *uv[1] = {NULL};
	CK_RC(cuLinkCreate(1, uo, uv, &s), CUDA_ERROR_INVALID_VALUE);

	/* a function called but defined nowhere: at Complete, named with its input and line */
	char caller[] = ".version 8.0\n.target sm_75\n.address_size 64\n"
			".extern .func nowhere(.param .b32 x);\n"
			".visible .entry k()\n{\n\t.param .b32 p;\n\tst.param.b32 [p], 1;\n"
			"\tcall.uni nowhere, (p);\n\tret;\n}\n";
	char elog2[512] = "";
	void *v2[2] = {elog2, (void *)(uintptr_t)sizeof(elog2)};
	CK(cuLinkCreate(2, o, v2, &s));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, caller, strlen(caller), "caller.ptx", 0, NULL, NULL));
	CK_RC(cuLinkComplete(s, &img, &sz), CUDA_ERROR_INVALID_IMAGE);
	EXPECT(strstr(elog2, "nowhere") && strstr(elog2, "'caller.ptx' line 9"));
	CK(cuLinkDestroy(s));

	/* a symbol defined twice; internal symbols of the same name kept apart */
	char d1[] = ".version 8.0\n.target sm_75\n.address_size 64\n.global .u32 $str = 1;\n"
		    ".visible .global .u32 twice = 1;\n"
		    ".visible .entry k1(.param .u64 o)\n{\n\t.reg .b32 %r<2>;\n\t.reg .b64 %rd<2>;\n"
		    "\tld.param.u64 %rd1, [o];\n\tld.global.u32 %r1, [$str];\n\tst.global.u32 [%rd1], %r1;\n\tret;\n}\n";
	char d2[] = ".version 8.3\n.target sm_75\n.address_size 64\n.global .u32 $str = 2;\n"
		    ".visible .entry k2(.param .u64 o)\n{\n\t.reg .b32 %r<2>;\n\t.reg .b64 %rd<2>;\n"
		    "\tld.param.u64 %rd1, [o];\n\tld.global.u32 %r1, [$str];\n\tst.global.u32 [%rd1], %r1;\n\tret;\n}\n";
	char d3[] = ".version 8.0\n.target sm_75\n.address_size 64\n.visible .global .u32 twice = 2;\n";
	CK(cuLinkCreate(0, NULL, NULL, &s));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, d1, sizeof(d1), "d1", 0, NULL, NULL));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, d2, sizeof(d2), "d2", 0, NULL, NULL));
	CK(cuLinkComplete(s, &img, &sz));
	EXPECT(strstr(img, ".version 8.3\n"));
	CUmodule m;
	CUfunction f;
	CK(cuModuleLoadData(&m, img));
	CUdeviceptr d;
	CK(cuMemAlloc(&d, 4));
	int r;
	void *args[] = {&d};
	CK(cuModuleGetFunction(&f, m, "k1"));
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(&r, d, 4));
	EXPECT(r == 1);
	CK(cuModuleGetFunction(&f, m, "k2"));
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(&r, d, 4));
	EXPECT(r == 2);
	CK(cuMemFree(d));
	CK(cuModuleUnload(m));
	CK(cuLinkDestroy(s));
	CK(cuLinkCreate(2, o, v2, &s));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, d1, sizeof(d1), "d1", 0, NULL, NULL));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, d3, sizeof(d3), "d3", 0, NULL, NULL));
	CK_RC(cuLinkComplete(s, &img, &sz), CUDA_ERROR_INVALID_IMAGE);
	EXPECT(strstr(elog2, "'twice' defined in both 'd1'") && strstr(elog2, "'d3'"));
	CK(cuLinkDestroy(s));
}

static void t_files_and_refusals(void)
{
	CUlinkState s;
	void *img;
	size_t sz;
	char elog[512] = "";
	CUjit_option o[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void *v[2] = {elog, (void *)(uintptr_t)sizeof(elog)};
	CK(cuLinkCreate(2, o, v, &s));
	CK(cuLinkAddFile(s, CU_JIT_INPUT_PTX, st_path("tests/kernels/link_a.rdc.ptx"), 0, NULL, NULL));
	CK_RC(cuLinkAddFile(s, CU_JIT_INPUT_PTX, "/nonexistent/b.ptx", 0, NULL, NULL), CUDA_ERROR_FILE_NOT_FOUND);
	EXPECT(strstr(elog, "/nonexistent/b.ptx"));
	/* PTX text handed over as a host object or a library: neither (the device code of real
	 * ones is linked: tests/e2e/jit_link) */
	CK_RC(cuLinkAddData(s, CU_JIT_INPUT_OBJECT, pb, nb, "b.o", 0, NULL, NULL), CUDA_ERROR_INVALID_IMAGE);
	EXPECT(strstr(elog, "'b.o'") && strstr(elog, "not an ELF object"));
	CK_RC(cuLinkAddData(s, CU_JIT_INPUT_LIBRARY, pb, nb, "libb.a", 0, NULL, NULL), CUDA_ERROR_INVALID_IMAGE);
	EXPECT(strstr(elog, "libb.a") && strstr(elog, "not an ar archive"));
	CK_RC(cuLinkAddData(s, CU_JIT_INPUT_NVVM, pb, nb, "b.ltoir", 0, NULL, NULL), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(cuLinkAddData(s, (CUjitInputType)42, pb, nb, "b", 0, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	CK(cuLinkAddFile(s, CU_JIT_INPUT_PTX, st_path("tests/kernels/link_b.rdc.ptx"), 0, NULL, NULL));
	CK(cuLinkComplete(s, &img, &sz));
	run_linked(img);
	CK_RC(cuLinkAddData(s, CU_JIT_INPUT_PTX, pb, nb, "late", 0, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	CK(cuLinkDestroy(s));

	/* handles: destroyed, forged, NULL */
	CK_RC(cuLinkDestroy(s), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuLinkAddData(s, CU_JIT_INPUT_PTX, pb, nb, "b", 0, NULL, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuLinkComplete(s, &img, &sz), CUDA_ERROR_INVALID_HANDLE);
	uint64_t forged[32] = {0x4c494e4c};
	CK_RC(cuLinkComplete((CUlinkState)forged, &img, &sz), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuLinkAddFile((CUlinkState)forged, CU_JIT_INPUT_PTX, "x", 0, NULL, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuLinkDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);

	/* no current context */
	CUcontext cur;
	CK(cuCtxPopCurrent(&cur));
	CK_RC(cuLinkCreate(0, NULL, NULL, &s), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxPushCurrent(cur));
}

/* a __shared__ variable one input defines and another names extern with its size (nvcc
 * -rdc: NCCL's ncclShmem), beside the dynamic shared memory both name: one variable, apart
 * from the dynamic memory */
static void t_extern_shared(void)
{
	static const char a[] = ".version 8.0\n.target sm_75\n.address_size 64\n"
		".visible .shared .align 4 .b8 sv[128];\n.extern .shared .align 4 .b8 dyn[];\n"
		".extern .func fill(.param .b32 t);\n"
		".visible .entry k(.param .u64 out)\n{\n.reg .b32 %r<8>;\n.reg .b64 %rd<6>;\n"
		"ld.param.u64 %rd1, [out];\nmov.u32 %r1, %tid.x;\n"
		"{\n.param .b32 p0;\nst.param.b32 [p0], %r1;\ncall fill, (p0);\n}\nbar.sync 0;\n"
		"shl.b32 %r2, %r1, 2;\nmov.u32 %r3, sv;\nadd.s32 %r3, %r3, %r2;\nld.shared.u32 %r4, [%r3];\n"
		"mov.u32 %r5, dyn;\nadd.s32 %r5, %r5, %r2;\nld.shared.u32 %r6, [%r5];\n"
		"mul.wide.u32 %rd2, %r1, 8;\nadd.s64 %rd3, %rd1, %rd2;\nst.global.v2.u32 [%rd3], {%r4, %r6};\nret;\n}\n";
	static const char b[] = ".version 8.0\n.target sm_75\n.address_size 64\n"
		".extern .shared .align 4 .b8 sv[128];\n.extern .shared .align 4 .b8 dyn[];\n"
		".visible .func fill(.param .b32 t)\n{\n.reg .b32 %r<8>;\nld.param.u32 %r1, [t];\n"
		"shl.b32 %r2, %r1, 2;\nmov.u32 %r3, sv;\nadd.s32 %r3, %r3, %r2;\nst.shared.u32 [%r3], %r1;\n"
		"add.s32 %r4, %r1, 100;\nmov.u32 %r5, dyn;\nadd.s32 %r5, %r5, %r2;\nst.shared.u32 [%r5], %r4;\nret;\n}\n";
	CUlinkState s;
	void *img;
	size_t n;
	CUmodule m;
	CUfunction f;
	CUdeviceptr d;
	unsigned h[64];
	CK(cuLinkCreate(0, NULL, NULL, &s));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, (void *)a, sizeof(a), "a.ptx", 0, NULL, NULL));
	CK(cuLinkAddData(s, CU_JIT_INPUT_PTX, (void *)b, sizeof(b), "b.ptx", 0, NULL, NULL));
	CK(cuLinkComplete(s, &img, &n));
	CK(cuModuleLoadData(&m, img));
	CK(cuLinkDestroy(s));
	CK(cuModuleGetFunction(&f, m, "k"));
	CK(cuMemAlloc(&d, sizeof(h)));
	void *args[] = { &d };
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 32 * 4, NULL, args, NULL));
	CK(cuMemcpyDtoH(h, d, sizeof(h)));
	for (unsigned t = 0; t < 32; t++)
		EXPECT(h[2 * t] == t && h[2 * t + 1] == 100 + t);
	CK(cuMemFree(d));
	CK(cuModuleUnload(m));
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 0);
	CK(cuInit(0));
	CUdevice dev;
	CUcontext ctx;
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	pa = st_read(st_path("tests/kernels/link_a.rdc.ptx"), &na);
	pb = st_read(st_path("tests/kernels/link_b.rdc.ptx"), &nb);
	/* a alone does not load: that is what the linker is for */
	CUmodule m;
	CK_RC(cuModuleLoadData(&m, pa), CUDA_ERROR_INVALID_PTX);
	t_two_ptx();
	t_single_and_fatbin();
	t_logs_and_errors();
	t_files_and_refusals();
	t_extern_shared();
	free(pa);
	free(pb);
	printf("test_sim_link: ok\n");
	return 0;
}
