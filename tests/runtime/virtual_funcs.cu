// SPDX-License-Identifier: MIT
// virtual_funcs — calls through function addresses in device code: C++ virtual functions of
// objects built on the device (their vtables are tables of function addresses), a
// __device__ table of function pointers filled by its initializer, and a device function's
// address read by the host (cudaMemcpyFromSymbol) and handed back to a kernel as an argument,
// as renderers, interpreters and NCCL's kernels (a table of its collectives) call them.
#include "rt.h"

#include <new>

struct Shape {
	float a, b;
	__device__ Shape(float a_, float b_) : a(a_), b(b_) {}
	__device__ virtual ~Shape() {}
	__device__ virtual float area() const = 0;
	__device__ virtual int sides() const { return 0; }
	__device__ float twice() const { return 2.0f * area(); }   // a virtual call inside a member
};
struct Rect : Shape {
	__device__ Rect(float w, float h) : Shape(w, h) {}
	__device__ float area() const override { return a * b; }
	__device__ int sides() const override { return 4; }
};
struct Tri : Shape {
	__device__ Tri(float base, float h) : Shape(base, h) {}
	__device__ float area() const override { return 0.5f * a * b; }
	__device__ int sides() const override { return 3; }
};
struct Disc : Shape {   // keeps the base class's sides()
	__device__ Disc(float r) : Shape(r, 0) {}
	__device__ float area() const override { return 3.0f * a * a; }
};

enum { N = 96, SLOT = 64 };

__global__ void build(unsigned char *store, Shape **objs, const float *dims)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= N)
		return;
	void *at = store + (size_t)i * SLOT;
	switch (i % 3) {
	case 0: objs[i] = new (at) Rect(dims[i], dims[i] + 1); break;
	case 1: objs[i] = new (at) Tri(dims[i], 2 * dims[i]); break;
	default: objs[i] = new (at) Disc(dims[i]); break;
	}
}

__global__ void evaluate(Shape *const *objs, float *area, int *sides)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= N)
		return;
	const Shape *s = objs[i];
	area[i] = s->twice();
	sides[i] = s->sides();
}

__global__ void destroy(Shape **objs)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < N)
		objs[i]->~Shape();
}

typedef float (*binop)(float, float);
__device__ __noinline__ float op_add(float x, float y) { return x + y; }
__device__ __noinline__ float op_mul(float x, float y) { return x * y; }
__device__ __noinline__ float op_sub(float x, float y) { return x - y; }
__device__ __noinline__ float op_max(float x, float y) { return x > y ? x : y; }
__device__ binop ops[4] = { op_add, op_mul, op_sub, op_max };   // a table in an initializer
__device__ binop chosen = op_mul;                                // read by the host

__global__ void apply_table(const float *x, const float *y, float *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < N)
		out[i] = ops[(i * 7) % 4](x[i], y[i]);   // a different target in neighbouring lanes
}

__global__ void apply_arg(binop f, const float *x, const float *y, float *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < N)
		out[i] = f(x[i], y[i]);
}

static float host_op(int k, float x, float y)
{
	switch (k) {
	case 0: return x + y;
	case 1: return x * y;
	case 2: return x - y;
	default: return x > y ? x : y;
	}
}

int main()
{
	float hd[N], hx[N], hy[N];
	for (int i = 0; i < N; i++) {
		hd[i] = 0.5f + (float)(i % 11);
		hx[i] = (float)(i % 13) - 4.0f;
		hy[i] = (float)(i % 5) + 0.25f;
	}
	float *dims, *x, *y, *out, *area;
	int *sides;
	unsigned char *store;
	Shape **objs;
	CHECK(cudaMalloc(&dims, sizeof(hd)));
	CHECK(cudaMalloc(&x, sizeof(hx)));
	CHECK(cudaMalloc(&y, sizeof(hy)));
	CHECK(cudaMalloc(&out, N * sizeof(float)));
	CHECK(cudaMalloc(&area, N * sizeof(float)));
	CHECK(cudaMalloc(&sides, N * sizeof(int)));
	CHECK(cudaMalloc(&store, (size_t)N * SLOT));
	CHECK(cudaMalloc(&objs, N * sizeof(Shape *)));
	CHECK(cudaMemcpy(dims, hd, sizeof(hd), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(x, hx, sizeof(hx), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(y, hy, sizeof(hy), cudaMemcpyHostToDevice));

	/* virtual functions of objects built on the device */
	build<<<2, 64>>>(store, objs, dims);
	CHECK(cudaGetLastError());
	evaluate<<<3, 32>>>(objs, area, sides);
	CHECK(cudaGetLastError());
	float ha[N], wa[N], ho[N], wo[N];
	int hs[N], ws[N];
	CHECK(cudaMemcpy(ha, area, sizeof(ha), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(hs, sides, sizeof(hs), cudaMemcpyDeviceToHost));
	for (int i = 0; i < N; i++) {
		float d = hd[i];
		wa[i] = 2.0f * (i % 3 == 0 ? d * (d + 1) : i % 3 == 1 ? 0.5f * d * (2 * d) : 3.0f * d * d);
		ws[i] = i % 3 == 0 ? 4 : i % 3 == 1 ? 3 : 0;
	}
	VERIFY(ha, wa, N, 1e-4, "virtual area() through twice(), three classes");
	VERIFY(hs, ws, N, 0, "virtual sides(), one class keeping the base's");
	destroy<<<2, 64>>>(objs);
	CHECK(cudaDeviceSynchronize());

	/* a table of function pointers filled by its initializer */
	apply_table<<<3, 32>>>(x, y, out);
	CHECK(cudaMemcpy(ho, out, sizeof(ho), cudaMemcpyDeviceToHost));
	for (int i = 0; i < N; i++)
		wo[i] = host_op((i * 7) % 4, hx[i], hy[i]);
	VERIFY(ho, wo, N, 0, "a __device__ table of four functions, a different one in neighbouring lanes");

	/* a device function's address taken by the host and passed back as an argument */
	binop f = nullptr;
	CHECK(cudaMemcpyFromSymbol(&f, chosen, sizeof(f)));
	EXPECT(f != nullptr, "the device function's address read from the symbol is null");
	apply_arg<<<3, 32>>>(f, x, y, out);
	CHECK(cudaMemcpy(ho, out, sizeof(ho), cudaMemcpyDeviceToHost));
	for (int i = 0; i < N; i++)
		wo[i] = hx[i] * hy[i];
	VERIFY(ho, wo, N, 0, "a function pointer the host read and handed to a kernel");

	CHECK(cudaFree(dims));
	CHECK(cudaFree(x));
	CHECK(cudaFree(y));
	CHECK(cudaFree(out));
	CHECK(cudaFree(area));
	CHECK(cudaFree(sides));
	CHECK(cudaFree(store));
	CHECK(cudaFree(objs));
	printf("PASS\n");
	return 0;
}
