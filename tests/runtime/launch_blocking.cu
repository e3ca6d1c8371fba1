// SPDX-License-Identifier: MIT
// launch_blocking — CUDA_LAUNCH_BLOCKING=1 (what PyTorch tells a user to set on an asynchronous
// CUDA error): each kernel launch returns once the kernel ran, with its error; a launch into a
// stream capture is recorded and returns at once. The program runs itself again with the
// variable set (with two more driver settings), then checks the ordinary asynchronous case.
#include "rt.h"

#include <cstring>
#include <sys/wait.h>
#include <unistd.h>

__global__ void wild(int *p) { p[threadIdx.x] = 1; }
__global__ void put(volatile int *p, int v) { *p = v; }

static void blocking()
{
	int *h, *dh;
	CHECK(cudaHostAlloc(&h, sizeof(int), cudaHostAllocMapped));
	CHECK(cudaHostGetDevicePointer(&dh, h, 0));
	*(volatile int *)h = 0;
	put<<<1, 1>>>(dh, 42);
	CHECK(cudaGetLastError());
	EXPECT(*(volatile int *)h == 42, "the kernel had not run when its launch returned (%d)", *(volatile int *)h);

	cudaStream_t s;
	cudaGraph_t g;
	cudaGraphExec_t x;
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	*(volatile int *)h = 0;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
	put<<<1, 1, 0, s>>>(dh, 7);
	CHECK(cudaGetLastError());
	EXPECT(*(volatile int *)h == 0, "a kernel launched into a capture ran (%d)", *(volatile int *)h);
	CHECK(cudaStreamEndCapture(s, &g));
	CHECK(cudaGraphInstantiate(&x, g, 0));
	CHECK(cudaGraphLaunch(x, s));
	CHECK(cudaStreamSynchronize(s));
	EXPECT(*(volatile int *)h == 7, "the captured kernel did not run in its graph (%d)", *(volatile int *)h);
	CHECK(cudaGraphExecDestroy(x));
	CHECK(cudaGraphDestroy(g));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaFreeHost(h));

	wild<<<1, 1>>>((int *)0x10);
	cudaError_t e = cudaGetLastError();
	EXPECT(e == cudaErrorIllegalAddress, "the faulting kernel's launch returned %s", cudaGetErrorName(e));
	printf("blocking: a kernel had run when its launch returned, one launched into a capture had not, "
	       "a faulting one's launch returned %s\n", cudaGetErrorName(e));
}

int main()
{
	if (getenv("CUDA_LAUNCH_BLOCKING")) {
		blocking();
		return 0;
	}
	/* the same program with the driver settings, in a process of its own (each its own zone) */
	fflush(stdout);
	pid_t pid = fork();
	EXPECT(pid >= 0, "fork failed");
	if (pid == 0) {
		setenv("CUDA_LAUNCH_BLOCKING", "1", 1);
		setenv("CUDA_DEVICE_MAX_CONNECTIONS", "1", 1);
		setenv("CUDA_MODULE_LOADING", "EAGER", 1);
		execl("/proc/self/exe", "launch_blocking", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	EXPECT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the blocking run failed (status 0x%x)",
	       st);

	/* without: the launch returns at once, the fault surfaces at the next synchronisation */
	wild<<<1, 1>>>((int *)0x10);
	cudaError_t at_launch = cudaGetLastError();
	EXPECT(at_launch == cudaSuccess, "an asynchronous launch returned %s", cudaGetErrorName(at_launch));
	cudaError_t at_sync = cudaDeviceSynchronize();
	EXPECT(at_sync == cudaErrorIllegalAddress, "synchronize returned %s", cudaGetErrorName(at_sync));
	printf("not blocking: the launch returned %s, the synchronisation %s\n", cudaGetErrorName(at_launch),
	       cudaGetErrorName(at_sync));
	return 0;
}
