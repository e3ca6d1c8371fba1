// SPDX-License-Identifier: MIT
// device_printf — printf in kernels, as programs use it to say what their threads do: every
// conversion the C library has for ints, unsigned, long long, doubles, floats, chars and
// device strings, with flags, widths and precisions; lines from the lanes of a warp; kernel
// output in order with the host's own printf at synchronisation. Its output must be exactly
// tests/runtime/device_printf.expected, directly on the backend and through vgpu (where the
// text crosses from the proxy's worker to the program's own stdout).
#include "rt.h"

__global__ void formats(const char *s, int i, unsigned u, long long ll, double d, float f, char c)
{
	if (threadIdx.x != 0 || blockIdx.x != 0)
		return;
	printf("int %d %i %5d|%-5d|%05d %+d\n", i, -i, i, i, i, i);
	printf("unsigned %u %x %X %#o %#x\n", u, u, u, u, u);
	printf("long long %lld %llu %llx %ld\n", ll, (unsigned long long)ll, ll, (long)ll);
	printf("double %f %.2f %e %.3E %g %G\n", d, d, d, d, d, d);
	printf("float promoted %f %.1f %8.3f|\n", f, f, f);
	printf("char %c%c%c string [%s] [%10s] [%-10s] [%.3s]\n", c, c + 1, c + 2, s, s, s, s);
	int n = printf("percent 100%% and no arguments\n");
	printf("the last printf had %d arguments, this one %d\n", n, 2);
}

__global__ void lanes(int *out)
{
	int n = printf("lane %2d of %d: %d squared is %d\n", threadIdx.x, blockDim.x, threadIdx.x,
		       threadIdx.x * threadIdx.x);
	out[threadIdx.x] = n;
}

int main()
{
	char *ds;
	int *dn, n[8];
	cudaStream_t st;
	CHECK(cudaMalloc(&ds, 16));
	CHECK(cudaMalloc(&dn, sizeof(n)));
	CHECK(cudaMemcpy(ds, "device", 7, cudaMemcpyHostToDevice));
	CHECK(cudaStreamCreate(&st));
	printf("host: before the first kernel\n");
	formats<<<2, 4>>>(ds, 42, 3000000000u, -1234567890123LL, 3.14159265358979, 2.5f, 'x');
	CHECK(cudaGetLastError());
	CHECK(cudaDeviceSynchronize());
	printf("host: between the kernels\n");
	lanes<<<1, 8, 0, st>>>(dn);
	CHECK(cudaStreamSynchronize(st));
	printf("host: after the second kernel\n");
	CHECK(cudaMemcpy(n, dn, sizeof(n), cudaMemcpyDeviceToHost));
	for (int i = 0; i < 8; i++)
		EXPECT(n[i] == 4, "lane %d's printf returned %d, expected 4 (its arguments)", i, n[i]);
	CHECK(cudaStreamDestroy(st));
	CHECK(cudaFree(ds));
	CHECK(cudaFree(dn));
	return 0;
}
