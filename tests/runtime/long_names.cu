// SPDX-License-Identifier: MIT
// long_names — kernels and a device variable whose mangled names run to hundreds of
// characters, as those of template libraries (Thrust, CUB, the CUDA math libraries) do:
// a transform over a chain of functors and iterator adaptors, a reduction templated on its
// policy, and a counter in nested namespaces that cudaMemcpyFromSymbol reads back.
#include <cstring>
#include "rt.h"

namespace vgpu_tests {
namespace detail_with_a_descriptive_namespace_name {

template <typename T> struct scale_by_a_constant_factor_functor {
	T factor;
	__host__ __device__ T operator()(T x) const { return x * factor; }
};

template <typename T> struct add_a_constant_offset_functor {
	T offset;
	__host__ __device__ T operator()(T x) const { return x + offset; }
};

template <typename Outer, typename Inner> struct composition_of_two_unary_functors {
	Outer outer;
	Inner inner;
	__host__ __device__ auto operator()(decltype(Inner()(0.0f)) x) const { return outer(inner(x)); }
};

template <typename T, typename Index> struct counting_iterator_with_stride_adaptor {
	const T *base;
	Index stride;
	__host__ __device__ T operator[](Index i) const { return base[i * stride]; }
};

template <int BlockThreads, int ItemsPerThread, bool UseSharedMemoryForPartials>
struct reduction_policy_with_tuning_parameters {
	enum { block_threads = BlockThreads, items_per_thread = ItemsPerThread };
};

/* one of the variables cudart registers by name; every launch adds to it */
__device__ unsigned long long launches_counted_by_the_kernels_of_this_namespace;

template <typename InputIterator, typename Functor, typename Output, typename Size>
__global__ void transform_kernel_over_an_iterator_with_a_composed_functor(InputIterator in, Functor f,
									   Output *out, Size n)
{
	for (Size i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
		out[i] = f(in[i]);
	if (blockIdx.x == 0 && threadIdx.x == 0)
		atomicAdd(&launches_counted_by_the_kernels_of_this_namespace, 1ull);
}

template <typename Policy, typename T, typename Size>
__global__ void block_reduce_kernel_parameterised_by_its_policy(const T *in, T *partials, Size n)
{
	__shared__ T part[Policy::block_threads];
	T acc = 0;
	for (Size i = blockIdx.x * Policy::block_threads + threadIdx.x; i < n;
	     i += Policy::block_threads * gridDim.x)
		acc += in[i];
	part[threadIdx.x] = acc;
	__syncthreads();
	for (int s = Policy::block_threads / 2; s > 0; s >>= 1) {
		if ((int)threadIdx.x < s)
			part[threadIdx.x] += part[threadIdx.x + s];
		__syncthreads();
	}
	if (threadIdx.x == 0) {
		partials[blockIdx.x] = part[0];
		atomicAdd(&launches_counted_by_the_kernels_of_this_namespace, 1ull);
	}
}

} // namespace detail_with_a_descriptive_namespace_name
} // namespace vgpu_tests

using namespace vgpu_tests::detail_with_a_descriptive_namespace_name;

typedef composition_of_two_unary_functors<scale_by_a_constant_factor_functor<float>,
					  add_a_constant_offset_functor<float>> functor_t;
typedef counting_iterator_with_stride_adaptor<float, long> iterator_t;
typedef reduction_policy_with_tuning_parameters<128, 4, true> policy_t;

int main()
{
	const long n = 10000, stride = 2;
	const int blocks = 8;
	float *x = (float *)malloc(n * stride * sizeof(float)), *y = (float *)malloc(n * sizeof(float));
	float *want = (float *)malloc(n * sizeof(float)), partials[blocks];
	for (long i = 0; i < n * stride; i++)
		x[i] = (float)(i % 97) / 8;
	double sum = 0;
	for (long i = 0; i < n; i++) {
		want[i] = (x[i * stride] + 1.5f) * 3.0f;
		sum += want[i];
	}
	float *dx, *dy, *dp;
	CHECK(cudaMalloc(&dx, n * stride * sizeof(float)));
	CHECK(cudaMalloc(&dy, n * sizeof(float)));
	CHECK(cudaMalloc(&dp, blocks * sizeof(float)));
	CHECK(cudaMemcpy(dx, x, n * stride * sizeof(float), cudaMemcpyHostToDevice));

	functor_t f = { { 3.0f }, { 1.5f } };
	iterator_t it = { dx, stride };
	transform_kernel_over_an_iterator_with_a_composed_functor<iterator_t, functor_t, float, long>
		<<<blocks, 128>>>(it, f, dy, n);
	CHECK(cudaGetLastError());
	block_reduce_kernel_parameterised_by_its_policy<policy_t, float, long><<<blocks, 128>>>(dy, dp, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(y, dy, n * sizeof(float), cudaMemcpyDeviceToHost));
	CHECK(cudaMemcpy(partials, dp, sizeof(partials), cudaMemcpyDeviceToHost));
	VERIFY(y, want, n, 1e-4, "transform through a composed functor");
	double got = 0;
	for (int b = 0; b < blocks; b++)
		got += partials[b];
	EXPECT(std::fabs(got - sum) <= 1e-4 * sum, "reduction %.3f, expected %.3f", got, sum);
	printf("reduction by policy: sum of %ld values verified\n", n);

	unsigned long long counted = 0;
	CHECK(cudaMemcpyFromSymbol(&counted, launches_counted_by_the_kernels_of_this_namespace, sizeof(counted)));
	EXPECT(counted == 1 + blocks, "the device counter says %llu, expected %d", counted, 1 + blocks);
	printf("device variable in nested namespaces: %llu\n", counted);

	/* the names really are long: what the kernel's name is to the runtime */
	const char *name = NULL;
	CHECK(cudaFuncGetName(&name, transform_kernel_over_an_iterator_with_a_composed_functor<iterator_t, functor_t,
											       float, long>));
	EXPECT(name && strlen(name) > 256, "kernel name of %zu characters, expected more than 256",
	       name ? strlen(name) : (size_t)0);
	printf("kernel name longer than 256 characters\n");

	CHECK(cudaFree(dx));
	CHECK(cudaFree(dy));
	CHECK(cudaFree(dp));
	free(x); free(y); free(want);
	return 0;
}
