/* SPDX-License-Identifier: MIT */
/* registered_memory.cu — zero-copy kernels on memory the program registered (cudaHostRegister), copies from it, and fork. */
#include <cstdint>
#include <cstring>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt.h"

/*
 * The simpleZeroCopy pattern: the program allocates page-aligned memory itself, registers it
 * as mapped (cudaHostRegisterMapped), asks for its device pointer (cudaHostGetDevicePointer)
 * and lets kernels read and write it in place. The pointer is used as the driver says: the
 * device pointer in kernels, the host pointer on the host (they need not be equal).
 */

__global__ void square_into(const float *in, float *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = in[i] * in[i];
}

__global__ void count_up(unsigned *p, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		p[i] += (unsigned)i;
}

int main()
{
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const int n = 1 << 16;                               /* 256 KiB of floats: whole pages */
	const size_t bytes = n * sizeof(float);

	/* memory from mmap and from the C library, page-aligned */
	float *in = (float *)mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(in != MAP_FAILED, "mmap");
	float *out = (float *)aligned_alloc(page, bytes);
	EXPECT(out, "aligned_alloc");
	for (int i = 0; i < n; i++) {
		in[i] = (float)(i % 1000) * 0.5f;
		out[i] = -1.0f;
	}
	CHECK(cudaHostRegister(in, bytes, cudaHostRegisterMapped));
	CHECK(cudaHostRegister(out, bytes, cudaHostRegisterMapped));
	/* registering keeps the contents */
	for (int i = 0; i < n; i++)
		EXPECT(in[i] == (float)(i % 1000) * 0.5f && out[i] == -1.0f, "registered memory changed at %d: %g %g", i,
		       in[i], out[i]);
	unsigned flags = 0;
	CHECK(cudaHostGetFlags(&flags, in));
	EXPECT(flags & cudaHostRegisterMapped, "flags %#x", flags);

	/* kernels read and write it through its device pointers */
	float *din, *dout;
	CHECK(cudaHostGetDevicePointer((void **)&din, in, 0));
	CHECK(cudaHostGetDevicePointer((void **)&dout, out, 0));
	square_into<<<n / 256, 256>>>(din, dout, n);
	CHECK(cudaDeviceSynchronize());
	for (int i = 0; i < n; i++)
		EXPECT(out[i] == in[i] * in[i], "out[%d] = %g, expected %g", i, out[i], in[i] * in[i]);
	printf("kernels read and wrote registered memory in place: %d values\n", n);

	/* a device pointer into the middle of the registered range is the same memory */
	float *dmid;
	CHECK(cudaHostGetDevicePointer((void **)&dmid, out + 1000, 0));
	EXPECT(dmid == dout + 1000, "the device pointer of out + 1000 is not dout + 1000");

	/* copies to and from it, synchronous and on a stream, whole and at an offset */
	float *dev;
	cudaStream_t s;
	CHECK(cudaMalloc(&dev, bytes));
	CHECK(cudaStreamCreate(&s));
	CHECK(cudaMemcpy(dev, in, bytes, cudaMemcpyHostToDevice));
	memset(out, 0, bytes);
	CHECK(cudaMemcpyAsync(out + 17, dev + 17, bytes - 17 * sizeof(float), cudaMemcpyDeviceToHost, s));
	CHECK(cudaStreamSynchronize(s));
	EXPECT(out[16] == 0.0f, "out[16] = %g, the copy started at 17", out[16]);
	for (int i = 17; i < n; i++)
		EXPECT(out[i] == in[i], "copied out[%d] = %g, expected %g", i, out[i], in[i]);
	printf("copies to and from registered memory: %zu bytes each way\n", bytes);

	/* a forked child's writes to its copy of registered memory stay its own */
	out[0] = 42.0f;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		out[0] = 99.0f;
		in[1] = 99.0f;
		_exit(out[0] == 99.0f ? 0 : 1);
	}
	int st = 0;
	EXPECT(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child failed");
	EXPECT(out[0] == 42.0f && in[1] == 0.5f, "the child's writes reached the parent: %g %g", out[0], in[1]);
	printf("a forked child's writes to registered memory stayed in the child\n");

	/* unregistered, the memory is the program's as before, contents kept */
	CHECK(cudaHostUnregister(in));
	CHECK(cudaHostUnregister(out));
	for (int i = 0; i < n; i++)
		EXPECT(in[i] == (float)(i % 1000) * 0.5f && out[i] == (i == 0 ? 42.0f : i < 17 ? 0.0f : in[i]),
		       "unregistering changed the memory at %d: %g %g", i, in[i], out[i]);
	in[5] = 1.0f;
	out[5] = 2.0f;
	EXPECT(in[5] == 1.0f && out[5] == 2.0f, "unregistered memory is not writable as before");
	cudaError_t e = cudaHostUnregister(in);
	EXPECT(e == cudaErrorHostMemoryNotRegistered, "a second unregister: %s", cudaGetErrorName(e));
	(void)cudaGetLastError();

	/* a few MiB at an odd offset from a 2 MiB boundary: every byte kept through registering,
	 * a copy into it and unregistering */
	{
		const size_t big = (3u << 20) + 5 * page, huge = 2u << 20;
		unsigned char *area = (unsigned char *)mmap(NULL, big + 2 * huge, PROT_READ | PROT_WRITE,
							    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		EXPECT(area != MAP_FAILED, "mmap");
		unsigned char *b = (unsigned char *)(((uintptr_t)area + huge - 1) & ~(uintptr_t)(huge - 1)) + 3 * page;
		for (size_t i = 0; i < big; i++)
			b[i] = (unsigned char)(i * 7 + (i >> 12));
		CHECK(cudaHostRegister(b, big, cudaHostRegisterDefault));
		size_t bad = 0;
		for (size_t i = 0; i < big; i++)
			bad += b[i] != (unsigned char)(i * 7 + (i >> 12));
		EXPECT(bad == 0, "registering changed %zu bytes", bad);
		unsigned char *db;
		CHECK(cudaMalloc(&db, big));
		CHECK(cudaMemset(db, 0x3c, big));
		CHECK(cudaMemcpy(b + page, db, big - 2 * page, cudaMemcpyDeviceToHost));
		CHECK(cudaHostUnregister(b));
		for (size_t i = 0; i < big; i++)
			bad += b[i] != (i >= page && i < big - page ? 0x3c : (unsigned char)(i * 7 + (i >> 12)));
		EXPECT(bad == 0, "unregistering changed %zu bytes", bad);
		b[0] = 1;
		b[big - 1] = 2;
		EXPECT(b[0] == 1 && b[big - 1] == 2, "unregistered memory is not writable as before");
		CHECK(cudaFree(db));
		munmap(area, big + 2 * huge);
		printf("%zu registered bytes at an odd offset: every byte kept through a copy and unregistering\n", big);
	}

	/* memory that is not whole pages: registered all the same, copies verified */
	unsigned *odd = (unsigned *)malloc(1000 * sizeof(unsigned) + 4);
	unsigned *u = odd + 1;
	for (int i = 0; i < 1000; i++)
		u[i] = 3u * (unsigned)i;
	CHECK(cudaHostRegister(u, 1000 * sizeof(unsigned), cudaHostRegisterDefault));
	unsigned *du;
	CHECK(cudaMalloc(&du, 1000 * sizeof(unsigned)));
	CHECK(cudaMemcpy(du, u, 1000 * sizeof(unsigned), cudaMemcpyHostToDevice));
	count_up<<<4, 256>>>(du, 1000);
	CHECK(cudaMemcpy(u, du, 1000 * sizeof(unsigned), cudaMemcpyDeviceToHost));
	for (int i = 0; i < 1000; i++)
		EXPECT(u[i] == 4u * (unsigned)i, "u[%d] = %u", i, u[i]);
	CHECK(cudaHostUnregister(u));
	printf("registered memory that is not whole pages: 1000 values copied both ways\n");

	CHECK(cudaFree(du));
	free(odd);
	CHECK(cudaFree(dev));
	CHECK(cudaStreamDestroy(s));
	munmap(in, bytes);
	free(out);
	printf("registered_memory: OK\n");
	return 0;
}
