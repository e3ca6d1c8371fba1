/* SPDX-License-Identifier: MIT */
/* kernels.c — end to end: modules from PTX and fatbin, launches with kernelParams, `extra` and cuLaunchKernelEx, globals, streams, events. */
#include "e2e.h"

#include <math.h>
#include <stdint.h>

struct params {
	int a;
	double b;
	char c;
	float d[3];
	short e;
};

/* vec_add, found by name unless f is given */
static void vec_add(CUmodule mod, CUfunction f, CUstream s)
{
	const int n = 1000;
	float a[1000], b[1000], c[1000];
	CUdeviceptr da, db, dc;

	if (!f)
		CK(cuModuleGetFunction(&f, mod, "vec_add"));
	for (int i = 0; i < n; i++) {
		a[i] = (float)i * 0.5f;
		b[i] = 3.0f - (float)i;
	}
	CK(cuMemAlloc(&da, sizeof(a)));
	CK(cuMemAlloc(&db, sizeof(b)));
	CK(cuMemAlloc(&dc, sizeof(c)));
	CK(cuMemcpyHtoD(da, a, sizeof(a)));
	CK(cuMemcpyHtoD(db, b, sizeof(b)));
	int nn = n;
	void *args[] = { &da, &db, &dc, &nn };
	CK(cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, s, args, NULL));
	CK(cuStreamSynchronize(s));
	CK(cuMemcpyDtoH(c, dc, sizeof(c)));
	for (int i = 0; i < n; i++)
		EXPECT(c[i] == a[i] + b[i]);
	CK(cuMemFree(da));
	CK(cuMemFree(db));
	CK(cuMemFree(dc));
}

/*
 * A module's kernels without their names (cuFFT finds its kernels so): each enumerated
 * function has a distinct name that cuModuleGetFunction finds too, and one found this way
 * launches with kernelParams (its parameter layout is known).
 */
static void enumerate(CUmodule mod, CUstream s)
{
	unsigned n = 0;
	CUfunction fns[64], vf = NULL;

	CK(cuModuleGetFunctionCount(&n, mod));
	EXPECT(n >= 4 && n <= 64);
	CK(cuModuleEnumerateFunctions(fns, n, mod));
	for (unsigned i = 0; i < n; i++) {
		const char *name = NULL;
		CUfunction byname;
		CK(cuFuncGetName(&name, fns[i]));
		CK(cuModuleGetFunction(&byname, mod, name));
		const char *again = NULL;
		CK(cuFuncGetName(&again, byname));
		EXPECT(strcmp(name, again) == 0);
		for (unsigned j = 0; j < i; j++) {
			const char *other = NULL;
			CK(cuFuncGetName(&other, fns[j]));
			EXPECT(strcmp(name, other) != 0);
		}
		if (!strcmp(name, "vec_add"))
			vf = fns[i];
	}
	EXPECT(vf != NULL);
	vec_add(mod, vf, s);
	/* fewer than there are: that many; none asked: nothing written */
	CUfunction one[2] = { NULL, NULL };
	CK(cuModuleEnumerateFunctions(one, 1, mod));
	EXPECT(one[0] != NULL && one[1] == NULL);
	CK(cuModuleEnumerateFunctions(one, 0, mod));
	CK_ERR(cuModuleEnumerateFunctions(NULL, 0, mod), CUDA_ERROR_INVALID_VALUE);   /* as the driver */
	CK_ERR(cuModuleEnumerateFunctions(NULL, 1, mod), CUDA_ERROR_INVALID_VALUE);
}

/* saxpy through the `extra` form: the parameters packed by hand as nvcc lays them out. */
static void saxpy_extra(CUmodule mod)
{
	CUfunction f;
	float x[256], y[256], ref[256];
	CUdeviceptr dx, dy;
	struct {
		int n;
		float a;
		CUdeviceptr x, y;
	} pk;

	CK(cuModuleGetFunction(&f, mod, "saxpy"));
	for (int i = 0; i < 256; i++) {
		x[i] = (float)i;
		y[i] = 1.0f;
		ref[i] = 2.5f * x[i] + 1.0f;
	}
	CK(cuMemAlloc(&dx, sizeof(x)));
	CK(cuMemAlloc(&dy, sizeof(y)));
	CK(cuMemcpyHtoD(dx, x, sizeof(x)));
	CK(cuMemcpyHtoD(dy, y, sizeof(y)));
	pk.n = 256;
	pk.a = 2.5f;
	pk.x = dx;
	pk.y = dy;
	size_t sz = sizeof(pk);
	void *extra[] = { CU_LAUNCH_PARAM_BUFFER_POINTER, &pk, CU_LAUNCH_PARAM_BUFFER_SIZE, &sz, CU_LAUNCH_PARAM_END };
	CK(cuLaunchKernel(f, 2, 1, 1, 128, 1, 1, 0, NULL, NULL, extra));
	CK(cuCtxSynchronize());
	CK(cuMemcpyDtoH(y, dy, sizeof(y)));
	for (int i = 0; i < 256; i++)
		EXPECT(y[i] == ref[i]);
	CK(cuMemFree(dx));
	CK(cuMemFree(dy));
}

/* Mixed-size parameters and a struct by value, launched with cuLaunchKernelEx. */
static void many_params(CUmodule mod)
{
	CUfunction f;
	CUdeviceptr dout;
	double out[14];
	char c = -5;
	short s = 1234;
	int i = -77777;
	long long ll = 1ll << 40;
	float fl = 1.5f;
	double d = -2.25;
	struct params p = { 42, 3.5, 'x', { 1.0f, 2.0f, 3.0f }, -9 };
	unsigned char uc = 200;

	CK(cuModuleGetFunction(&f, mod, "many_params"));
	CK(cuMemAlloc(&dout, sizeof(out)));
	void *args[] = { &c, &s, &i, &ll, &fl, &d, &p, &uc, &dout };
	CUlaunchConfig cfg = { 0 };
	cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
	cfg.blockDimX = 32;
	cfg.blockDimY = cfg.blockDimZ = 1;
	CK(cuLaunchKernelEx(&cfg, f, args, NULL));
	CK(cuMemcpyDtoH(out, dout, sizeof(out)));
	EXPECT(out[0] == -5 && out[1] == 1234 && out[2] == -77777 && out[3] == (double)(1ll << 40));
	EXPECT(out[4] == 1.5 && out[5] == -2.25 && out[6] == 42 && out[7] == 3.5 && out[8] == 'x');
	EXPECT(out[9] == 1.0 && out[10] == 2.0 && out[11] == 3.0 && out[12] == -9 && out[13] == 200);
	CK(cuMemFree(dout));
}

/* __device__ globals written from the host, changed by a kernel, read back. */
static void globals(CUmodule mod)
{
	CUfunction f;
	CUdeviceptr counter, table, dout;
	size_t csz = 0, tsz = 0;
	int v = 5, out = 0;
	float t[8], t2[8];

	CK(cuModuleGetGlobal(&counter, &csz, mod, "dev_counter"));
	CK(cuModuleGetGlobal(&table, &tsz, mod, "dev_table"));
	EXPECT(csz == sizeof(int) && tsz == sizeof(t));
	for (int i = 0; i < 8; i++)
		t[i] = (float)i;
	CK(cuMemcpyHtoD(counter, &v, sizeof(v)));
	CK(cuMemcpyHtoD(table, t, sizeof(t)));
	CK(cuModuleGetFunction(&f, mod, "use_globals"));
	CK(cuMemAlloc(&dout, sizeof(int)));
	void *args[] = { &dout };
	CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(&out, dout, sizeof(out)));
	CK(cuMemcpyDtoH(&v, counter, sizeof(v)));
	CK(cuMemcpyDtoH(t2, table, sizeof(t2)));
	EXPECT(out == 5 && v == 105);
	for (int i = 0; i < 8; i++)
		EXPECT(t2[i] == t[i] * 2.0f + 5.0f);
	CK(cuMemFree(dout));
	CK_ERR(cuModuleGetGlobal(&counter, &csz, mod, "no_such_global"), CUDA_ERROR_NOT_FOUND);
}

/*
 * A global asked for twice is the same range; once its module is unloaded the driver may
 * hand its addresses out again (the simulator does at once), and the new allocation must be
 * usable over its whole length.
 */
static void global_then_unload(void)
{
	CUmodule m;
	CUdeviceptr g1, g2, d;
	size_t s1 = 0, s2 = 0;
	int v = 7, back = 0;

	CK(cuModuleLoad(&m, e2e_kernel_path("basic.fatbin")));
	CK(cuModuleGetGlobal(&g1, &s1, m, "dev_counter"));
	CK(cuModuleGetGlobal(&g2, &s2, m, "dev_counter"));
	EXPECT(g1 == g2 && s1 == s2 && s1 == sizeof(int));
	CK(cuMemcpyHtoD(g2, &v, sizeof(v)));
	CK(cuModuleUnload(m));
	CK(cuMemAlloc(&d, 1 << 20));
	CK(cuMemcpyHtoD(d + (1 << 20) - sizeof(v), &v, sizeof(v)));
	CK(cuMemcpyDtoH(&back, d + (1 << 20) - sizeof(v), sizeof(back)));
	EXPECT(back == v);
	CK(cuMemFree(d));
}

/* A block reduction timed with events on a stream. */
static void reduce_timed(CUmodule mod, CUstream s)
{
	CUfunction f;
	CUevent e0, e1;
	const int n = 4096;
	float *in = malloc(n * sizeof(float)), part[16], ms = -1.0f;
	CUdeviceptr din, dpart;
	double sum = 0, ref = 0;

	for (int i = 0; i < n; i++) {
		in[i] = (float)(i % 17) - 8.0f;
		ref += in[i];
	}
	CK(cuModuleGetFunction(&f, mod, "block_reduce"));
	CK(cuEventCreate(&e0, CU_EVENT_DEFAULT));
	CK(cuEventCreate(&e1, CU_EVENT_DEFAULT));
	CK(cuMemAlloc(&din, n * sizeof(float)));
	CK(cuMemAlloc(&dpart, sizeof(part)));
	CK(cuMemcpyHtoDAsync(din, in, n * sizeof(float), s));
	CK(cuEventRecord(e0, s));
	int nn = n;
	void *args[] = { &din, &dpart, &nn };
	CK(cuLaunchKernel(f, 16, 1, 1, 256, 1, 1, 0, s, args, NULL));
	CK(cuEventRecord(e1, s));
	CK(cuEventSynchronize(e1));
	CK(cuEventQuery(e1));
	CK(cuEventElapsedTime(&ms, e0, e1));
	EXPECT(ms >= 0.0f);
	CK(cuMemcpyDtoH(part, dpart, sizeof(part)));
	for (int i = 0; i < 16; i++)
		sum += part[i];
	EXPECT(fabs(sum - ref) < 1e-3);
	CK(cuEventDestroy(e0));
	CK(cuEventDestroy(e1));
	CK(cuMemFree(din));
	CK(cuMemFree(dpart));
	free(in);
}

/*
 * Downloads queued behind a kernel still running on their stream: the bytes a program reads
 * are the kernel's results, never what the memory held before (through vgpu each chunk of a
 * download is a copy into the bulk area that must be done before the chunk is handed over).
 * One warp of grid_stride over 256 Ki doubles keeps the simulator busy long enough for a
 * copy queued behind it to be handed over too early; the 2D download reads the results as
 * rows of 4 KiB, every other one, into pitched host rows.
 */
static void download_after_kernel(CUmodule mod, CUstream s)
{
	const long long n = 256 * 1024;
	const size_t bytes = (size_t)n * sizeof(double);
	double *x = malloc(bytes), *y = malloc(bytes), *rows = malloc(bytes), k = 0.5;
	CUdeviceptr dx, dy;
	CUfunction f;
	int bad = 0;

	for (long long i = 0; i < n; i++)
		x[i] = (double)(i % 1000);
	CK(cuModuleGetFunction(&f, mod, "grid_stride"));
	CK(cuMemAlloc(&dx, bytes));
	CK(cuMemAlloc(&dy, bytes));
	CK(cuMemcpyHtoD(dx, x, bytes));
	CK(cuMemsetD8(dy, 0, bytes));
	for (int round = 0; round < 2; round++) {
		double kk = round ? 4 * k : k;   /* powers of two: the product is exact, fused or not */
		void *args[] = { &dy, &dx, (void *)&n, &kk };
		CK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, s, args, NULL));
		memset(y, 0, bytes);
		memset(rows, 0, bytes);
		if (round == 0) {
			CK(cuMemcpyDtoHAsync(y, dy, bytes, s));
		} else {
			CUDA_MEMCPY2D c = { 0 };
			c.srcMemoryType = CU_MEMORYTYPE_DEVICE;
			c.srcDevice = dy;
			c.srcPitch = 8192;
			c.dstMemoryType = CU_MEMORYTYPE_HOST;
			c.dstHost = rows;
			c.dstPitch = 8192;
			c.WidthInBytes = 4096;
			c.Height = bytes / 8192;
			CK(cuMemcpy2DAsync(&c, s));
		}
		CK(cuStreamSynchronize(s));
		for (long long i = 0; i < n; i++) {
			double want = sqrt(x[i]) * kk + (double)i / 3.0;
			if (round == 0 ? y[i] != want : ((i * 8) % 8192 < 4096 && rows[i] != want))
				bad++;
		}
	}
	EXPECT(bad == 0);
	CK(cuMemFree(dx));
	CK(cuMemFree(dy));
	free(x);
	free(y);
	free(rows);
}

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUmodule ptx, fat;
	CUstream s;
	size_t len;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	CK(cuStreamCreate(&s, 0));

	/* The same kernels from PTX text (cuModuleLoadData) and from a file (cuModuleLoad, fatbin). */
	void *text = e2e_read_file(e2e_kernel_path("basic.ptx"), &len);
	CK(cuModuleLoadData(&ptx, text));
	free(text);
	CK(cuModuleLoad(&fat, e2e_kernel_path("basic.fatbin")));
	CUmodule mods[2] = { ptx, fat };
	for (int m = 0; m < 2; m++) {
		vec_add(mods[m], NULL, s);
		enumerate(mods[m], s);
		saxpy_extra(mods[m]);
		many_params(mods[m]);
		globals(mods[m]);
		reduce_timed(mods[m], s);
		download_after_kernel(mods[m], s);
		printf("module %s: ok\n", m ? "fatbin" : "ptx");
	}
	global_then_unload();
	CUfunction f;
	CK_ERR(cuModuleGetFunction(&f, ptx, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
	CK(cuModuleUnload(ptx));
	/* a module names its context: unloaded with no context current, as FFmpeg's filters do */
	CK(cuCtxPopCurrent(NULL));
	CUcontext none = ctx;
	CK(cuCtxGetCurrent(&none));
	EXPECT(none == NULL);
	CK(cuModuleUnload(fat));
	CK(cuCtxPushCurrent(ctx));
	CK(cuStreamDestroy(s));
	CK(cuCtxDestroy(ctx));
	printf("kernels: ok\n");
	return 0;
}
