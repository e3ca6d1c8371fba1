/* SPDX-License-Identifier: MIT */
/* zone_stream.c — a zone program that keeps bulk copies in flight (host -> device -> host, verified) until it is stopped, so a test can end its domain in the middle of a transfer; run as zone_crash, it SIGKILLs itself mid-transfer instead. */
#include "../e2e/e2e.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

/* zone_crash: the process dies without a word to the proxy (no BYE, no clean close), as a
 * crashing application would, while copies are in flight; its guest lives on. */
static void *crash_later(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	printf("zone_crash: SIGKILL to myself mid-transfer\n");
	fflush(stdout);
	kill(getpid(), SIGKILL);
	return NULL;
}

int main(int argc, char **argv)
{
	size_t n = 16u << 20;
	long rounds = -1; /* forever */
	unsigned char *src, *dst;
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr d;

	const char *me = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		printf("usage: %s [ROUNDS]\n"
		       "Copies 16 MiB host -> device -> host and verifies it, ROUNDS times (default: until\n"
		       "killed). Prints \"NAME: streaming\" once the first round is done. Run as\n"
		       "zone_crash, it SIGKILLs itself 0.3 s after that, in the middle of a copy.\n", argv[0]);
		return 0;
	}
	if (argc > 1)
		rounds = strtol(argv[1], NULL, 10);
	src = malloc(n);
	dst = malloc(n);
	EXPECT(src && dst);
	for (size_t i = 0; i < n; i++)
		src[i] = (unsigned char)(i * 2654435761u >> 13);
	CK(cuInit(0));
	CK(cuDeviceGet(&dev, 0));
	CK(cuDevicePrimaryCtxRetain(&ctx, dev));
	CK(cuCtxSetCurrent(ctx));
	CK(cuMemAlloc(&d, n));
	for (long r = 0; rounds < 0 || r < rounds; r++) {
		src[r % n] ^= 0x5a; /* every round moves different bytes */
		CK(cuMemcpyHtoD(d, src, n));
		memset(dst, 0, n);
		CK(cuMemcpyDtoH(dst, d, n));
		EXPECT(memcmp(src, dst, n) == 0);
		if (r == 0) {
			printf("%s: streaming\n", me);
			fflush(stdout);
			pthread_t t;
			if (!strcmp(me, "zone_crash"))
				EXPECT(pthread_create(&t, NULL, crash_later, NULL) == 0);
		}
	}
	CK(cuMemFree(d));
	CK(cuDevicePrimaryCtxRelease(dev));
	printf("zone_stream: %ld rounds of %zu bytes verified\n", rounds, n);
	return 0;
}
