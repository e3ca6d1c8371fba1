// SPDX-License-Identifier: MIT
// peer_access — two GPUs of one program, as the CUDA samples' simpleP2P and single-node
// data-parallel training use them: cudaDeviceCanAccessPeer, cudaDeviceGetP2PAttribute,
// cudaMemcpyPeer and cudaMemcpyPeerAsync between the devices' memory, cudaMemcpy with
// cudaMemcpyDefault across devices (unified addressing), cudaMemcpy3DPeer,
// cudaDeviceEnablePeerAccess and a kernel on one device reading and writing the other's memory,
// the answers for enabling twice and disabling what is not enabled. Every result is checked on
// the host. With one device it checks what one device answers (no peer of itself, copies
// "between peers" on the same device).
#include <cstring>
#include <vector>
#include "rt.h"

__global__ void fill(float *p, int n, float base)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] = base + (float)i;
}

/* On the device it runs on, reads the peer's `src` and writes into the peer's `dst`. */
__global__ void scale_across(const float *src, float *dst, int n, float k)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dst[i] = src[i] * k;
}

static void expect_values(const std::vector<float> &got, float base, float k, const char *what)
{
	for (size_t i = 0; i < got.size(); i++) {
		float want = (base + (float)i) * k;
		EXPECT(got[i] == want, "%s: element %zu is %g, want %g", what, i, got[i], want);
	}
	printf("%s: %zu values verified\n", what, got.size());
}

static void one_device(void)
{
	const int n = 1 << 16;
	int can = -1;
	CHECK(cudaDeviceCanAccessPeer(&can, 0, 0));
	EXPECT(can == 0, "a device is not its own peer (got %d)", can);
	CHECK(cudaSetDevice(0));
	cudaError_t e = cudaDeviceEnablePeerAccess(0, 0);
	EXPECT(e == cudaErrorInvalidDevice, "enabling access to itself: got %s", cudaGetErrorName(e));
	(void)cudaGetLastError();
	float *a, *b;
	CHECK(cudaMalloc(&a, n * sizeof(float)));
	CHECK(cudaMalloc(&b, n * sizeof(float)));
	fill<<<(n + 255) / 256, 256>>>(a, n, 1.0f);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpyPeer(b, 0, a, 0, n * sizeof(float)));
	std::vector<float> h(n);
	CHECK(cudaMemcpy(h.data(), b, n * sizeof(float), cudaMemcpyDeviceToHost));
	expect_values(h, 1.0f, 1.0f, "cudaMemcpyPeer on one device");
	CHECK(cudaFree(a));
	CHECK(cudaFree(b));
}

int main()
{
	int count = 0;
	CHECK(cudaGetDeviceCount(&count));
	if (count < 2) {
		printf("one device: the peer checks of two devices need two\n");
		one_device();
		printf("peer_access: done\n");
		return 0;
	}
	printf("two devices or more: devices 0 and 1\n");
	int can01 = -1, can10 = -1;
	CHECK(cudaDeviceCanAccessPeer(&can01, 0, 1));
	CHECK(cudaDeviceCanAccessPeer(&can10, 1, 0));
	EXPECT(can01 == can10, "peer access one way only (%d, %d)", can01, can10);
	int perf = -1, atomics = -1, access = -1;
	CHECK(cudaDeviceGetP2PAttribute(&access, cudaDevP2PAttrAccessSupported, 0, 1));
	CHECK(cudaDeviceGetP2PAttribute(&perf, cudaDevP2PAttrPerformanceRank, 0, 1));
	CHECK(cudaDeviceGetP2PAttribute(&atomics, cudaDevP2PAttrNativeAtomicSupported, 0, 1));
	EXPECT(access == can01, "the access attribute (%d) is what cudaDeviceCanAccessPeer says (%d)", access, can01);
	EXPECT(perf >= 0 && (atomics == 0 || atomics == 1), "performance rank %d, native atomics %d", perf, atomics);
	cudaError_t e = cudaDeviceGetP2PAttribute(&access, cudaDevP2PAttrAccessSupported, 0, count);
	EXPECT(e == cudaErrorInvalidDevice, "a device past the last: got %s", cudaGetErrorName(e));
	(void)cudaGetLastError();

	const int n = 1 << 18; /* 1 MiB of floats */
	const size_t bytes = n * sizeof(float);
	float *a0, *b1, *c1;
	CHECK(cudaSetDevice(0));
	CHECK(cudaMalloc(&a0, bytes));
	fill<<<(n + 255) / 256, 256>>>(a0, n, 3.0f);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaSetDevice(1));
	CHECK(cudaMalloc(&b1, bytes));
	CHECK(cudaMalloc(&c1, bytes));
	std::vector<float> h(n);

	/* copies between the devices, with or without peer access */
	CHECK(cudaMemcpyPeer(b1, 1, a0, 0, bytes));
	CHECK(cudaMemcpy(h.data(), b1, bytes, cudaMemcpyDeviceToHost));
	expect_values(h, 3.0f, 1.0f, "cudaMemcpyPeer 0 -> 1");

	cudaStream_t s1;
	CHECK(cudaStreamCreate(&s1));
	CHECK(cudaMemsetAsync(c1, 0, bytes, s1));
	CHECK(cudaMemcpyPeerAsync(c1, 1, a0, 0, bytes / 2, s1));
	CHECK(cudaMemcpyPeerAsync(c1 + n / 2, 1, a0 + n / 2, 0, bytes / 2, s1));
	CHECK(cudaStreamSynchronize(s1));
	CHECK(cudaMemcpy(h.data(), c1, bytes, cudaMemcpyDeviceToHost));
	expect_values(h, 3.0f, 1.0f, "cudaMemcpyPeerAsync 0 -> 1 in two halves");

	CHECK(cudaMemset(c1, 0, bytes));
	CHECK(cudaMemcpy(c1, a0, bytes, cudaMemcpyDefault));
	CHECK(cudaMemcpy(h.data(), c1, bytes, cudaMemcpyDefault));
	expect_values(h, 3.0f, 1.0f, "cudaMemcpyDefault 0 -> 1");

	/* a 3D peer copy: a 64 x 16 x 4 box of floats from device 1 back into device 0 */
	CHECK(cudaSetDevice(1));
	fill<<<(n + 255) / 256, 256>>>(c1, n, 5.0f);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	CHECK(cudaSetDevice(0));
	CHECK(cudaMemset(a0, 0, bytes));
	cudaMemcpy3DPeerParms p;
	memset(&p, 0, sizeof p);
	p.srcPtr = make_cudaPitchedPtr(c1, 64 * sizeof(float), 64, 16);
	p.srcDevice = 1;
	p.dstPtr = make_cudaPitchedPtr(a0, 64 * sizeof(float), 64, 16);
	p.dstDevice = 0;
	p.extent = make_cudaExtent(64 * sizeof(float), 16, 4);
	CHECK(cudaMemcpy3DPeer(&p));
	std::vector<float> box(64 * 16 * 4);
	CHECK(cudaMemcpy(box.data(), a0, box.size() * sizeof(float), cudaMemcpyDeviceToHost));
	expect_values(box, 5.0f, 1.0f, "cudaMemcpy3DPeer 1 -> 0");
	fill<<<(n + 255) / 256, 256>>>(a0, n, 3.0f);
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());

	if (!can01) {
		printf("the devices are not peers: direct access not checked\n");
	} else {
		/* device 1's kernels reach device 0's memory once access is enabled */
		CHECK(cudaSetDevice(1));
		CHECK(cudaDeviceEnablePeerAccess(0, 0));
		e = cudaDeviceEnablePeerAccess(0, 0);
		EXPECT(e == cudaErrorPeerAccessAlreadyEnabled, "enabling twice: got %s", cudaGetErrorName(e));
		(void)cudaGetLastError();
		scale_across<<<(n + 255) / 256, 256, 0, s1>>>(a0, c1, n, 2.0f);
		CHECK(cudaGetLastError());
		CHECK(cudaStreamSynchronize(s1));
		CHECK(cudaMemcpy(h.data(), c1, bytes, cudaMemcpyDeviceToHost));
		expect_values(h, 3.0f, 2.0f, "device 1's kernel reading device 0's memory");
		/* and write into it */
		scale_across<<<(n + 255) / 256, 256, 0, s1>>>(c1, a0, n, 0.5f);
		CHECK(cudaGetLastError());
		CHECK(cudaStreamSynchronize(s1));
		CHECK(cudaSetDevice(0));
		CHECK(cudaMemcpy(h.data(), a0, bytes, cudaMemcpyDeviceToHost));
		expect_values(h, 3.0f, 1.0f, "device 1's kernel writing device 0's memory");
		CHECK(cudaSetDevice(1));
		CHECK(cudaDeviceDisablePeerAccess(0));
		e = cudaDeviceDisablePeerAccess(0);
		EXPECT(e == cudaErrorPeerAccessNotEnabled, "disabling twice: got %s", cudaGetErrorName(e));
		(void)cudaGetLastError();
		printf("peer access enabled, used, disabled\n");
	}

	CHECK(cudaStreamDestroy(s1));
	CHECK(cudaFree(b1));
	CHECK(cudaFree(c1));
	CHECK(cudaSetDevice(0));
	CHECK(cudaFree(a0));
	printf("peer_access: done\n");
	return 0;
}
