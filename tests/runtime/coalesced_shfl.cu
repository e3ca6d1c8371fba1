// SPDX-License-Identifier: MIT
// coalesced_shfl — cooperative groups' shuffles inside a coalesced group, as warp-level code
// writes them after a data-dependent branch: coalesced_threads().shfl() by rank, shfl_down()
// and shfl_up(), which find their source lanes with __fns (the n-th set bit of the group's
// mask from a lane, upwards or downwards), and __fns itself over masks, bases and offsets of
// both signs. Every result is checked on the host against the rules the programming guide
// gives them.
#include <cooperative_groups.h>
#include <vector>
#include "rt.h"

namespace cg = cooperative_groups;

enum { THREADS = 128, BLOCKS = 2, N = THREADS * BLOCKS, CASES = 4096 };

/* out, per thread: its rank in the group of lanes whose value is not a multiple of 3 (-1 when
 * not in it), the group's size, the value of rank 2, shfl_down by 1, shfl_up by 2 */
__global__ void shuffles(const int *in, int *out)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x, v = in[i];
	int *o = out + i * 5;
	o[0] = -1;
	if (v % 3 != 0) {
		cg::coalesced_group g = cg::coalesced_threads();
		o[0] = (int)g.thread_rank();
		o[1] = (int)g.size();
		o[2] = g.shfl(v, 2 % g.size());
		o[3] = g.shfl_down(v, 1);
		o[4] = g.shfl_up(v, 2);
	}
}

__global__ void fns_cases(const unsigned *mask, const unsigned *base, const int *offset, unsigned *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = __fns(mask[i], base[i], offset[i]);
}

/* The position of the |offset|-th set bit of mask from base (included), up for a positive
 * offset and down for a negative one; offset 0: base itself if set. 0xffffffff if none. */
static unsigned fns_ref(unsigned mask, unsigned base, int offset)
{
	if (base > 31)
		return 0xffffffffu;
	if (offset == 0)
		return (mask >> base & 1) ? base : 0xffffffffu;
	int step = offset > 0 ? 1 : -1;
	long left = offset > 0 ? offset - 1 : -(long)offset - 1;
	for (int p = (int)base; p >= 0 && p < 32; p += step)
		if (mask >> p & 1) {
			if (left == 0)
				return (unsigned)p;
			left--;
		}
	return 0xffffffffu;
}

int main()
{
	std::vector<int> in(N), out(N * 5);
	for (int i = 0; i < N; i++)
		in[i] = (i * 7919 + 13) % 1000;
	int *d_in, *d_out;
	CHECK(cudaMalloc(&d_in, N * sizeof(int)));
	CHECK(cudaMalloc(&d_out, N * 5 * sizeof(int)));
	CHECK(cudaMemcpy(d_in, in.data(), N * sizeof(int), cudaMemcpyHostToDevice));
	shuffles<<<BLOCKS, THREADS>>>(d_in, d_out);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(out.data(), d_out, N * 5 * sizeof(int), cudaMemcpyDeviceToHost));
	long checked = 0;
	for (int w = 0; w < N / 32; w++) {
		std::vector<int> lanes;   /* the group's members, in lane order */
		for (int l = 0; l < 32; l++)
			if (in[w * 32 + l] % 3 != 0)
				lanes.push_back(l);
		int size = (int)lanes.size();
		for (int l = 0; l < 32; l++) {
			const int *o = &out[(w * 32 + l) * 5];
			int v = in[w * 32 + l];
			if (v % 3 == 0) {
				EXPECT(o[0] == -1, "warp %d lane %d is not in the group but has rank %d", w, l, o[0]);
				continue;
			}
			int r = 0;
			while (lanes[r] != l)
				r++;
			int down = r + 1 < size ? in[w * 32 + lanes[r + 1]] : v;   /* past the end: its own */
			int up = r >= 2 ? in[w * 32 + lanes[r - 2]] : v;
			EXPECT(o[0] == r && o[1] == size, "warp %d lane %d: rank %d of %d, expected %d of %d", w, l,
			       o[0], o[1], r, size);
			EXPECT(o[2] == in[w * 32 + lanes[2 % size]], "warp %d lane %d: shfl(2) %d", w, l, o[2]);
			EXPECT(o[3] == down, "warp %d lane %d: shfl_down(1) %d, expected %d", w, l, o[3], down);
			EXPECT(o[4] == up, "warp %d lane %d: shfl_up(2) %d, expected %d", w, l, o[4], up);
			checked++;
		}
	}
	printf("coalesced shuffles: %ld lanes verified\n", checked);

	std::vector<unsigned> mask(CASES), base(CASES), got(CASES), want(CASES);
	std::vector<int> offset(CASES);
	unsigned x = 12345;
	for (int i = 0; i < CASES; i++) {
		x = x * 1103515245u + 12345u;
		mask[i] = i % 17 == 0 ? 0u : i % 19 == 0 ? 0xffffffffu : x ^ (x << 7);
		base[i] = i % 41 == 0 ? 32 + i % 5 : (x >> 8) % 32;   /* now and then past bit 31 */
		offset[i] = (int)((x >> 16) % 41) - 20;               /* -20 .. 20, 0 included */
		want[i] = fns_ref(mask[i], base[i], offset[i]);
	}
	unsigned *d_mask, *d_base, *d_res;
	int *d_off;
	CHECK(cudaMalloc(&d_mask, CASES * sizeof(unsigned)));
	CHECK(cudaMalloc(&d_base, CASES * sizeof(unsigned)));
	CHECK(cudaMalloc(&d_off, CASES * sizeof(int)));
	CHECK(cudaMalloc(&d_res, CASES * sizeof(unsigned)));
	CHECK(cudaMemcpy(d_mask, mask.data(), CASES * sizeof(unsigned), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(d_base, base.data(), CASES * sizeof(unsigned), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(d_off, offset.data(), CASES * sizeof(int), cudaMemcpyHostToDevice));
	fns_cases<<<CASES / 256, 256>>>(d_mask, d_base, d_off, d_res, CASES);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(got.data(), d_res, CASES * sizeof(unsigned), cudaMemcpyDeviceToHost));
	for (int i = 0; i < CASES; i++)
		EXPECT(got[i] == want[i], "__fns(0x%08x, %u, %d) = 0x%x, expected 0x%x", mask[i], base[i], offset[i],
		       got[i], want[i]);
	printf("__fns: %d cases verified\n", CASES);
	CHECK(cudaFree(d_in));
	CHECK(cudaFree(d_out));
	CHECK(cudaFree(d_mask));
	CHECK(cudaFree(d_base));
	CHECK(cudaFree(d_off));
	CHECK(cudaFree(d_res));
	printf("PASS\n");
	return 0;
}
