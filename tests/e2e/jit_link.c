/* SPDX-License-Identifier: MIT */
/* jit_link.c — end to end: the JIT linker as numba and JIT-linking programs drive it (relocatable PTX, logs, files). */
#include "e2e.h"

#include <stdint.h>
#include <unistd.h>

static CUfunction load_kernel(CUmodule *mod, const void *image, const char *name)
{
	CUfunction f;
	CK(cuModuleLoadData(mod, image));
	CK(cuModuleGetFunction(&f, *mod, name));
	return f;
}

/* link_kernel(out, n): out[i] = link_combine(i, 7) + link_scale = 3i + 7 + 3 */
static void run_and_check(CUfunction f, CUdeviceptr d, int n)
{
	int host[256];
	void *args[] = { &d, &n };
	CK(cuLaunchKernel(f, (unsigned)(n + 63) / 64, 1, 1, 64, 1, 1, 0, NULL, args, NULL));
	CK(cuMemcpyDtoH(host, d, (size_t)n * sizeof(int)));
	for (int i = 0; i < n; i++)
		if (host[i] != 3 * i + 10) {
			fprintf(stderr, "FAIL: out[%d] = %d, expected %d\n", i, host[i], 3 * i + 10);
			exit(1);
		}
}

/* Completes the link, loads the image, runs link_kernel on n elements (checked), unloads it
 * and destroys the state. */
static void complete_and_run(CUlinkState st, CUdeviceptr d, int n)
{
	void *cubin = NULL;
	size_t size = 0;
	CUmodule m;
	CK(cuLinkComplete(st, &cubin, &size));
	run_and_check(load_kernel(&m, cubin, "link_kernel"), d, n);
	CK(cuModuleUnload(m));
	CK(cuLinkDestroy(st));
}

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr d;
	size_t alen, blen;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, 256 * sizeof(int)));
	char *a = e2e_read_file(e2e_kernel_path("link_a.rdc.ptx"), &alen);
	char *b = e2e_read_file(e2e_kernel_path("link_b.rdc.ptx"), &blen);
	const char *bpath = e2e_kernel_path("link_b.rdc.ptx");
	char bfile[4096];
	snprintf(bfile, sizeof(bfile), "%s", bpath);

	/* As numba does: logs, their sizes, the wall time, an optimisation level, verbose. */
	char info[4096], err[4096];
	memset(info, 0x55, sizeof(info));
	memset(err, 0x55, sizeof(err));
	CUjit_option opts[] = { CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
				CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_WALL_TIME, CU_JIT_LOG_VERBOSE,
				CU_JIT_OPTIMIZATION_LEVEL };
	void *vals[] = { info, (void *)(uintptr_t)sizeof(info), err, (void *)(uintptr_t)sizeof(err), NULL,
			 (void *)(uintptr_t)1, (void *)(uintptr_t)3 };
	CUlinkState st;
	CK(cuLinkCreate(7, opts, vals, &st));
	CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, a, alen + 1, "link_a.ptx", 0, NULL, NULL));
	CK(cuLinkAddFile(st, CU_JIT_INPUT_PTX, bfile, 0, NULL, NULL));
	void *cubin = NULL;
	size_t size = 0;
	CK(cuLinkComplete(st, &cubin, &size));
	EXPECT(cubin && size > 0);
	size_t info_len = (size_t)(uintptr_t)vals[1];
	EXPECT(info_len > 0 && info_len <= sizeof(info) && memchr(info, 0, sizeof(info)) != NULL);
	float ms;
	memcpy(&ms, &vals[4], sizeof(ms));
	EXPECT(ms >= 0.0f);
	printf("linked two relocatable PTX inputs (one from a file); the info log has text\n");
	/* the image is the state's until cuLinkDestroy: keep a copy to load after */
	void *copy = malloc(size);
	EXPECT(copy);
	memcpy(copy, cubin, size);
	CUmodule m1, m2;
	CUfunction f = load_kernel(&m1, cubin, "link_kernel");
	run_and_check(f, d, 200);
	CK(cuLinkDestroy(st));
	if (!e2e_real_driver_direct())   /* the driver frees it twice (glibc aborts) */
		CK_ERR(cuLinkDestroy(st), CUDA_ERROR_INVALID_HANDLE);
	/* loaded again with JIT options, as numba loads what it linked: the logs come back empty
	 * and terminated, their sizes and the wall time written back as 0 */
	char linfo[64], lerr[64];
	memset(linfo, 0x55, sizeof(linfo));
	memset(lerr, 0x55, sizeof(lerr));
	CUjit_option lopts[] = { CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
				 CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_WALL_TIME };
	void *lvals[] = { linfo, (void *)(uintptr_t)sizeof(linfo), lerr, (void *)(uintptr_t)sizeof(lerr),
			  (void *)(uintptr_t)0x77 };
	CK(cuModuleLoadDataEx(&m2, copy, 5, lopts, lvals));
	EXPECT(linfo[0] == 0 && lerr[0] == 0 && lvals[1] == NULL && lvals[3] == NULL && lvals[4] == NULL);
	CK(cuModuleGetFunction(&f, m2, "link_kernel"));
	run_and_check(f, d, 131);
	CK(cuModuleUnload(m1));
	CK(cuModuleUnload(m2));
	printf("the linked kernel calls the other input's function and reads its variable\n");

	/* A fatbin of the second half with the first half's PTX. */
	size_t flen;
	void *fat = e2e_read_file(e2e_kernel_path("link_b.rdc.fatbin"), &flen);
	CK(cuLinkCreate(0, NULL, NULL, &st));
	CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, a, alen + 1, "link_a.ptx", 0, NULL, NULL));
	CK(cuLinkAddData(st, CU_JIT_INPUT_FATBINARY, fat, flen, "link_b.fatbin", 0, NULL, NULL));
	complete_and_run(st, d, 64);
	printf("linked PTX with a fatbin\n");

	/* What goes wrong is said: a missing file, an unresolved function (its error log has
	 * text), a syntax error, an 8-byte log buffer (cut short and terminated). */
	char small[8];
	memset(err, 0, sizeof(err));
	memset(small, 0x55, sizeof(small));
	CUjit_option eopts[] = { CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_INFO_LOG_BUFFER,
				 CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES };
	void *evals[] = { err, (void *)(uintptr_t)sizeof(err), small, (void *)(uintptr_t)sizeof(small) };
	CK(cuLinkCreate(4, eopts, evals, &st));
	CK_ERR(cuLinkAddFile(st, CU_JIT_INPUT_PTX, "/nonexistent/link.ptx", 0, NULL, NULL), CUDA_ERROR_FILE_NOT_FOUND);
	CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, a, alen + 1, "link_a.ptx", 0, NULL, NULL));
	CUresult r = cuLinkComplete(st, &cubin, &size);
	EXPECT(r != CUDA_SUCCESS);
	EXPECT(strlen(err) > 0);
	EXPECT(memchr(small, 0, sizeof(small)) != NULL);
	CK(cuLinkDestroy(st));
	printf("an unresolved extern fails the link, with an error log\n");
	static const char bad[] = ".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry k(\n{\n ret;\n}\n";
	memset(err, 0, sizeof(err));
	CK(cuLinkCreate(2, eopts, evals, &st));
	r = cuLinkAddData(st, CU_JIT_INPUT_PTX, (void *)bad, sizeof(bad), "bad.ptx", 0, NULL, NULL);
	EXPECT(r != CUDA_SUCCESS);
	EXPECT(strlen(err) > 0);
	CK(cuLinkDestroy(st));
	printf("a syntax error is refused, with an error log\n");
	CK_ERR(cuLinkComplete(NULL, &cubin, &size), CUDA_ERROR_INVALID_HANDLE);

	/* The names programs built before CUDA 5.5 call are the same calls. */
	{
		CUresult (*create)(unsigned, CUjit_option *, void **, CUlinkState *) = NULL;
		CUdriverProcAddressQueryResult q;
		CK(cuGetProcAddress("cuLinkCreate", (void **)&create, 12000, CU_GET_PROC_ADDRESS_DEFAULT, &q));
		EXPECT(create != NULL);
		CK(create(0, NULL, NULL, &st));
		CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, b, blen + 1, "link_b.ptx", 0, NULL, NULL));
		CK(cuLinkComplete(st, &cubin, &size));
		CK(cuModuleLoadData(&m1, cubin));
		CK(cuModuleGetFunction(&f, m1, "link_b_kernel"));
		CK(cuModuleUnload(m1));
		CK(cuLinkDestroy(st));
	}
	printf("one input alone links\n");

	/* PTX handed over as exactly its text's bytes, no terminating NUL (PyCUDA and CuPy pass
	 * a Python bytes object and its length), beside the other half as a host object */
	CK(cuLinkCreate(0, NULL, NULL, &st));
	CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, a, alen, "link_a.ptx", 0, NULL, NULL));
	CK(cuLinkAddFile(st, CU_JIT_INPUT_OBJECT, e2e_kernel_path("link_b.rdc.o"), 0, NULL, NULL));
	complete_and_run(st, d, 100);
	printf("linked unterminated PTX with a host object's device code\n");
	/* a static library: the object with device code and one without */
	size_t llen;
	void *lib = e2e_read_file(e2e_kernel_path("liblink_b.a"), &llen);
	CK(cuLinkCreate(0, NULL, NULL, &st));
	CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, a, alen + 1, "link_a.ptx", 0, NULL, NULL));
	CK(cuLinkAddData(st, CU_JIT_INPUT_LIBRARY, lib, llen, "liblink_b.a", 0, NULL, NULL));
	complete_and_run(st, d, 256);
	/* an archive cut short, a member claiming more than there is, bytes that are neither */
	CK(cuLinkCreate(0, NULL, NULL, &st));
	EXPECT(cuLinkAddData(st, CU_JIT_INPUT_LIBRARY, lib, 100, "cut.a", 0, NULL, NULL) != CUDA_SUCCESS);
	char *forged = malloc(llen);
	EXPECT(forged);
	memcpy(forged, lib, llen);
	memcpy(forged + 8 + 48, "9999999999", 10);   /* the first member's size */
	EXPECT(cuLinkAddData(st, CU_JIT_INPUT_LIBRARY, forged, llen, "forged.a", 0, NULL, NULL) != CUDA_SUCCESS);
	EXPECT(cuLinkAddData(st, CU_JIT_INPUT_OBJECT, a, alen + 1, "text.o", 0, NULL, NULL) != CUDA_SUCCESS);
	CK(cuLinkDestroy(st));
	free(forged);
	free(lib);
	printf("linked a static library's device code; malformed archives and objects refused\n");

	/* Dynamic parallelism linked at run time with CUDA's device runtime, a static library
	 * (PyCUDA's DynamicSourceModule, CuPy's kernels that launch kernels) */
	char devrt[4096];
	const char *cuda_home = getenv("CUDA_HOME");
	snprintf(devrt, sizeof(devrt), "%s/lib64/libcudadevrt.a", cuda_home && *cuda_home ? cuda_home : "/usr/local/cuda");
	if (access(devrt, R_OK) != 0) {
		printf("skip: dynamic parallelism linked at run time: %s is not installed (the CUDA toolkit's)\n", devrt);
	} else {
		size_t plen;
		char *parent = e2e_read_file(e2e_kernel_path("dp_parent.rdc.ptx"), &plen);
		CK(cuLinkCreate(0, NULL, NULL, &st));
		CK(cuLinkAddData(st, CU_JIT_INPUT_PTX, parent, plen + 1, "dp_parent.ptx", 0, NULL, NULL));
		CK(cuLinkAddFile(st, CU_JIT_INPUT_LIBRARY, devrt, 0, NULL, NULL));
		CK(cuLinkComplete(st, &cubin, &size));
		f = load_kernel(&m1, cubin, "dp_parent");
		int host[256];
		void *args[] = { &d };
		CK(cuMemsetD32(d, 0, 256));
		CK(cuLaunchKernel(f, 1, 1, 1, 8, 1, 1, 0, NULL, args, NULL));
		CK(cuCtxSynchronize());
		CK(cuMemcpyDtoH(host, d, sizeof(host)));
		for (int i = 0; i < 256; i++)
			if (host[i] != 2 * i + 1) {
				fprintf(stderr, "FAIL: dynamic parallelism: out[%d] = %d, expected %d\n", i, host[i], 2 * i + 1);
				exit(1);
			}
		CK(cuModuleUnload(m1));
		CK(cuLinkDestroy(st));
		free(parent);
		printf("a kernel launching kernels, linked at run time with the device runtime library\n");
	}
	free(copy);
	free(fat);
	free(a);
	free(b);
	CK(cuMemFree(d));
	printf("jit_link: all checks passed\n");
	return 0;
}
