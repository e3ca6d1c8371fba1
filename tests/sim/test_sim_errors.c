/* SPDX-License-Identifier: MIT */
/* libcudasim error paths: malformed PTX, truncated and corrupted fatbins, an unsupported
 * instruction, SASS-only modules, illegal addresses (sticky on the context), freed
 * pointers, wrong launch parameters — each must fail with the driver's code, never crash. */
#include "simtest.h"

#include <stdint.h>
#include <unistd.h>

int vgpu_sim_last_error(char *buf, size_t n);

static void expect_msg(const char *needle)
{
	char buf[1024];
	vgpu_sim_last_error(buf, sizeof(buf));
	if (!strstr(buf, needle)) {
		fprintf(stderr, "last error '%s' does not mention '%s'\n", buf, needle);
		exit(1);
	}
}

static void t_bad_modules(void)
{
	CUmodule m;
	static const char *bad[] = {
		".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k(\n{ ret; }\n",
		".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n add.s32 %r1, %r2;\n}\n",
		".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n.reg .b32 %r<2>;\n bra NOWHERE;\n}\n",
		".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n.reg .b32 %r<2>;\n frobnicate.u32 %r0, %r1;\n}\n",
		".version 7.0\n.target sm_75\n.address_size 32\n",
		/* bmsk needs .clamp or .wrap; bar.red's popc gives a u32, and/or a predicate */
		".version 7.6\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n.reg .b32 %r<3>;\n bmsk.b32 %r0, %r1, %r2;\n}\n",
		".version 7.6\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n.reg .pred %p<3>;\n bar.red.popc.pred %p0, 0, %p1;\n}\n",
		".version 7.6\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n.reg .b32 %r<3>;\n.reg .pred %p<2>;\n bar.red.and.u32 %r0, 0, %p1;\n}\n",
		"\x01\x02garbage",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CUresult rc = cuModuleLoadData(&m, bad[i]);
		if (rc != CUDA_ERROR_INVALID_PTX && rc != CUDA_ERROR_INVALID_IMAGE) {
			fprintf(stderr, "bad module %zu loaded with %s\n", i, st_name(rc));
			exit(1);
		}
	}
	/* register ranges: beyond the declaration, absurd sizes; huge ranges cost nothing */
	CK_RC(cuModuleLoadData(&m, ".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n"
	                           "{\n.reg .b32 %r<5>;\n mov.u32 %r5, 1;\n}\n"), CUDA_ERROR_INVALID_PTX);
	CK_RC(cuModuleLoadData(&m, ".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n"
	                           "{\n.reg .b32 %r<2000000>;\n}\n"), CUDA_ERROR_INVALID_PTX);
	char *big = malloc(200 * 40 + 256);
	int off = sprintf(big, ".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k()\n{\n");
	for (int i = 0; i < 200; i++)
		off += sprintf(big + off, ".reg .b32 %%q%c%c<1048576>;\n", 'a' + i / 26, 'a' + i % 26);
	sprintf(big + off, " mov.u32 %%qhr1048575, 1;\n ret;\n}\n");
	CK(cuModuleLoadData(&m, big));
	CK(cuModuleUnload(m));
	free(big);
	CK_RC(cuModuleLoadData(&m, bad[3]), CUDA_ERROR_INVALID_PTX);
	expect_msg("frobnicate");
	expect_msg("line 7");

	/* an instruction outside the supported set: named, with its line */
	void *u = st_read(st_path("tests/kernels/unsupported.ptx"), NULL);
	char log[512] = "";
	CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
	void *vals[2] = {log, (void *)(uintptr_t)sizeof(log)};
	CK_RC(cuModuleLoadDataEx(&m, u, 2, opts, vals), CUDA_ERROR_INVALID_PTX);
	EXPECT(strstr(log, "unsupported instruction 'brkpt'") && strstr(log, "line "));
	free(u);
	/* a texture fetch of a kind outside the set: named with its line before its operands */
	CK_RC(cuModuleLoadData(&m, ".version 7.0\n.target sm_75\n.address_size 64\n"
	                           ".visible .entry k(.param .u64 t)\n{\n.reg .f32 %f<5>;\n"
	                           ".reg .b32 %r<2>;\n.reg .b64 %rd<2>;\n ld.param.u64 %rd1, [t];\n"
	                           " tex.2dms.v4.f32.s32 {%f1, %f2, %f3, %f4}, [%rd1, {%r1, %r1, %r1, %r1}];\n"
	                           " ret;\n}\n"), CUDA_ERROR_INVALID_PTX);
	expect_msg("unsupported instruction 'tex.2dms.v4.f32.s32'");
	expect_msg("line 10");

	/* a call to an external function the simulator lacks (vprintf, malloc, free it has) */
	CK_RC(cuModuleLoadData(&m, ".version 7.0\n.target sm_75\n.address_size 64\n"
	                           ".extern .func (.param .b64 r) elsewhere(.param .b64 a);\n"
	                           ".global .align 1 .b8 $str[3] = {104, 105, 0};\n"
	                           ".visible .entry k()\n{\n.reg .b64 %rd<3>;\n.reg .b32 %r<2>;\n"
	                           " mov.u64 %rd1, $str;\n cvta.global.u64 %rd2, %rd1;\n"
	                           " { .param .b64 p0; st.param.b64 [p0], 64; .param .b64 rv;\n"
	                           " \n"
	                           " call.uni (rv), elsewhere, (p0);\n ld.param.b64 %rd1, [rv]; }\n"
	                           " ret;\n}\n"), CUDA_ERROR_INVALID_PTX);
	expect_msg("elsewhere");
	expect_msg("line 14");

	/* SASS-only fatbin and plain cubin: no PTX to run */
	void *s90 = st_read(st_path("tests/kernels/basic_sm90.fatbin"), NULL);
	CK_RC(cuModuleLoadData(&m, s90), CUDA_ERROR_NO_BINARY_FOR_GPU);
	expect_msg("PTX");
	free(s90);
	void *cubin = st_read(st_path("tests/kernels/basic.cubin"), NULL);
	CK_RC(cuModuleLoadData(&m, cubin), CUDA_ERROR_NO_BINARY_FOR_GPU);
	free(cubin);

	/* truncated fatbins: every cut point through the headers and into the payload, with the
	 * fatbin header's size rewritten to match the cut (in-process cuModuleLoadData has no
	 * length, so the header is all the loader can trust) */
	size_t n;
	unsigned char *fb = st_read(st_path("tests/kernels/basic.fatbin"), &n);
	for (size_t cut = 16; cut < n; cut += (cut < 300 ? 1 : 997)) {
		unsigned char *t = malloc(cut);
		memcpy(t, fb, cut);
		uint64_t body = cut - 16;
		memcpy(t + 8, &body, 8);
		CUresult rc = cuModuleLoadData(&m, t);
		EXPECT(rc == CUDA_ERROR_INVALID_IMAGE || rc == CUDA_ERROR_NO_BINARY_FOR_GPU);
		free(t);
	}
	/* cuModuleLoad knows the file's length: a plainly cut file fails too */
	char tmp[] = "/tmp/vgpu-sim-truncXXXXXX";
	int fd = mkstemp(tmp);
	EXPECT(fd >= 0);
	EXPECT(write(fd, fb, n / 2) == (ssize_t)(n / 2));
	close(fd);
	CK_RC(cuModuleLoad(&m, tmp), CUDA_ERROR_INVALID_IMAGE);
	unlink(tmp);
	CK_RC(cuModuleLoad(&m, "/nonexistent/file.ptx"), CUDA_ERROR_FILE_NOT_FOUND);
	/* a fatbin whose header lies about an entry's size, and corrupted compressed PTX */
	unsigned char *c = malloc(n);
	memcpy(c, fb, n);
	uint64_t huge = 1ull << 40;
	memcpy(c + 16 + 8, &huge, 8);
	CK_RC(cuModuleLoadData(&m, c), CUDA_ERROR_INVALID_IMAGE);
	memcpy(c, fb, n);
	for (size_t i = n - 200; i < n - 100; i++)
		c[i] ^= 0x5a;
	CUresult rc = cuModuleLoadData(&m, c);
	EXPECT(rc == CUDA_ERROR_INVALID_IMAGE || rc == CUDA_ERROR_INVALID_PTX);
	free(c);
	free(fb);
}

static void t_launch_errors(CUmodule mod)
{
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	CUdeviceptr a;
	CK(cuMemAlloc(&a, 4096));
	int n = 16;
	void *args[] = {&a, &a, &a, &n};
	/* launch configuration errors */
	CK_RC(cuLaunchKernel(f, 0, 1, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 1 << 20, NULL, args, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuLaunchKernel(NULL, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_HANDLE);
	/* the extra form with fewer bytes than the parameters: taken, the rest zeros, as the driver
	 * takes NCCL's (it passes the bytes of its 4 KiB argument block it uses); here n = 0 */
	struct { CUdeviceptr a, b, c; } three = {a, a, a};
	size_t sz = sizeof(three);
	void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &three, CU_LAUNCH_PARAM_BUFFER_SIZE, &sz,
	                 CU_LAUNCH_PARAM_END};
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, extra));
	CK(cuCtxSynchronize());
	/* with more than the parameters (past their padding): refused, naming the sizes */
	struct { CUdeviceptr a, b, c; int n, m; long long x, y; } five = {a, a, a, 1, 2, 3, 4};
	sz = sizeof(five);
	extra[1] = &five;
	CK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, NULL, extra), CUDA_ERROR_INVALID_VALUE);
	expect_msg("28 bytes");
	CK_RC(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, extra), CUDA_ERROR_INVALID_VALUE);
	/* a freed pointer in a kernel: illegal address at the next synchronisation */
	CK(cuMemFree(a));
	CK(cuCtxSynchronize());
}

static void t_illegal_address(void)
{
	CUcontext ctx;
	CUmodule mod;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&mod, img));
	free(img);
	t_launch_errors(mod);
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, "oob_write"));
	CUdeviceptr p;
	CK(cuMemAlloc(&p, 64));
	long long off = 15;            /* in bounds */
	void *args[] = {&p, &off};
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	CK(cuCtxSynchronize());
	off = 1 << 20;                 /* far out of bounds */
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	expect_msg("illegal address");
	expect_msg("oob_write");
	/* sticky: the context stays broken */
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	CUdeviceptr q;
	CK_RC(cuMemAlloc(&q, 64), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK_RC(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK(cuCtxDestroy(ctx));

	/* a fresh context works again; a freed pointer inside a kernel faults too */
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&mod, img));
	free(img);
	CK(cuModuleGetFunction(&f, mod, "oob_write"));
	CK(cuMemAlloc(&p, 64));
	CK(cuMemFree(p));
	off = 0;
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	CK(cuCtxDestroy(ctx));

	/* a misaligned access is its own sticky error, as on a GPU */
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&mod, img));
	free(img);
	CK(cuModuleGetFunction(&f, mod, "oob_write"));
	CK(cuMemAlloc(&p, 64));
	CUdeviceptr odd = p + 2;
	off = 0;
	void *margs[] = {&odd, &off};
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, margs, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_MISALIGNED_ADDRESS);
	expect_msg("misaligned");
	CK(cuCtxDestroy(ctx));

	/* host pointers are not device memory either */
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&mod, img));
	free(img);
	CK(cuModuleGetFunction(&f, mod, "oob_write"));
	static int host[4];
	CUdeviceptr hp = (CUdeviceptr)(uintptr_t)host;
	void *hargs[] = {&hp, &off};
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, hargs, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	EXPECT(host[0] == 0);
	CK(cuCtxDestroy(ctx));
}

/* An endless loop, endless recursion and an endless grid each fail their launch cleanly. */
static void t_runaway(void)
{
	static const char *src =
		".version 7.0\n.target sm_75\n.address_size 64\n"
		".func rec()\n{\n call.uni rec, ();\n ret;\n}\n"
		".visible .entry spin()\n{\n$L_top:\n bra.uni $L_top;\n}\n"
		".visible .entry deep()\n{\n call.uni rec, ();\n ret;\n}\n"
		".visible .entry nop()\n{\n.reg .b32 %r<2>;\n mov.u32 %r1, %tid.x;\n ret;\n}\n";
	CUcontext ctx;
	CUmodule m;
	CUfunction f;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, "spin"));
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_LAUNCH_TIMEOUT);
	expect_msg("watchdog");
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, "deep"));
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_LAUNCH_FAILED);
	expect_msg("recursion");
	CK(cuCtxDestroy(ctx));
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, "nop"));
	CK(cuLaunchKernel(f, 2000000000u, 1, 1, 32, 1, 1, 0, NULL, NULL, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_LAUNCH_TIMEOUT);
	expect_msg("blocks");
	CK(cuCtxDestroy(ctx));
}

/* Handles used after their object is gone fail with INVALID_HANDLE (under ASan: no use
 * after free), including streams of a released primary context. */
static void t_stale_handles(void)
{
	CUcontext pc;
	CUstream s;
	CUevent e;
	CUmodule m;
	CUfunction f;
	CK(cuDevicePrimaryCtxRetain(&pc, 0));
	CK(cuCtxSetCurrent(pc));
	CK(cuStreamCreate(&s, 0));
	CK(cuEventCreate(&e, 0));
	void *img = st_read(st_path("tests/kernels/basic.ptx"), NULL);
	CK(cuModuleLoadData(&m, img));
	free(img);
	CK(cuModuleGetFunction(&f, m, "vec_add"));
	CK(cuModuleUnload(m));
	CK_RC(cuModuleGetFunction(&f, m, "vec_add"), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuFuncSetCacheConfig(f, CU_FUNC_CACHE_PREFER_L1), CUDA_ERROR_INVALID_HANDLE);
	CK(cuEventDestroy(e));
	CK_RC(cuEventQuery(e), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuEventRecord(e, NULL), CUDA_ERROR_INVALID_HANDLE);
	CK(cuDevicePrimaryCtxRelease(0));             /* takes the stream with it */
	CK_RC(cuStreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuStreamDestroy(s), CUDA_ERROR_INVALID_HANDLE);
	CK(cuCtxSetCurrent(NULL));
}

/* Names as long as template libraries' mangled ones: an entry, a .func it calls, a parameter
 * and a module variable of up to PTX_NAME_MAX (4096) characters load, resolve and run; one
 * character more is refused with the length in the message. */
static char *long_name(char c, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		exit(1);
	s[0] = '_';
	memset(s + 1, c, n - 1);
	s[n] = 0;
	return s;
}

static void t_long_names(void)
{
	char *ent = long_name('E', 4096), *fn = long_name('F', 3000), *var = long_name('V', 4096);
	char *par = long_name('P', 600), *bad = long_name('X', 4097);
	size_t cap = 32768;
	char *src = malloc(cap);
	if (!src)
		exit(1);
	snprintf(src, cap,
		 ".version 7.0\n.target sm_75\n.address_size 64\n"
		 ".visible .global .align 4 .u32 %s;\n"
		 ".func %s()\n{\n.reg .b64 %%rd<2>;\n.reg .b32 %%r<2>;\n mov.u64 %%rd1, %s;\n"
		 " mov.u32 %%r1, 77;\n st.global.u32 [%%rd1], %%r1;\n ret;\n}\n"
		 ".visible .entry %s(.param .u32 %s)\n{\n.reg .b32 %%r<3>;\n.reg .b64 %%rd<2>;\n"
		 " call.uni %s, ();\n ld.param.u32 %%r1, [%s];\n mov.u64 %%rd1, %s;\n"
		 " ld.global.u32 %%r2, [%%rd1];\n add.u32 %%r2, %%r2, %%r1;\n st.global.u32 [%%rd1], %%r2;\n ret;\n}\n",
		 var, fn, var, ent, par, fn, par, var);
	CUcontext ctx;
	CUmodule m;
	CUfunction f;
	CUdeviceptr g;
	size_t gsz = 0;
	unsigned v = 0, add = 5;
	void *args[] = { &add };
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, ent));
	CK(cuModuleGetGlobal(&g, &gsz, m, var));
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(&v, g, sizeof(v)));
	if (gsz != 4 || v != 82) {
		fprintf(stderr, "long names: global of %zu bytes holds %u, expected 4 bytes holding 82\n", gsz, v);
		exit(1);
	}
	const char *got = NULL;
	CK(cuFuncGetName(&got, f));
	if (!got || strcmp(got, ent)) {
		fprintf(stderr, "long names: cuFuncGetName gave a name of %zu characters\n", got ? strlen(got) : 0);
		exit(1);
	}
	CK(cuModuleUnload(m));
	/* one character over the limit, as an entry's name and as a variable's */
	static const char *where[] = { ".visible .entry %s()\n{\n ret;\n}\n", ".visible .global .u32 %s;\n" };
	for (unsigned i = 0; i < 2; i++) {
		int n = snprintf(src, cap, ".version 7.0\n.target sm_75\n.address_size 64\n");
		snprintf(src + n, cap - (size_t)n, where[i], bad);
		CK_RC(cuModuleLoadData(&m, src), CUDA_ERROR_INVALID_PTX);
		expect_msg("longer than 4096");
	}
	CK(cuCtxDestroy(ctx));
	free(ent); free(fn); free(var); free(par); free(bad); free(src);
}

/* Device printf reads its format and its %s arguments as the kernel: a string the kernel
 * cannot read fails the launch with an illegal address (and prints nothing), as any bad
 * pointer does; a good call returns its number of arguments. */
static void t_printf_fault(void)
{
	static const char *src =
		".version 7.0\n.target sm_75\n.address_size 64\n"
		".extern .func (.param .b32 func_retval0) vprintf\n(\n.param .b64 vprintf_param_0,\n"
		".param .b64 vprintf_param_1\n)\n;\n"
		".global .align 1 .b8 fmt[8] = {91, 37, 115, 93, 10, 0, 0, 0};\n"   /* "[%s]\n" */
		".visible .entry k(.param .u64 str, .param .u64 out)\n{\n"
		".local .align 8 .b8 depot[8];\n.reg .b64 %rd<8>;\n.reg .b32 %r<2>;\n"
		" mov.u64 %rd1, depot;\n cvta.local.u64 %rd2, %rd1;\n ld.param.u64 %rd3, [str];\n"
		" st.local.u64 [%rd1], %rd3;\n mov.u64 %rd4, fmt;\n cvta.global.u64 %rd5, %rd4;\n"
		" {\n.param .b64 param0;\n st.param.b64 [param0+0], %rd5;\n.param .b64 param1;\n"
		" st.param.b64 [param1+0], %rd2;\n.param .b32 retval0;\n"
		" call.uni (retval0), vprintf, (param0, param1);\n ld.param.b32 %r1, [retval0+0];\n }\n"
		" ld.param.u64 %rd6, [out];\n st.global.u32 [%rd6], %r1;\n ret;\n}\n";
	CUcontext ctx;
	CUmodule m;
	CUfunction f;
	CUdeviceptr s, out;
	int n = -1;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, "k"));
	CK(cuMemAlloc(&s, 8));
	CK(cuMemAlloc(&out, 4));
	CK(cuMemcpyHtoD(s, "ok", 3));
	void *good[] = { &s, &out };
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, good, NULL));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(&n, out, 4));
	if (n != 1) {
		fprintf(stderr, "printf returned %d, expected 1 (its arguments)\n", n);
		exit(1);
	}
	CUdeviceptr wild = 0x10;
	void *bad[] = { &wild, &out };
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, bad, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
	expect_msg("printf");
	CK(cuCtxDestroy(ctx));
}

/* Device free of a pointer malloc did not return fails the launch, naming it. */
static void t_free_wild(void)
{
	static const char *src =
		".version 7.0\n.target sm_75\n.address_size 64\n"
		".extern .func free\n(\n.param .b64 free_param_0\n)\n;\n"
		".visible .entry k(.param .u64 p)\n{\n.reg .b64 %rd<2>;\n ld.param.u64 %rd1, [p];\n"
		" {\n.param .b64 param0;\n st.param.b64 [param0+0], %rd1;\n call.uni free, (param0);\n }\n ret;\n}\n";
	CUcontext ctx;
	CUmodule m;
	CUfunction f;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuModuleLoadData(&m, src));
	CK(cuModuleGetFunction(&f, m, "k"));
	CUdeviceptr null = 0, wild = 0x1234;
	void *ok[] = { &null }, *bad[] = { &wild };
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, ok, NULL));   /* free(NULL) does nothing */
	CK(cuCtxSynchronize());
	CK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, bad, NULL));
	CK_RC(cuCtxSynchronize(), CUDA_ERROR_LAUNCH_FAILED);
	expect_msg("free of a pointer malloc did not return");
	CK(cuCtxDestroy(ctx));
}

/* A graph whose copy and memset name memory freed after capture: the launch faults (illegal
 * address, sticky), nothing is read or written, as on a GPU. */
static void t_graph_freed(void)
{
	CUcontext ctx;
	CUstream s;
	CUgraph g;
	CUgraphExec ge;
	CUdeviceptr src, dst;
	uint32_t h[64], back[64];
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&src, sizeof(h)));
	CK(cuMemAlloc(&dst, sizeof(h)));
	for (int i = 0; i < 64; i++)
		h[i] = 0x5a5a0000u + (uint32_t)i;
	CK(cuMemcpyHtoD(dst, h, sizeof(h)));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemcpyDtoDAsync(dst, src, sizeof(h), s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&ge, g, 0));
	CK(cuMemFree(src));                    /* the copy's source is gone before the graph runs */
	CK(cuGraphLaunch(ge, s));
	CK_RC(cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
	expect_msg("freed since it was queued");
	CK(cuGraphExecDestroy(ge));
	CK(cuGraphDestroy(g));
	CK(cuCtxDestroy(ctx));
	/* the same with a memset, in a context of its own; the copy's destination kept its bytes */
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuMemAlloc(&dst, sizeof(h)));
	CK(cuMemAlloc(&src, sizeof(h)));
	CK(cuMemcpyHtoD(src, h, sizeof(h)));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemsetD32Async(dst, 7, 64, s));
	CK(cuMemcpyDtoDAsync(src, src, 4, s));
	CK(cuStreamEndCapture(s, &g));
	CK(cuGraphInstantiate(&ge, g, 0));
	CK(cuMemFree(dst));
	CK(cuGraphLaunch(ge, s));
	CK_RC(cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
	expect_msg("memset names memory freed since it was queued");
	CK(cuGraphExecDestroy(ge));
	CK(cuGraphDestroy(g));
	CK(cuCtxDestroy(ctx));
	(void)back;
}

/* A stream destroyed while capturing leaves its capture, which can no longer end well: a
 * graph the capture made stays the program's to destroy if it holds it (and is not lost if it
 * does not: LeakSanitizer at exit), a program's graph captured into is destroyable again, and
 * a stream that joined the capture ends it, invalidated. */
static void t_capture_stream_destroyed(void)
{
	CUcontext ctx;
	CUstream s, s2;
	CUevent e;
	CUgraph g, mine;
	CUgraphNode nodes[4];
	size_t n = 4;
	CUdeviceptr d;
	CUstreamCaptureStatus st;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	CK(cuMemAlloc(&d, 256));
	/* a capture's graph nobody was given */
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemsetD32Async(d, 1, 64, s));
	CK(cuStreamDestroy(s));
	/* a capture's graph the program was given while capturing */
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemsetD32Async(d, 2, 64, s));
	CK(cuStreamGetCaptureInfo(s, &st, NULL, &g, NULL, NULL, NULL));
	EXPECT(st == CU_STREAM_CAPTURE_STATUS_ACTIVE && g);
	CK(cuStreamDestroy(s));
	CK(cuGraphDestroy(g));   /* refused as still being captured into before */
	/* the program's own graph, captured into */
	CK(cuGraphCreate(&mine, 0));
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuStreamBeginCaptureToGraph(s, mine, NULL, NULL, 0, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuMemsetD32Async(d, 3, 64, s));
	CK(cuStreamDestroy(s));
	CK(cuGraphGetNodes(mine, nodes, &n));
	EXPECT(n == 1);           /* what was captured stays in it */
	CK(cuGraphDestroy(mine));
	/* a capture another stream joined: that stream ends it */
	CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	CK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
	CK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
	CK(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
	CK(cuEventRecord(e, s));
	CK(cuStreamWaitEvent(s2, e, 0));
	CK(cuMemsetD32Async(d, 4, 64, s2));
	CK(cuStreamDestroy(s));
	CK(cuStreamIsCapturing(s2, &st));
	EXPECT(st == CU_STREAM_CAPTURE_STATUS_INVALIDATED);
	g = (CUgraph)1;
	CK_RC(cuStreamEndCapture(s2, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
	EXPECT(g == NULL);
	CK(cuStreamIsCapturing(s2, &st));
	EXPECT(st == CU_STREAM_CAPTURE_STATUS_NONE);
	CK(cuEventDestroy(e));
	CK(cuStreamDestroy(s2));
	CK(cuMemFree(d));
	CK(cuCtxDestroy(ctx));
}

int main(void)
{
	setenv("VGPU_SIM_MEM", "64M", 1);
	setenv("VGPU_SIM_WATCHDOG_INSNS", "1000000", 1);
	setenv("VGPU_SIM_QUIET", "1", 1);
	CUmodule m;
	CK_RC(cuModuleLoadData(&m, "x"), CUDA_ERROR_NOT_INITIALIZED);
	CK(cuInit(0));
	CK_RC(cuModuleLoadData(&m, "x"), CUDA_ERROR_INVALID_CONTEXT);
	CUcontext ctx;
	CK(cuCtxCreate(&ctx, NULL, 0, 0));
	t_bad_modules();
	CK(cuCtxDestroy(ctx));
	t_illegal_address();
	t_runaway();
	t_stale_handles();
	t_long_names();
	t_printf_fault();
	t_free_wild();
	t_graph_freed();
	t_capture_stream_destroyed();
	printf("test_sim_errors: all checks passed\n");
	return 0;
}
