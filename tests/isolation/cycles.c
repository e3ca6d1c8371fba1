/* SPDX-License-Identifier: MIT */
/* cycles.c — N zones connect, allocate, launch nothing, and disconnect, one after another (leak check driver). */
#include "../e2e/e2e.h"

#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;

	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p == 0) {
			CUdevice dev;
			CUcontext ctx;
			CUdeviceptr d;
			CUstream s;
			CK(cuInit(0));
			CK(cuDeviceGet(&dev, 0));
			CK(cuCtxCreate(&ctx, NULL, 0, dev));
			CK(cuMemAlloc(&d, 1u << 20));
			CK(cuStreamCreate(&s, 0));
			/* Half the zones leave without cleaning up: the proxy must. */
			if (i % 2) {
				CK(cuStreamDestroy(s));
				CK(cuMemFree(d));
				CK(cuCtxDestroy(ctx));
			}
			_exit(0);
		}
		int st;
		if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "FAIL: zone %d exited with status 0x%x\n", i, st);
			return 1;
		}
	}
	printf("%d zone connect/disconnect cycles: ok\n", n);
	return 0;
}
