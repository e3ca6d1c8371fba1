// SPDX-License-Identifier: MIT
// simd_video — CUDA's SIMD-within-a-word intrinsics (__vabsdiffu4, __vadd4, __vsub4, __vmaxu4,
// __vminu4, __vavgu4, __vcmpgtu4, __vabsdiffs4, __vadd2, __vaddss4, __vsads4, __vsadu4,
// __vseteq4), which compile to vabsdiff4 and lop3 among integer instructions, and lop3 itself
// (three-input logic from a truth table, as compilers emit for a ^ b ^ c and majority).
// Checked against the host, byte by byte.
#include "rt.h"

__global__ void simd(unsigned *o, unsigned a, unsigned b)
{
	o[0] = __vabsdiffu4(a, b); o[1] = __vadd4(a, b); o[2] = __vsub4(a, b); o[3] = __vmaxu4(a, b);
	o[4] = __vminu4(a, b); o[5] = __vavgu4(a, b); o[6] = __vcmpgtu4(a, b); o[7] = __vabsdiffs4(a, b);
	o[8] = __vadd2(a, b); o[9] = __vaddss4(a, b); o[10] = __vsads4(a, b); o[11] = __vseteq4(a, b);
	o[12] = __vsadu4(a, b);
}

__global__ void lop3s(unsigned *o, unsigned a, unsigned b, unsigned c)
{
	unsigned x, m, f;
	asm("lop3.b32 %0, %1, %2, %3, 0x96;" : "=r"(x) : "r"(a), "r"(b), "r"(c));   /* a ^ b ^ c */
	asm("lop3.b32 %0, %1, %2, %3, 0xE8;" : "=r"(m) : "r"(a), "r"(b), "r"(c));   /* majority */
	asm("lop3.b32 %0, %1, %2, %3, 0xF8;" : "=r"(f) : "r"(a), "r"(b), "r"(c));   /* a | (b & c) */
	o[0] = x;
	o[1] = m;
	o[2] = f;
}

static unsigned byte(unsigned x, int i) { return (x >> (8 * i)) & 0xff; }
static int sbyte(unsigned x, int i) { return (signed char)byte(x, i); }

int main()
{
	const unsigned a = 0x10f08030u, b = 0x40207f90u, c = 0x0ff0a5c3u;
	unsigned *d, got[13], want[13] = { 0 }, lg[3];
	CHECK(cudaMalloc(&d, sizeof(got)));
	simd<<<1, 1>>>(d, a, b);
	CHECK(cudaMemcpy(got, d, sizeof(got), cudaMemcpyDeviceToHost));
	int sads = 0, sadu = 0;
	for (int i = 0; i < 4; i++) {
		unsigned x = byte(a, i), y = byte(b, i);
		int sx = sbyte(a, i), sy = sbyte(b, i), ss = sx + sy;
		want[0] |= (x > y ? x - y : y - x) << (8 * i);
		want[1] |= ((x + y) & 0xff) << (8 * i);
		want[2] |= ((x - y) & 0xff) << (8 * i);
		want[3] |= (x > y ? x : y) << (8 * i);
		want[4] |= (x < y ? x : y) << (8 * i);
		want[5] |= ((x + y + 1) >> 1) << (8 * i);
		want[6] |= (x > y ? 0xffu : 0u) << (8 * i);
		want[7] |= ((unsigned)(sx > sy ? sx - sy : sy - sx) & 0xff) << (8 * i);
		want[9] |= ((unsigned)(ss > 127 ? 127 : ss < -128 ? -128 : ss) & 0xff) << (8 * i);
		want[11] |= (x == y ? 0xffu : 0u) << (8 * i);
		sads += sx > sy ? sx - sy : sy - sx;
		sadu += x > y ? x - y : y - x;
	}
	want[8] = (((a & 0xffff) + (b & 0xffff)) & 0xffff) | (((a >> 16) + (b >> 16)) << 16);
	want[10] = (unsigned)sads;
	want[12] = (unsigned)sadu;
	VERIFY(got, want, (size_t)13, 0, "SIMD-within-a-word intrinsics");
	lop3s<<<1, 1>>>(d, a, b, c);
	CHECK(cudaMemcpy(lg, d, sizeof(lg), cudaMemcpyDeviceToHost));
	const unsigned lw[3] = { a ^ b ^ c, (a & b) | (a & c) | (b & c), a | (b & c) };
	VERIFY(lg, lw, (size_t)3, 0, "lop3 (xor of three, majority, a | (b & c))");
	CHECK(cudaFree(d));
	return 0;
}
