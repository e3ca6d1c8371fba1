/* SPDX-License-Identifier: MIT */
/* cuda_check.c — the workload of the Kubernetes test's pods: a driver-API program that finds
 * libcuda.so.1 at run time (dlopen, so that a container without a CUDA driver says so instead
 * of failing to start), allocates BYTES of device memory, copies a pattern host -> device ->
 * device -> host, verifies it and prints one result line:
 *   cuda_check: OK bytes=N checksum=X device="NAME" nvml="NAME"   (exit 0)
 *   cuda_check: no CUDA driver: <dlerror>      (exit 3)
 *   cuda_check: <call> failed: <error name>    (exit 4)
 *   cuda_check: data mismatch at byte N        (exit 5)
 *   cuda_check: no NVML / NVML ...             (exit 7: libnvidia-ml.so.1 missing, failing,
 *                                              or naming the device otherwise than the driver)
 * With a second argument HOLD_FILE it keeps its memory after the OK line until that file
 * exists (at most 120 s), so that a test can look at the live zone.
 * No CUDA library is linked or shipped in the image: libvgpu is what the pod is given. */
#include <cuda.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x) /* expands cuMemAlloc to the versioned symbol cuda.h maps it to */

static void *lib;
#define FN(f) static __typeof__(&f) p_##f
FN(cuInit); FN(cuDeviceGet); FN(cuDevicePrimaryCtxRetain); FN(cuDevicePrimaryCtxRelease); FN(cuCtxSetCurrent); FN(cuMemAlloc); FN(cuMemFree);
FN(cuMemcpyHtoD); FN(cuMemcpyDtoD); FN(cuMemcpyDtoH); FN(cuGetErrorName); FN(cuDeviceGetName);

static void *sym(const char *name)
{
	void *p = dlsym(lib, name);
	if (!p) {
		printf("cuda_check: libcuda.so.1 has no %s\n", name);
		exit(3);
	}
	return p;
}
#define LOAD(f) (p_##f = (__typeof__(&f))sym(STR(f)))

static void check(CUresult r, const char *what)
{
	const char *name = NULL;
	if (r == CUDA_SUCCESS)
		return;
	if (p_cuGetErrorName)
		p_cuGetErrorName(r, &name);
	printf("cuda_check: %s failed: %s (%d)\n", what, name ? name : "?", (int)r);
	fflush(stdout);
	exit(4);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : (8u << 20);
	const char *hold = argc > 2 ? argv[2] : NULL;
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr a, b;
	char name[256] = "";
	unsigned char *src, *dst;
	uint64_t sum = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	lib = dlopen("libcuda.so.1", RTLD_NOW);
	if (!lib) {
		printf("cuda_check: no CUDA driver: %s\n", dlerror());
		return 3;
	}
	LOAD(cuInit); LOAD(cuDeviceGet); LOAD(cuDevicePrimaryCtxRetain); LOAD(cuDevicePrimaryCtxRelease);
	LOAD(cuCtxSetCurrent); LOAD(cuMemAlloc);
	LOAD(cuMemFree); LOAD(cuMemcpyHtoD); LOAD(cuMemcpyDtoD); LOAD(cuMemcpyDtoH);
	LOAD(cuGetErrorName); LOAD(cuDeviceGetName);

	check(p_cuInit(0), "cuInit");
	check(p_cuDeviceGet(&dev, 0), "cuDeviceGet");
	check(p_cuDeviceGetName(name, sizeof(name), dev), "cuDeviceGetName");
	check(p_cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
	check(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
	check(p_cuMemAlloc(&a, n), "cuMemAlloc");
	check(p_cuMemAlloc(&b, n), "cuMemAlloc");
	src = malloc(n);
	dst = malloc(n);
	if (!src || !dst) {
		printf("cuda_check: out of host memory\n");
		return 6;
	}
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned char)(i * 131u + (i >> 12) * 7u + 1u);
	memset(dst, 0, n);
	check(p_cuMemcpyHtoD(a, src, n), "cuMemcpyHtoD");
	check(p_cuMemcpyDtoD(b, a, n), "cuMemcpyDtoD");
	check(p_cuMemcpyDtoH(dst, b, n), "cuMemcpyDtoH");
	for (size_t i = 0; i < n; i++) {
		if (dst[i] != src[i]) {
			printf("cuda_check: data mismatch at byte %zu\n", i);
			return 5;
		}
		sum = sum * 31 + dst[i];
	}
	/* NVML, as monitoring code and NCCL open it: the pod is given vgpu's beside libvgpu */
	char nvname[96] = "";
	void *nv = dlopen("libnvidia-ml.so.1", RTLD_NOW), *h = NULL;
	if (!nv) {
		printf("cuda_check: no NVML: %s\n", dlerror());
		return 7;
	}
	int (*nv_init)(void) = (int (*)(void))dlsym(nv, "nvmlInit_v2");
	int (*nv_dev)(unsigned, void **) = (int (*)(unsigned, void **))dlsym(nv, "nvmlDeviceGetHandleByIndex_v2");
	int (*nv_name)(void *, char *, unsigned) = (int (*)(void *, char *, unsigned))dlsym(nv, "nvmlDeviceGetName");
	int e = !nv_init || !nv_dev || !nv_name ? -1 : nv_init();
	if (!e)
		e = nv_dev(0, &h);
	if (!e)
		e = nv_name(h, nvname, sizeof(nvname));
	if (e || strcmp(nvname, name)) {
		printf("cuda_check: NVML failed (%d) or names the device \"%s\"\n", e, nvname);
		return 7;
	}
	/* the unversioned name (programs that dlopen it, a link with -lcuda) is the same library,
	 * and Triton is told where it lies */
	void *unv = dlopen("libcuda.so", RTLD_NOW);
	if (!unv || dlsym(unv, "cuInit") != (void *)p_cuInit) {
		printf("cuda_check: libcuda.so is %s\n", unv ? "another library than libcuda.so.1" : dlerror());
		return 8;
	}
	const char *tdir = getenv("TRITON_LIBCUDA_PATH");
	char tpath[4096];
	snprintf(tpath, sizeof(tpath), "%s/libcuda.so.1", tdir ? tdir : "(unset)");
	if (!tdir || access(tpath, R_OK) != 0) {
		printf("cuda_check: TRITON_LIBCUDA_PATH does not name libvgpu's directory: %s\n", tpath);
		return 8;
	}
	printf("cuda_check: OK bytes=%zu checksum=%016llx device=\"%s\" nvml=\"%s\"\n", n, (unsigned long long)sum, name,
	       nvname);
	if (hold) {
		for (int i = 0; i < 1200 && access(hold, F_OK) != 0; i++) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	check(p_cuMemFree(a), "cuMemFree");
	check(p_cuMemFree(b), "cuMemFree");
	check(p_cuDevicePrimaryCtxRelease(dev), "cuDevicePrimaryCtxRelease");
	free(src);
	free(dst);
	return 0;
}
