// SPDX-License-Identifier: MIT
// launch_attrs — cudaLaunchKernelEx with the launch attributes libraries and programs pass:
// ignored entries, the memory synchronisation domain and its map, an access policy window
// over the kernel's own buffer, a preferred shared-memory carveout, programmatic stream
// serialization, a launch completion event and a programmatic event that another stream
// waits for; the same hints given in the kernel through libcu++ (an annotated pointer with the
// persisting property, apply_access_property, discard_memory of a scratch area), and the
// profiler's start and stop around it all. Every kernel's result is checked on the host.
#include <cuda/annotated_ptr>
#include <cuda_profiler_api.h>
#include "rt.h"

/* v[i] = v[i] * k + 1 through a persisting annotated pointer; scratch is discarded after use */
__global__ void scale_annotated(float *v, int n, float k, float *scratch)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	cuda::annotated_ptr<float, cuda::access_property::persisting> p(v);
	if (i < n) {
		scratch[i] = p[i] * k;
		p[i] = scratch[i] + 1.0f;
	}
	if (i == 0) {
		cuda::apply_access_property(v, n * sizeof(float), cuda::access_property::normal{});
		cuda::discard_memory(scratch, n * sizeof(float));
	}
}

__global__ void scale(float *v, int n, float k)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		v[i] = v[i] * k + 1.0f;
}

__global__ void add_from(float *dst, const float *src, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dst[i] += src[i];
}

static void launch(const char *what, cudaStream_t s, float *v, int n, float k, cudaLaunchAttribute *at, int nat)
{
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = dim3((n + 127) / 128);
	cfg.blockDim = dim3(128);
	cfg.stream = s;
	cfg.attrs = at;
	cfg.numAttrs = nat;
	cudaError_t e = cudaLaunchKernelEx(&cfg, scale, v, n, k);
	EXPECT(e == cudaSuccess, "%s: cudaLaunchKernelEx returned %s", what, cudaGetErrorName(e));
}

int main()
{
	const int n = 4096;
	float *v, *w, host[n], want[n];
	CHECK(cudaMalloc(&v, n * sizeof(float)));
	CHECK(cudaMalloc(&w, n * sizeof(float)));
	for (int i = 0; i < n; i++)
		host[i] = want[i] = (float)(i % 100);
	CHECK(cudaMemcpy(v, host, sizeof(host), cudaMemcpyHostToDevice));
	cudaStream_t s, s2;
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));

	cudaLaunchAttribute at[4] = {};
	int rounds = 0;
	auto expect_round = [&](float k) {
		for (int i = 0; i < n; i++)
			want[i] = want[i] * k + 1.0f;
		rounds++;
	};

	at[0].id = cudaLaunchAttributeIgnore;
	at[1].id = cudaLaunchAttributeMemSyncDomain;
	at[1].val.memSyncDomain = cudaLaunchMemSyncDomainRemote;
	at[2].id = cudaLaunchAttributeMemSyncDomainMap;
	at[2].val.memSyncDomainMap.default_ = 0;
	at[2].val.memSyncDomainMap.remote = 1;
	launch("ignored entry, memory sync domain and map", s, v, n, 2.0f, at, 3);
	expect_round(2.0f);

	at[0] = {};
	at[0].id = cudaLaunchAttributeAccessPolicyWindow;
	at[0].val.accessPolicyWindow.base_ptr = v;
	at[0].val.accessPolicyWindow.num_bytes = n * sizeof(float);
	at[0].val.accessPolicyWindow.hitRatio = 0.5f;
	at[0].val.accessPolicyWindow.hitProp = cudaAccessPropertyPersisting;
	at[0].val.accessPolicyWindow.missProp = cudaAccessPropertyStreaming;
	at[1] = {};
	at[1].id = cudaLaunchAttributePreferredSharedMemoryCarveout;
	at[1].val.sharedMemCarveout = 50;
	at[2] = {};
	at[2].id = cudaLaunchAttributeProgrammaticStreamSerialization;
	at[2].val.programmaticStreamSerializationAllowed = 1;
	launch("access policy window, carveout, programmatic serialization", s, v, n, 0.5f, at, 3);
	expect_round(0.5f);

	// A completion event and a programmatic event; a second stream waits for each and adds.
	cudaEvent_t done, prog;
	CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
	CHECK(cudaEventCreateWithFlags(&prog, cudaEventDisableTiming));
	CHECK(cudaMemset(w, 0, n * sizeof(float)));
	at[0] = {};
	at[0].id = cudaLaunchAttributeLaunchCompletionEvent;
	at[0].val.launchCompletionEvent.event = done;
	at[0].val.launchCompletionEvent.flags = 0;
	launch("launch completion event", s, v, n, 3.0f, at, 1);
	expect_round(3.0f);
	CHECK(cudaStreamWaitEvent(s2, done, 0));
	add_from<<<(n + 127) / 128, 128, 0, s2>>>(w, v, n);
	CHECK(cudaEventSynchronize(done));
	CHECK(cudaStreamSynchronize(s2));
	float got[n];
	CHECK(cudaMemcpy(got, w, sizeof(got), cudaMemcpyDeviceToHost));
	VERIFY(got, want, n, 1e-4, "a stream that waited for the completion event");

	at[0] = {};
	at[0].id = cudaLaunchAttributeProgrammaticEvent;
	at[0].val.programmaticEvent.event = prog;
	at[0].val.programmaticEvent.triggerAtBlockStart = 0;
	launch("programmatic event", s, v, n, 1.0f, at, 1);
	expect_round(1.0f);
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaEventSynchronize(prog));

	CHECK(cudaMemcpy(got, v, sizeof(got), cudaMemcpyDeviceToHost));
	VERIFY(got, want, n, 1e-4, "the buffer after every attributed launch");
	printf("launch_attrs: %d launches with attributes verified\n", rounds);

	/* the in-kernel hints change nothing but where bytes live; the profiler's range is a no-op
	 * without a profiler attached, and succeeds */
	CHECK(cudaProfilerStart());
	scale_annotated<<<(n + 127) / 128, 128, 0, s>>>(v, n, 0.5f, w);
	CHECK(cudaGetLastError());
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaProfilerStop());
	for (int i = 0; i < n; i++)
		want[i] = want[i] * 0.5f + 1.0f;
	CHECK(cudaMemcpy(got, v, sizeof(got), cudaMemcpyDeviceToHost));
	VERIFY(got, want, n, 1e-4, "a kernel with libcu++'s access properties, inside a profiler range");
	CHECK(cudaEventDestroy(done));
	CHECK(cudaEventDestroy(prog));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaStreamDestroy(s2));
	CHECK(cudaFree(v));
	CHECK(cudaFree(w));
	return 0;
}
