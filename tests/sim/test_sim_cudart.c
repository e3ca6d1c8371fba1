/* SPDX-License-Identifier: MIT */
/* test_sim_cudart — the export tables (runtime/darkapi.c) and the library/kernel API (runtime/library.c) on the simulator. */
#include "simtest.h"

#include <stdbool.h>
#include <stdint.h>

#include <cudaProfiler.h>

#include "darkapi.h"
#include "drvtab.h"

/* The test's own copy of darkapi.o is used only for its pure hash helpers; the tables under
 * test are the simulator's, reached through cuGetExportTable. */
const struct vgpu_drvtab vgpu_drv;

/* ---- MD2 (RFC 1319 test suite) and the integrity hash ---- */

static void hex(const uint8_t *d, char *out)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_md2(void)
{
	static const struct { const char *in, *want; } v[] = {
		{ "", "8350e5a3e24c153df2275c9f80692773" },
		{ "a", "32ec01ec4a6dac72c0ab96fb34c0b5d1" },
		{ "abc", "da853b0d3f88d99b30283a69e6ded6bb" },
		{ "message digest", "ab4f496bfb2a530b219ff33031fe06b0" },
		{ "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		  "d5976f79d83d3a0dc9806c3c66f3efd8" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t d[16];
		char h[33];
		vgpu_md2(v[i].in, strlen(v[i].in), d);
		hex(d, h);
		if (strcmp(h, v[i].want)) {
			fprintf(stderr, "MD2(\"%s\") = %s, expected %s\n", v[i].in, h, v[i].want);
			exit(1);
		}
	}
	/* versions ending in 0 and 1 have fixed answers; others depend on every input */
	uint64_t a[2], b[2];
	struct vgpu_integrity_device dev = { .pci_bus = 0x40 };
	vgpu_darkapi_integrity_hash(10, 123, 13000, 1, 2, NULL, NULL, NULL, &dev, 1, a);
	EXPECT(a[0] == 0x3341181c03cb675cull && a[1] == 0x8ed383aa1f4cd1e8ull);
	vgpu_darkapi_integrity_hash(12, 123, 13000, 1, 2, NULL, NULL, NULL, &dev, 1, a);
	vgpu_darkapi_integrity_hash(12, 124, 13000, 1, 2, NULL, NULL, NULL, &dev, 1, b);
	EXPECT(a[0] != b[0] || a[1] != b[1]);
	vgpu_darkapi_integrity_hash(12, 123, 13000, 1, 2, NULL, NULL, NULL, &dev, 1, b);
	EXPECT(a[0] == b[0] && a[1] == b[1]);
	printf("ok: MD2 test vectors and the integrity hash\n");
}

/* ---- cuGetExportTable ---- */

static const CUuuid CUDART = { { 0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a,
				 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d, 0xf9 } };
static const CUuuid CLS = { { 0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11,
			      0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95, 0x93 } };
static const CUuuid BYPASS = { { 0xf8, 0xcf, 0xf9, 0x51, 0x21, 0x46, 0x8b, 0x4e,
				 0xb9, 0xe2, 0xfb, 0x46, 0x9e, 0x7c, 0x0d, 0xd9 } };
static const CUuuid INTEGRITY = { { 0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b,
				    0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1, 0xf2 } };

static const CUuuid TOOLS_TLS = { { 0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47,
				    0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec, 0xdc } };
static const CUuuid CTX_STREAM = { { 0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48,
				     0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8, 0xf2 } };

static const CUuuid TOOLS_MODULE = { { 0x6e, 0x16, 0x3f, 0xbe, 0xb9, 0x58, 0x44, 0x4d,
				       0x83, 0x5c, 0xe1, 0x82, 0xaf, 0xf1, 0x99, 0x1e } };

struct seen { CUfunction f[16]; unsigned n; };

static void each_function(void *user, CUfunction f)
{
	struct seen *s = user;
	if (s->n < 16)
		s->f[s->n] = f;
	s->n++;
}

/* TOOLS_MODULE slot 7: a module's functions handed to a callback, 1 when done (cuFFT's way of
 * finding the one kernel of each module it loads). */
static void test_tools_module(void)
{
	const void *t = NULL;

	CK(cuGetExportTable(&t, &TOOLS_MODULE));
	int (*functions)(CUcontext, CUmodule, void (*)(void *, CUfunction), void *) =
		(int (*)(CUcontext, CUmodule, void (*)(void *, CUfunction), void *))((const void *const *)t)[7];
	void *fat = st_read(st_path("tests/kernels/basic.fatbin"), NULL);
	CUmodule mod;
	CK(cuModuleLoadData(&mod, fat));
	unsigned count = 0;
	CK(cuModuleGetFunctionCount(&count, mod));
	EXPECT(count >= 4 && count <= 16);
	struct seen s = { .n = 0 };
	EXPECT(functions(NULL, mod, each_function, &s) == 1);
	EXPECT(s.n == count);
	for (unsigned i = 0; i < s.n; i++) {
		const char *name = NULL;
		CUfunction byname;
		CK(cuFuncGetName(&name, s.f[i]));
		CK(cuModuleGetFunction(&byname, mod, name));
		EXPECT(byname == s.f[i]);
		for (unsigned j = 0; j < i; j++)
			EXPECT(s.f[j] != s.f[i]);
	}
	/* no callback, or a module that is gone: 0, nothing called */
	EXPECT(functions(NULL, mod, NULL, &s) == 0);
	CK(cuModuleUnload(mod));
	s.n = 0;
	EXPECT(functions(NULL, mod, each_function, &s) == 0 && s.n == 0);
	free(fat);
}

/* TOOLS_TLS slot 2 and CONTEXT_STREAM slots 4, 39 and 51, which cuBLAS and cuFFT use. */
static void test_library_tables(CUcontext pctx)
{
	const void *t = NULL;

	CK(cuGetExportTable(&t, &TOOLS_TLS));
	CUresult (*current)(CUcontext *) = (CUresult(*)(CUcontext *))((const void *const *)t)[2];
	CUcontext c = (CUcontext)1;
	CK(cuCtxSetCurrent(NULL));
	CK_RC(current(&c), CUDA_ERROR_INVALID_CONTEXT);
	EXPECT(c == NULL);
	CK(cuCtxSetCurrent(pctx));
	CK(current(&c));
	EXPECT(c == pctx);
	CK_RC(current(NULL), CUDA_ERROR_INVALID_VALUE);

	CK(cuGetExportTable(&t, &CTX_STREAM));
	const void *const *cs = t;
	EXPECT((uintptr_t)cs[0] == 93 * sizeof(void *));
	CUresult (*ctx_key)(CUcontext, unsigned long long *) = (CUresult(*)(CUcontext, unsigned long long *))cs[4];
	CUresult (*sid)(CUcontext, const void *, unsigned long long *) =
		(CUresult(*)(CUcontext, const void *, unsigned long long *))cs[39];
	CUresult (*priv)(CUcontext, CUstream, void **, int) = (CUresult(*)(CUcontext, CUstream, void **, int))cs[51];
	unsigned long long k1 = 0, k2 = 0, id = 0;
	CK(ctx_key(pctx, &k1));
	CK(ctx_key(NULL, &k2));
	EXPECT(k1 == k2 && k1 != 0);
	CUcontext other;
	CK(cuCtxCreate(&other, NULL, 0, 0));
	CK(ctx_key(other, &k2));
	EXPECT(k2 != k1);
	CK(cuCtxDestroy(other));
	CK_RC(ctx_key(other, &k2), CUDA_ERROR_INVALID_CONTEXT);
	CK(cuCtxSetCurrent(pctx));
	CUstream s;
	void *p = NULL;
	CK(cuStreamCreate(&s, 0));
	CK(priv(pctx, s, &p, 0));
	CK(sid(pctx, p, &id));
	EXPECT(p == (void *)s && id == (unsigned long long)(uintptr_t)s);
	CK(priv(pctx, NULL, &p, 1));
	EXPECT(p == (void *)CU_STREAM_PER_THREAD);
	CK(priv(pctx, NULL, &p, 0));
	EXPECT(p == NULL);
	CK_RC(priv(pctx, s, NULL, 0), CUDA_ERROR_INVALID_VALUE);
	CK_RC(sid(pctx, p, NULL), CUDA_ERROR_INVALID_VALUE);
	/* the slots whose meaning is unknown refuse */
	CK_RC(((CUresult(*)(void))cs[1])(), CUDA_ERROR_NOT_SUPPORTED);
	CK_RC(((CUresult(*)(void))cs[92])(), CUDA_ERROR_NOT_SUPPORTED);
	CK(cuStreamDestroy(s));
}

static void test_export_tables(void)
{
	const void *t = (const void *)1;
	CUuuid unknown = { { 1, 2, 3, 4 } };

	CK_RC(cuGetExportTable(NULL, &CUDART), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGetExportTable(&t, NULL), CUDA_ERROR_INVALID_VALUE);
	CK_RC(cuGetExportTable(&t, &unknown), CUDA_ERROR_NOT_SUPPORTED);
	EXPECT(t == NULL);
	CK_RC(cuGetExportTable(&t, &BYPASS), CUDA_ERROR_NOT_FOUND);
	EXPECT(t == NULL);

	/* CUDART_INTERFACE: its size, the primary context (slot 2), a module from a fatbin (slot 1) */
	CK(cuGetExportTable(&t, &CUDART));
	const void *const *rt = t;
	EXPECT((uintptr_t)rt[0] == 13 * sizeof(void *));
	CUcontext pctx = NULL;
	CK(((CUresult(*)(CUcontext *, CUdevice))rt[2])(&pctx, 0));
	EXPECT(pctx != NULL);
	CK(cuCtxSetCurrent(pctx));
	void *fat = st_read(st_path("tests/kernels/basic.fatbin"), NULL);
	CUmodule mod = NULL;
	CK(((CUresult(*)(CUmodule *, const void *))rt[1])(&mod, fat));
	CUfunction f;
	CK(cuModuleGetFunction(&f, mod, "vec_add"));
	CK(cuModuleUnload(mod));
	/* a slot whose meaning is unknown says so instead of doing something */
	CK_RC(((CUresult(*)(void))rt[3])(), CUDA_ERROR_NOT_SUPPORTED);

	/* CONTEXT_LOCAL_STORAGE: put, get, delete per (context, key); the current one by NULL */
	CK(cuGetExportTable(&t, &CLS));
	const void *const *cls = t;
	CUresult (*put)(CUcontext, void *, void *, void *) = (CUresult(*)(CUcontext, void *, void *, void *))cls[0];
	CUresult (*del)(CUcontext, void *) = (CUresult(*)(CUcontext, void *))cls[1];
	CUresult (*get)(void **, CUcontext, void *) = (CUresult(*)(void **, CUcontext, void *))cls[2];
	int key1, key2;
	void *v = NULL;
	CK(put(pctx, &key1, (void *)0x1234, NULL));
	CK(get(&v, NULL, &key1));
	EXPECT(v == (void *)0x1234);
	CK_RC(get(&v, pctx, &key2), CUDA_ERROR_INVALID_HANDLE);
	CK(del(NULL, &key1));
	CK_RC(get(&v, pctx, &key1), CUDA_ERROR_INVALID_HANDLE);
	CUcontext other;
	CK(cuCtxCreate(&other, NULL, 0, 0)); /* now current: NULL means it, not the primary */
	CK(put(pctx, &key1, (void *)1, NULL));
	CK_RC(get(&v, NULL, &key1), CUDA_ERROR_INVALID_HANDLE);
	CK(cuCtxDestroy(other));
	CK(cuCtxSetCurrent(pctx));
	CK(get(&v, NULL, &key1));
	EXPECT(v == (void *)1);

	/* INTEGRITY_CHECK answers, deterministically for the same inputs */
	CK(cuGetExportTable(&t, &INTEGRITY));
	uint64_t h1[2], h2[2];
	CUresult (*check)(uint32_t, uint64_t, uint64_t *) = (CUresult(*)(uint32_t, uint64_t, uint64_t *))((const void *const *)t)[1];
	CK(check(13002, 1700000000, h1));
	CK(check(13002, 1700000000, h2));
	EXPECT(h1[0] == h2[0] && h1[1] == h2[1]);
	CK_RC(check(13002, 1, NULL), CUDA_ERROR_INVALID_VALUE);
	test_library_tables(pctx);
	test_tools_module();
	free(fat);
	printf("ok: export tables\n");
}

/* ---- the library/kernel API ---- */

static void test_library(void)
{
	void *fat = st_read(st_path("tests/kernels/basic.fatbin"), NULL);
	CUlibrary lib, lib2;
	CUkernel k, k2;
	CUfunction f, f2;
	CUmodule m;
	CUcontext c1, c2;
	const char *name;

	CK(cuDevicePrimaryCtxRetain(&c1, 0));
	CK(cuCtxSetCurrent(NULL));
	/* loading and naming kernels needs no context (cudart does both before it has one) */
	CK(cuLibraryLoadData(&lib, fat, NULL, NULL, 0, NULL, NULL, 0));
	CK(cuLibraryGetKernel(&k, lib, "vec_add"));
	CK(cuLibraryGetKernel(&k2, lib, "vec_add"));
	EXPECT(k == k2);
	CK_RC(cuLibraryGetKernel(&k2, lib, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
	CK(cuKernelGetName(&name, k));
	EXPECT(!strcmp(name, "vec_add"));
	CUlibrary back;
	CK(cuKernelGetLibrary(&back, k));
	EXPECT(back == lib);
	CK_RC(cuKernelGetFunction(&f, k), CUDA_ERROR_INVALID_CONTEXT);

	/* a kernel is a function in each context, loaded there on first use */
	CK(cuCtxSetCurrent(c1));
	CK(cuKernelGetFunction(&f, k));
	CK(cuKernelGetFunction(&f2, k));
	EXPECT(f == f2);
	CK(cuCtxCreate(&c2, NULL, 0, 0));
	CK(cuKernelGetFunction(&f2, k));
	EXPECT(f != f2);
	CK(cuLibraryGetModule(&m, lib));
	CK(cuModuleGetFunction(&f, m, "vec_add"));
	EXPECT(f == f2);

	/* the kernel itself launches, and answers attribute calls, as its function */
	const int n = 300;
	float a[300], b[300], c[300];
	for (int i = 0; i < n; i++) {
		a[i] = (float)i;
		b[i] = 2.0f * i;
	}
	CUdeviceptr da, db, dc;
	CK(cuMemAlloc(&da, sizeof(a)));
	CK(cuMemAlloc(&db, sizeof(b)));
	CK(cuMemAlloc(&dc, sizeof(c)));
	CK(cuMemcpyHtoD(da, a, sizeof(a)));
	CK(cuMemcpyHtoD(db, b, sizeof(b)));
	int nn = n;
	void *params[] = { &da, &db, &dc, &nn };
	CK(cuLaunchKernel((CUfunction)k, 3, 1, 1, 128, 1, 1, 0, NULL, params, NULL));
	CK(cuMemcpyDtoH(c, dc, sizeof(c)));
	for (int i = 0; i < n; i++)
		EXPECT(c[i] == 3.0f * i);
	int maxt = 0, maxt2 = 0;
	CK(cuFuncGetAttribute(&maxt, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, (CUfunction)k));
	CK(cuKernelGetAttribute(&maxt2, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, k, 0));
	EXPECT(maxt > 0 && maxt == maxt2);
	CK(cuKernelSetCacheConfig(k, CU_FUNC_CACHE_PREFER_SHARED, 0));
	size_t off = 1, sz = 0;
	CK(cuKernelGetParamInfo(k, 3, &off, &sz));
	EXPECT(off == 24 && sz == 4);

	/* globals of the library, per context */
	CUdeviceptr g;
	size_t gbytes = 0;
	CK(cuLibraryGetGlobal(&g, &gbytes, lib, "dev_counter"));
	EXPECT(g && gbytes == sizeof(int));
	unsigned count = 0;
	CK(cuLibraryGetKernelCount(&count, lib));
	EXPECT(count >= 10);

	/* stale and forged handles are refused, never followed */
	CK(cuLibraryLoadData(&lib2, fat, NULL, NULL, 0, NULL, NULL, 0));
	CK(cuLibraryGetKernel(&k2, lib2, "saxpy"));
	CK(cuLibraryUnload(lib2));
	CK_RC(cuLibraryUnload(lib2), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuKernelGetFunction(&f, k2), CUDA_ERROR_INVALID_HANDLE);
	/* (a launch of a stale kernel is not tried: the simulator's own function check reads the
	 * handle's memory, which a freed kernel object no longer is) */
	int junk[16] = { 0 };
	CK_RC(cuLibraryGetKernel(&k2, (CUlibrary)junk, "vec_add"), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuKernelGetName(&name, (CUkernel)junk), CUDA_ERROR_INVALID_HANDLE);
	CK_RC(cuLibraryLoadData(&lib2, "not an image", NULL, NULL, 0, NULL, NULL, 0), CUDA_ERROR_INVALID_IMAGE);
	CK_RC(cuLibraryLoadData(NULL, fat, NULL, NULL, 0, NULL, NULL, 0), CUDA_ERROR_INVALID_VALUE);

	/* a SASS-only library loads, and fails with the simulator's clear error at first use */
	void *sass = st_read(st_path("tests/kernels/basic_sm90.fatbin"), NULL);
	CK(cuLibraryLoadData(&lib2, sass, NULL, NULL, 0, NULL, NULL, 0));
	CK_RC(cuLibraryGetModule(&m, lib2), CUDA_ERROR_NO_BINARY_FOR_GPU);
	CK(cuLibraryUnload(lib2));

	CK(cuMemFree(da));
	CK(cuMemFree(db));
	CK(cuMemFree(dc));
	CK(cuCtxDestroy(c2));
	CK(cuCtxSetCurrent(c1));
	CK(cuLibraryUnload(lib)); /* the module of the destroyed context is not touched */
	free(fat);
	free(sass);
	printf("ok: library and kernel API\n");
}

/* ---- host facilities a zone cannot reach: answered locally, the same in libvgpu ---- */

static void cb_log(void *d, CUlogLevel l, char *m, size_t n) { (void)d; (void)l; (void)m; (void)n; }
static void cb_async(CUasyncNotificationInfo *i, void *d, CUasyncCallbackHandle h) { (void)i; (void)d; (void)h; }

static void test_local_calls(void)
{
	CUlogsCallbackHandle lh;
	CUasyncCallbackHandle ah;
	CUlogIterator it = 5;
	char buf[16] = "x";
	size_t sz = sizeof(buf);
	bool on = true;
	size_t bsz = sizeof(on);

	CK(cuProfilerStart());
	CK(cuProfilerStop());
	CK(cuLogsRegisterCallback(cb_log, NULL, &lh));
	CK(cuLogsCurrent(&it, 0));
	CK(cuLogsDumpToMemory(&it, buf, &sz, 0));
	EXPECT(sz == 0 && buf[0] == 0);   /* a zone's driver log is empty */
	CK(cuLogsUnregisterCallback(lh));
	CK(cuDeviceRegisterAsyncNotification(0, cb_async, NULL, &ah));
	CK(cuDeviceUnregisterAsyncNotification(0, ah));
	CK_RC(cuDeviceRegisterAsyncNotification(99, cb_async, NULL, &ah), CUDA_ERROR_INVALID_DEVICE);
	CK(cuCoredumpGetAttribute(CU_COREDUMP_ENABLE_ON_EXCEPTION, &on, &bsz));
	EXPECT(!on && bsz == sizeof(bool));   /* core dumps are the host's: off, and may not be turned on */
	CK_RC(cuCoredumpSetAttribute(CU_COREDUMP_ENABLE_ON_EXCEPTION, &on, &bsz), CUDA_ERROR_NOT_PERMITTED);
	printf("ok: profiler, log, notifications and core dumps answered locally\n");
}

int main(void)
{
	setenv("VGPU_SIM_QUIET", "1", 1);
	test_md2();
	CK(cuInit(0));
	test_export_tables();
	test_library();
	test_local_calls();
	return 0;
}
