// SPDX-License-Identifier: MIT
// managed_globals — __managed__ variables as programs use them: the host sets them before
// its first CUDA call, kernels read and update them by name, the host reads them after a
// synchronisation and changes them between launches; their address passed to a kernel as a
// pointer; copies to and from them; an initialised one; atomics from many blocks; streams
// and events as the synchronisation; pointer attributes; a __device__ variable beside them
// that the host's changes must not touch. Every result is checked on the host.
#include "rt.h"

#include <cstring>

struct stats {
	int launches;
	float scale;
	long long total;
};

__managed__ int counter;
__managed__ float vals[1000];
__managed__ stats st;
__managed__ int preset = 42;
__managed__ unsigned char tiny[3];
__device__ int beside[64];   // not managed: only kernels and symbol copies reach it

__global__ void count_up(int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		atomicAdd(&counter, 1);
}

// vals[i] = vals[i] * st.scale + preset; each launch is counted, its sum kept.
__global__ void scale_vals(int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) {
		vals[i] = vals[i] * st.scale + preset;
		atomicAdd((unsigned long long *)&st.total, (unsigned long long)(long long)vals[i]);
	}
	if (i == 0) {
		st.launches++;
		for (int k = 0; k < 64; k++)
			beside[k] += k;
	}
}

// The same work through a pointer: the host's address of a __managed__ variable is the kernels'.
__global__ void add_through(float *p, int n, float k)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] += k;
}

__global__ void bump_tiny()
{
	tiny[threadIdx.x] += (unsigned char)(threadIdx.x + 1);
}

int main()
{
	const int n = 1000;
	// Before any CUDA call: the first access initialises the runtime and the variables.
	EXPECT(preset == 42, "preset is %d before any launch, expected its initial value 42", preset);
	EXPECT(counter == 0, "counter starts at %d", counter);
	for (int i = 0; i < n; i++)
		vals[i] = (float)(i % 97);
	st.scale = 2.0f;
	counter = 7;

	float want[n];
	for (int i = 0; i < n; i++)
		want[i] = (float)(i % 97);

	// Rounds: the host changes the variables between launches, kernels update them.
	long long total_want = 0;
	for (int round = 0; round < 5; round++) {
		count_up<<<(3000 + 255) / 256, 256>>>(3000);
		scale_vals<<<(n + 127) / 128, 128>>>(n);
		CHECK(cudaGetLastError());
		CHECK(cudaDeviceSynchronize());
		for (int i = 0; i < n; i++) {
			want[i] = want[i] * st.scale + (float)preset;
			total_want += (long long)want[i];
		}
		// st.scale is the value the host set for this round (what the kernel used)
		EXPECT(counter == 7 + 3000 * (round + 1) - round, "round %d: counter is %d", round, counter);
		EXPECT(st.launches == round + 1, "round %d: the kernel counted %d launches", round, st.launches);
		EXPECT(st.total == total_want, "round %d: total %lld, expected %lld", round, st.total, total_want);
		VERIFY(vals, want, n, 0, "vals after a round");
		// host changes for the next round: a new scale, one less on the counter, a new preset
		st.scale = round % 2 ? 0.5f : 1.5f;
		counter -= 1;
		preset += round;
	}

	// The variable's address as a kernel argument, on a stream, synchronised by the stream.
	cudaStream_t s;
	CHECK(cudaStreamCreate(&s));
	add_through<<<(n + 255) / 256, 256, 0, s>>>(vals, n, 3.0f);
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < n; i++)
		want[i] += 3.0f;
	VERIFY(vals, want, n, 0, "vals through the variable's address");

	// An event as the synchronisation; host writes to single bytes, kernels to their neighbours.
	tiny[0] = 10;
	tiny[2] = 200;
	cudaEvent_t ev;
	CHECK(cudaEventCreate(&ev));
	bump_tiny<<<1, 3, 0, s>>>();
	CHECK(cudaEventRecord(ev, s));
	CHECK(cudaEventSynchronize(ev));
	EXPECT(tiny[0] == 11 && tiny[1] == 2 && tiny[2] == 203, "tiny is %d %d %d, expected 11 2 203", tiny[0],
	       tiny[1], tiny[2]);

	// Copies: the variable as a source and as a destination, with cudaMemcpyDefault.
	float *d = nullptr, back[n];
	CHECK(cudaMalloc(&d, n * sizeof(float)));
	CHECK(cudaMemcpy(d, vals, n * sizeof(float), cudaMemcpyDefault));
	CHECK(cudaMemcpy(back, d, n * sizeof(float), cudaMemcpyDeviceToHost));
	VERIFY(back, want, n, 0, "a copy out of vals");
	for (int i = 0; i < n; i++)
		back[i] = (float)(n - i);
	CHECK(cudaMemcpy(d, back, n * sizeof(float), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(vals, d, n * sizeof(float), cudaMemcpyDefault));
	VERIFY(vals, back, n, 0, "vals after a copy into it");
	CHECK(cudaMemcpyToSymbol(vals, want, 16 * sizeof(float)));
	EXPECT(vals[15] == want[15] && vals[16] == back[16], "vals[15..16] are %g %g after cudaMemcpyToSymbol",
	       vals[15], vals[16]);

	// The __device__ variable next to them kept every kernel's update (5 launches add k each).
	int bes[64];
	CHECK(cudaMemcpyFromSymbol(bes, beside, sizeof(bes)));
	for (int k = 0; k < 64; k++)
		EXPECT(bes[k] == 5 * k, "beside[%d] is %d, expected %d", k, bes[k], 5 * k);

	// Pointer attributes: managed memory.
	cudaPointerAttributes a;
	CHECK(cudaPointerGetAttributes(&a, &counter));
	EXPECT(a.type == cudaMemoryTypeManaged, "the attributes of &counter say type %d", (int)a.type);

	CHECK(cudaEventDestroy(ev));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaFree(d));
	printf("managed_globals: counter %d, %d launches, total %lld: all verified\n", counter, st.launches, st.total);
	return 0;
}
