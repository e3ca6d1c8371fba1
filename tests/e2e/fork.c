/* SPDX-License-Identifier: MIT */
/* fork.c — end to end: a child forked after cuInit must call cuInit itself, then works beside its parent
 * (through vgpu and on the simulator; the NVIDIA driver refuses CUDA in such a child). */
#include "e2e.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Allocate, copy a pattern through device memory and back, check it: 4 KiB, then 3 MiB and
 * a few bytes (large enough for libvgpu to split between helper threads where it has them,
 * which a child forked after they started does not inherit). */
static void round_trip(unsigned char seed)
{
	static const size_t sizes[] = { 4096, (3u << 20) + 5 };
	for (unsigned k = 0; k < 2; k++) {
		size_t n = sizes[k];
		unsigned char *in = malloc(n), *out = malloc(n);
		CUdeviceptr d;
		EXPECT(in && out);
		for (size_t i = 0; i < n; i++)
			in[i] = (unsigned char)(i * seed + (i >> 12));
		memset(out, 0, n);
		CK(cuMemAlloc(&d, n));
		CK(cuMemcpyHtoD(d, in, n));
		CK(cuMemcpyDtoH(out, d, n));
		EXPECT(memcmp(in, out, n) == 0);
		CK(cuMemFree(d));
		free(in);
		free(out);
	}
}

int main(void)
{
	CUdevice dev;
	CUcontext ctx;
	int st;

	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuCtxCreate(&ctx, NULL, 0, dev));
	round_trip(3);

	pid_t p = fork();
	EXPECT(p >= 0);
	if (p == 0) {
		int n = 0;
		/* Through vgpu the parent's connection is not inherited: CUDA needs cuInit again. */
		if (getenv("VGPU_E2E_PROXY"))
			CK_ERR(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
		CUresult r = cuInit(0);
		/* The NVIDIA driver refuses CUDA in a child forked after the parent initialised it
		 * (seen on an H200, driver 580); vgpu gives the child a connection of its own. */
		if (r == CUDA_ERROR_NOT_INITIALIZED && e2e_real_driver_direct())
			_exit(0);
		CK(r);
		CK(cuDeviceGetCount(&n));
		EXPECT(n >= 1);
		CUcontext c2;
		CK(cuCtxCreate(&c2, NULL, 0, dev));
		round_trip(5);
		CK(cuCtxDestroy(c2));
		_exit(0);
	}
	round_trip(7); /* the parent keeps working while the child runs */
	EXPECT(waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	round_trip(9);
	CK(cuCtxDestroy(ctx));
	printf("fork: ok\n");
	return 0;
}
