// SPDX-License-Identifier: MIT
// thrust_algos — the Thrust library as programs use it, unmodified: its algorithms run CUB's
// kernels (radix sort, scans, reductions, selection), with block-wide barriers that reduce
// (bar.red), bit masks (bmsk), many kernels per module and names of hundreds of characters.
// Every result is checked against the same computation on the host.
#include <algorithm>
#include <numeric>
#include <vector>
#include <thrust/copy.h>
#include <thrust/count.h>
#include <thrust/device_vector.h>
#include <thrust/extrema.h>
#include <thrust/host_vector.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>
#include <thrust/unique.h>
#include "rt.h"

struct square {
	__host__ __device__ long long operator()(int x) const { return (long long)x * x; }
};
struct is_odd {
	__host__ __device__ bool operator()(int x) const { return x & 1; }
};
struct saxpy {
	float a;
	__host__ __device__ float operator()(float x, float y) const { return a * x + y; }
};

/* A fixed pattern of n values in [0, range): the same on every run. */
static std::vector<int> pattern(int n, int range, unsigned seed)
{
	std::vector<int> v(n);
	unsigned x = seed * 2654435761u + 11;
	for (auto &e : v) {
		x = x * 1664525u + 1013904223u;
		e = (int)((x >> 8) % (unsigned)range);
	}
	return v;
}

int main()
{
	const int n = 4000;
	std::vector<int> h = pattern(n, 100000, 1);
	thrust::device_vector<int> d(h.begin(), h.end());

	/* reductions */
	long long sum = thrust::reduce(d.begin(), d.end(), 0LL);
	EXPECT(sum == std::accumulate(h.begin(), h.end(), 0LL), "reduce gave %lld", sum);
	long long sq = thrust::transform_reduce(d.begin(), d.end(), square(), 0LL, thrust::plus<long long>());
	long long hsq = 0;
	for (int v : h)
		hsq += (long long)v * v;
	EXPECT(sq == hsq, "transform_reduce gave %lld, expected %lld", sq, hsq);
	int mn = *thrust::min_element(d.begin(), d.end());
	EXPECT(mn == *std::min_element(h.begin(), h.end()), "min_element gave %d", mn);
	long odd = (long)thrust::count_if(d.begin(), d.end(), is_odd());
	EXPECT(odd == (long)std::count_if(h.begin(), h.end(), [](int x) { return x & 1; }), "count_if gave %ld", odd);
	printf("reduce, transform_reduce, min_element, count_if over %d values verified\n", n);

	/* scans */
	thrust::device_vector<int> s(n);
	thrust::inclusive_scan(d.begin(), d.end(), s.begin());
	std::vector<int> hs(n), got(n);
	std::partial_sum(h.begin(), h.end(), hs.begin());
	thrust::copy(s.begin(), s.end(), got.begin());
	VERIFY(got.data(), hs.data(), (size_t)n, 0, "inclusive_scan");
	thrust::exclusive_scan(d.begin(), d.end(), s.begin(), 7);
	for (int i = 0, acc = 7; i < n; acc += h[i], i++)
		hs[i] = acc;
	thrust::copy(s.begin(), s.end(), got.begin());
	VERIFY(got.data(), hs.data(), (size_t)n, 0, "exclusive_scan");

	/* sorting: keys alone, then keys with values */
	thrust::device_vector<int> k = d;
	thrust::sort(k.begin(), k.end());
	std::vector<int> hk = h;
	std::sort(hk.begin(), hk.end());
	thrust::copy(k.begin(), k.end(), got.begin());
	VERIFY(got.data(), hk.data(), (size_t)n, 0, "sort");
	std::vector<int> hv(n);
	for (int i = 0; i < n; i++)
		hv[i] = i;
	thrust::device_vector<int> keys = d, vals(hv.begin(), hv.end());
	thrust::stable_sort_by_key(keys.begin(), keys.end(), vals.begin());
	std::stable_sort(hv.begin(), hv.end(), [&](int a, int b) { return h[a] < h[b]; });
	thrust::copy(vals.begin(), vals.end(), got.begin());
	VERIFY(got.data(), hv.data(), (size_t)n, 0, "stable_sort_by_key");

	/* selection: unique over the sorted keys, copy_if */
	std::vector<int> small = pattern(n, 50, 2);
	thrust::device_vector<int> u(small.begin(), small.end());
	thrust::sort(u.begin(), u.end());
	long nu = (long)(thrust::unique(u.begin(), u.end()) - u.begin());
	std::sort(small.begin(), small.end());
	long hu = (long)(std::unique(small.begin(), small.end()) - small.begin());
	EXPECT(nu == hu, "unique kept %ld, expected %ld", nu, hu);
	thrust::device_vector<int> sel(n);
	long ns = (long)(thrust::copy_if(d.begin(), d.end(), sel.begin(), is_odd()) - sel.begin());
	std::vector<int> hsel;
	for (int v : h)
		if (v & 1)
			hsel.push_back(v);
	EXPECT(ns == (long)hsel.size(), "copy_if kept %ld, expected %zu", ns, hsel.size());
	thrust::copy(sel.begin(), sel.begin() + ns, got.begin());
	VERIFY(got.data(), hsel.data(), hsel.size(), 0, "copy_if");

	/* a binary transform with a functor holding state */
	thrust::device_vector<float> x(n), y(n);
	thrust::sequence(x.begin(), x.end(), 0.0f, 0.5f);
	thrust::sequence(y.begin(), y.end(), 100.0f, -0.25f);
	thrust::transform(x.begin(), x.end(), y.begin(), y.begin(), saxpy{ 2.0f });
	std::vector<float> fy(n), fw(n);
	for (int i = 0; i < n; i++)
		fw[i] = 2.0f * (0.5f * i) + (100.0f - 0.25f * i);
	thrust::copy(y.begin(), y.end(), fy.begin());
	VERIFY(fy.data(), fw.data(), (size_t)n, 1e-3, "transform (saxpy functor)");
	return 0;
}
