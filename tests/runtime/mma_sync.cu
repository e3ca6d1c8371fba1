// SPDX-License-Identifier: MIT
// mma_sync — the tensor-core instruction CUTLASS and hand-tuned kernels (flash attention,
// GEMMs in inline PTX, int8 inference) use: mma.sync in m16n8k16 and m16n8k8 with f16, bf16
// and tf32 inputs, f32 and f16 accumulators, and in m16n8k32 and m16n8k16 with 8-bit integer
// inputs (saturating or not), fragments loaded from shared memory with ldmatrix (.x4, .x2 with
// .trans, .x1) or straight from registers as the PTX ISA lays them out; every product
// checked against the host. Values are small multiples of 1/2, so every sum is exact.
#include "rt.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

static __device__ unsigned smem_addr(const void *p) { return (unsigned)__cvta_generic_to_shared(p); }

/* D (16x8, f32) = A (16x16, row-major) x B (16x8, row-major [k][n]), 16-bit inputs through ldmatrix. */
template <bool BF16>
__global__ void mma_k16(const unsigned short *a, const unsigned short *b, float *d)
{
	__shared__ __align__(16) unsigned short sa[16 * 16], sb[16 * 8];
	unsigned l = threadIdx.x;
	for (unsigned i = l; i < 256; i += 32)
		sa[i] = a[i];
	for (unsigned i = l; i < 128; i += 32)
		sb[i] = b[i];
	__syncthreads();
	unsigned ra[4], rb[2];
	/* A: matrix j = l / 8 holds rows (j & 1) * 8 .. + 7, columns (j >> 1) * 8 .. + 7 */
	unsigned j = l / 8, r = l % 8;
	unsigned pa = smem_addr(&sa[(r + (j & 1) * 8) * 16 + (j >> 1) * 8]);
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
		     : "=r"(ra[0]), "=r"(ra[1]), "=r"(ra[2]), "=r"(ra[3]) : "r"(pa));
	/* B: rows k = 0..7 and 8..15 (lanes 0-15 give their addresses), transposed into columns */
	unsigned pb = smem_addr(&sb[(l % 16) * 8]);
	asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];"
		     : "=r"(rb[0]), "=r"(rb[1]) : "r"(pb));
	float c[4] = {0, 0, 0, 0}, o[4];
	if (BF16)
		asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
			     "{%8, %9}, {%10, %11, %12, %13};"
			     : "=f"(o[0]), "=f"(o[1]), "=f"(o[2]), "=f"(o[3])
			     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
			       "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
	else
		asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
			     "{%8, %9}, {%10, %11, %12, %13};"
			     : "=f"(o[0]), "=f"(o[1]), "=f"(o[2]), "=f"(o[3])
			     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
			       "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
	unsigned gid = l / 4, tig = l % 4;
	for (int i = 0; i < 4; i++)
		d[(gid + (i / 2) * 8) * 8 + tig * 2 + (i & 1)] = o[i];
}

/* D (16x8, f16) = A (16x8) x B (8x8) + C, f16 everywhere, fragments built in registers from
 * global memory as the ISA lays them out; B's first rows through ldmatrix.x1.trans too. */
__global__ void mma_k8_f16(const unsigned short *a, const unsigned short *b, const unsigned short *cin,
			   unsigned short *d, unsigned *bx1)
{
	__shared__ __align__(16) unsigned short sb[8 * 8];
	unsigned l = threadIdx.x, gid = l / 4, tig = l % 4;
	for (unsigned i = l; i < 64; i += 32)
		sb[i] = b[i];
	__syncthreads();
	unsigned ra[2], rb, rc[2], rd[2];
	for (int i = 0; i < 2; i++) {
		unsigned row = gid + i * 8, col = tig * 2;
		ra[i] = a[row * 8 + col] | (unsigned)a[row * 8 + col + 1] << 16;
		rc[i] = cin[row * 8 + col] | (unsigned)cin[row * 8 + col + 1] << 16;
	}
	rb = b[(tig * 2) * 8 + gid] | (unsigned)b[(tig * 2 + 1) * 8 + gid] << 16;
	unsigned x1, p = smem_addr(&sb[(l % 8) * 8]);
	asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];" : "=r"(x1) : "r"(p));
	bx1[l] = x1 ^ rb;   /* 0 where ldmatrix gave the fragment the ISA lays out */
	asm volatile("mma.sync.aligned.m16n8k8.row.col.f16.f16.f16.f16 {%0, %1}, {%2, %3}, {%4}, {%5, %6};"
		     : "=r"(rd[0]), "=r"(rd[1]) : "r"(ra[0]), "r"(ra[1]), "r"(rb), "r"(rc[0]), "r"(rc[1]));
	for (int i = 0; i < 2; i++) {
		unsigned row = gid + i * 8, col = tig * 2;
		d[row * 8 + col] = (unsigned short)(rd[i] & 0xffff);
		d[row * 8 + col + 1] = (unsigned short)(rd[i] >> 16);
	}
}

/* movmatrix.trans on the 8x8 matrix M[r][c] = 64 * seed + 8r + c held as ldmatrix lays it out
 * (lane l: row l/4, columns 2(l%4) and 2(l%4)+1): lane l must then hold M's column l/4, rows
 * 2(l%4) and 2(l%4)+1. out[l] is 0 where it does. */
__global__ void movmatrix_trans(unsigned seed, unsigned *out)
{
	unsigned l = threadIdx.x, gid = l / 4, tig = l % 4;
	unsigned base = 64 * seed, x = base + gid * 8 + tig * 2;
	unsigned r = x | (x + 1) << 16, t;
	asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;" : "=r"(t) : "r"(r));
	unsigned want = (base + (tig * 2) * 8 + gid) | (base + (tig * 2 + 1) * 8 + gid) << 16;
	out[l] = t ^ want;
}

/* D (16x8, f32) = A (16x8) x B (8x8) + C in tf32, fragments from global memory. */
__global__ void mma_k8_tf32(const float *a, const float *b, const float *cin, float *d)
{
	unsigned l = threadIdx.x, gid = l / 4, tig = l % 4;
	unsigned ra[4], rb[2];
	float c[4], o[4];
	for (int i = 0; i < 4; i++)
		ra[i] = __float_as_uint(a[(gid + (i & 1) * 8) * 8 + tig + (i / 2) * 4]);
	for (int i = 0; i < 2; i++)
		rb[i] = __float_as_uint(b[(tig + i * 4) * 8 + gid]);
	for (int i = 0; i < 4; i++)
		c[i] = cin[(gid + (i / 2) * 8) * 8 + tig * 2 + (i & 1)];
	asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
		     "{%8, %9}, {%10, %11, %12, %13};"
		     : "=f"(o[0]), "=f"(o[1]), "=f"(o[2]), "=f"(o[3])
		     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
		       "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
	for (int i = 0; i < 4; i++)
		d[(gid + (i / 2) * 8) * 8 + tig * 2 + (i & 1)] = o[i];
}

/* D (8x8) = A (8x4) x B (4x8) + C in doubles (DMMA, what cuBLAS's, cuSOLVER's and cuSPARSE's
 * double-precision kernels use): lane l holds A[l/4][l%4], B[l%4][l/4] and C's row l/4,
 * columns 2(l%4) and 2(l%4)+1 */
__global__ void mma_f64(const double *a, const double *b, const double *cin, double *d)
{
	unsigned l = threadIdx.x, gid = l / 4, tig = l % 4;
	double ra = a[gid * 4 + tig], rb = b[tig * 8 + gid], c0 = cin[gid * 8 + tig * 2], c1 = cin[gid * 8 + tig * 2 + 1];
	double o0, o1;
	asm volatile("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0, %1}, {%2}, {%3}, {%4, %5};"
		     : "=d"(o0), "=d"(o1)
		     : "d"(ra), "d"(rb), "d"(c0), "d"(c1));
	d[gid * 8 + tig * 2] = o0;
	d[gid * 8 + tig * 2 + 1] = o1;
}

/* D (16x8, s32) = A (16xK) x B (Kx8) + C in 8-bit integers (K = 32 or 16), fragments built from
 * global memory as the ISA lays them out: A four (K=32) or two 8-bit elements to a register */
template <int K, bool UA, bool SAT>
__global__ void mma_int8(const signed char *a, const signed char *b, const int *cin, int *d)
{
	unsigned l = threadIdx.x, gid = l / 4, tig = l % 4;
	unsigned ra[4] = {0, 0, 0, 0}, rb[2] = {0, 0};
	for (int i = 0; i < K / 2; i++) {   /* a_i: row gid (+8 for the odd fours), column tig*4 + i%4 (+16) */
		unsigned row = gid + ((i / 4) & 1) * 8, col = tig * 4 + (i & 3) + (i / 8) * 16;
		ra[i / 4] |= (unsigned)(unsigned char)a[row * K + col] << (8 * (i & 3));
	}
	for (int i = 0; i < K / 4; i++) {   /* b_i: row tig*4 + i%4 (+16), column gid */
		unsigned k = tig * 4 + (i & 3) + (i / 4) * 16;
		rb[i / 4] |= (unsigned)(unsigned char)b[k * 8 + gid] << (8 * (i & 3));
	}
	int c[4], o[4];
	for (int i = 0; i < 4; i++)
		c[i] = cin[(gid + (i / 2) * 8) * 8 + tig * 2 + (i & 1)];
	if (K == 32 && UA && SAT)
		asm volatile("mma.sync.aligned.m16n8k32.row.col.satfinite.s32.u8.s8.s32 {%0, %1, %2, %3}, "
			     "{%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"
			     : "=r"(o[0]), "=r"(o[1]), "=r"(o[2]), "=r"(o[3])
			     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
			       "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]));
	else if (K == 32)
		asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, "
			     "{%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};"
			     : "=r"(o[0]), "=r"(o[1]), "=r"(o[2]), "=r"(o[3])
			     : "r"(ra[0]), "r"(ra[1]), "r"(ra[2]), "r"(ra[3]), "r"(rb[0]), "r"(rb[1]),
			       "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]));
	else
		asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, "
			     "{%4, %5}, {%6}, {%7, %8, %9, %10};"
			     : "=r"(o[0]), "=r"(o[1]), "=r"(o[2]), "=r"(o[3])
			     : "r"(ra[0]), "r"(ra[1]), "r"(rb[0]), "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]));
	for (int i = 0; i < 4; i++)
		d[(gid + (i / 2) * 8) * 8 + tig * 2 + (i & 1)] = o[i];
}

/* a small multiple of 1/2 from i (exact in every input type) */
static float val(int i, int salt) { return (float)(((i * 7 + salt * 13) % 9) - 4) * 0.5f; }

static unsigned short h16(float f) { return __half_raw(__float2half(f)).x; }
static unsigned short b16(float f) { return __nv_bfloat16_raw(__float2bfloat16(f)).x; }
static float from_h16(unsigned short u)
{
	__half_raw r;
	r.x = u;
	return __half2float(__half(r));
}

template <typename T> static T *dev(const T *h, size_t n)
{
	T *d;
	CHECK(cudaMalloc(&d, n * sizeof(T)));
	if (h)
		CHECK(cudaMemcpy(d, h, n * sizeof(T), cudaMemcpyHostToDevice));
	return d;
}

int main()
{
	/* 1-2. m16n8k16, f16 and bf16, through ldmatrix */
	for (int bf = 0; bf < 2; bf++) {
		float A[256], B[128], want[128], got[128];
		unsigned short ha[256], hb[128];
		for (int i = 0; i < 256; i++) {
			A[i] = val(i, 1);
			ha[i] = bf ? b16(A[i]) : h16(A[i]);
		}
		for (int i = 0; i < 128; i++) {
			B[i] = val(i, 2);
			hb[i] = bf ? b16(B[i]) : h16(B[i]);
		}
		for (int r = 0; r < 16; r++)
			for (int c = 0; c < 8; c++) {
				float s = 0;
				for (int k = 0; k < 16; k++)
					s += A[r * 16 + k] * B[k * 8 + c];
				want[r * 8 + c] = s;
			}
		unsigned short *da = dev(ha, 256), *db = dev(hb, 128);
		float *dd = dev<float>(NULL, 128);
		if (bf)
			mma_k16<true><<<1, 32>>>(da, db, dd);
		else
			mma_k16<false><<<1, 32>>>(da, db, dd);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got, dd, sizeof(got), cudaMemcpyDeviceToHost));
		VERIFY(got, want, 128, 0, bf ? "mma m16n8k16 bf16 (ldmatrix x4, x2.trans)" : "mma m16n8k16 f16 (ldmatrix x4, x2.trans)");
		CHECK(cudaFree(da));
		CHECK(cudaFree(db));
		CHECK(cudaFree(dd));
	}

	/* 3. m16n8k8 with f16 accumulators, and ldmatrix.x1.trans against the ISA's layout */
	{
		float A[128], B[64], C[128], want[128], got[128];
		unsigned short ha[128], hb[64], hc[128], hd[128];
		unsigned x1[32];
		for (int i = 0; i < 128; i++) {
			A[i] = val(i, 3);
			C[i] = val(i, 5);
			ha[i] = h16(A[i]);
			hc[i] = h16(C[i]);
		}
		for (int i = 0; i < 64; i++) {
			B[i] = val(i, 4);
			hb[i] = h16(B[i]);
		}
		for (int r = 0; r < 16; r++)
			for (int c = 0; c < 8; c++) {
				float s = C[r * 8 + c];
				for (int k = 0; k < 8; k++)
					s += A[r * 8 + k] * B[k * 8 + c];
				want[r * 8 + c] = s;
			}
		unsigned short *da = dev(ha, 128), *db = dev(hb, 64), *dc = dev(hc, 128), *dd = dev<unsigned short>(NULL, 128);
		unsigned *dx = dev<unsigned>(NULL, 32);
		mma_k8_f16<<<1, 32>>>(da, db, dc, dd, dx);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(hd, dd, sizeof(hd), cudaMemcpyDeviceToHost));
		CHECK(cudaMemcpy(x1, dx, sizeof(x1), cudaMemcpyDeviceToHost));
		for (int i = 0; i < 128; i++)
			got[i] = from_h16(hd[i]);
		VERIFY(got, want, 128, 0, "mma m16n8k8 f16 accumulators");
		for (int l = 0; l < 32; l++)
			EXPECT(x1[l] == 0, "ldmatrix.x1.trans: lane %d's register differs from the ISA's layout by 0x%x", l,
			       x1[l]);
		printf("ldmatrix x1.trans: 32 lanes as the ISA lays out B\n");
		/* movmatrix: the same fragment transposed in the warp's registers */
		unsigned mv[32];
		for (unsigned seed = 1; seed <= 3; seed++) {
			movmatrix_trans<<<1, 32>>>(seed, dx);
			CHECK(cudaGetLastError());
			CHECK(cudaMemcpy(mv, dx, sizeof(mv), cudaMemcpyDeviceToHost));
			for (int l = 0; l < 32; l++)
				EXPECT(mv[l] == 0, "movmatrix.trans: lane %d's register differs from the transposed layout by 0x%x",
				       l, mv[l]);
		}
		printf("movmatrix trans: 3 matrices, 32 lanes as the transpose lays them out\n");
		CHECK(cudaFree(da));
		CHECK(cudaFree(db));
		CHECK(cudaFree(dc));
		CHECK(cudaFree(dd));
		CHECK(cudaFree(dx));
	}

	/* 4. m16n8k8 in tf32 */
	{
		float A[128], B[64], C[128], want[128], got[128];
		for (int i = 0; i < 128; i++) {
			A[i] = val(i, 6);
			C[i] = val(i, 8);
		}
		for (int i = 0; i < 64; i++)
			B[i] = val(i, 7);
		for (int r = 0; r < 16; r++)
			for (int c = 0; c < 8; c++) {
				float s = C[r * 8 + c];
				for (int k = 0; k < 8; k++)
					s += A[r * 8 + k] * B[k * 8 + c];
				want[r * 8 + c] = s;
			}
		float *da = dev(A, 128), *db = dev(B, 64), *dc = dev(C, 128), *dd = dev<float>(NULL, 128);
		mma_k8_tf32<<<1, 32>>>(da, db, dc, dd);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got, dd, sizeof(got), cudaMemcpyDeviceToHost));
		VERIFY(got, want, 128, 0, "mma m16n8k8 tf32");
		CHECK(cudaFree(da));
		CHECK(cudaFree(db));
		CHECK(cudaFree(dc));
		CHECK(cudaFree(dd));
	}
	/* 5-7. 8-bit integers: m16n8k32 s8 x s8, u8 x s8 saturating (C near the s32 limit), m16n8k16 */
	for (int form = 0; form < 3; form++) {
		int K = form == 2 ? 16 : 32;
		signed char A[16 * 32], B[32 * 8];
		int C[128], got[128];
		long long want[128];
		for (int i = 0; i < 16 * K; i++)
			A[i] = (signed char)((i * 37 + 11) % 251 - 125);
		for (int i = 0; i < K * 8; i++)
			B[i] = (signed char)((i * 53 + 7) % 241 - 120);
		for (int i = 0; i < 128; i++)
			C[i] = form == 1 ? (i % 2 ? 2147483000 : -2147483000) : i * 1000 - 64000;
		for (int r = 0; r < 16; r++)
			for (int c = 0; c < 8; c++) {
				long long s = C[r * 8 + c];
				for (int k = 0; k < K; k++)
					s += (long long)(form == 1 ? (int)(unsigned char)A[r * K + k] : (int)A[r * K + k]) *
					     B[k * 8 + c];
				if (form == 1)
					s = s > 2147483647LL ? 2147483647LL : s < -2147483648LL ? -2147483648LL : s;
				want[r * 8 + c] = s;
			}
		signed char *da, *db;
		int *dc, *dd;
		CHECK(cudaMalloc(&da, sizeof(A)));
		CHECK(cudaMalloc(&db, sizeof(B)));
		CHECK(cudaMalloc(&dc, sizeof(C)));
		CHECK(cudaMalloc(&dd, sizeof(got)));
		CHECK(cudaMemcpy(da, A, sizeof(A), cudaMemcpyHostToDevice));
		CHECK(cudaMemcpy(db, B, sizeof(B), cudaMemcpyHostToDevice));
		CHECK(cudaMemcpy(dc, C, sizeof(C), cudaMemcpyHostToDevice));
		if (form == 0)
			mma_int8<32, false, false><<<1, 32>>>(da, db, dc, dd);
		else if (form == 1)
			mma_int8<32, true, true><<<1, 32>>>(da, db, dc, dd);
		else
			mma_int8<16, false, false><<<1, 32>>>(da, db, dc, dd);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got, dd, sizeof(got), cudaMemcpyDeviceToHost));
		for (int i = 0; i < 128; i++)
			EXPECT(got[i] == (int)want[i], "int8 form %d: element %d is %d, expected %lld", form, i, got[i],
			       want[i]);
		printf("%s: 128 values verified\n", form == 0 ? "mma m16n8k32 s8 x s8" : form == 1 ?
		       "mma m16n8k32 u8 x s8 saturating" : "mma m16n8k16 s8 x s8");
		CHECK(cudaFree(da));
		CHECK(cudaFree(db));
		CHECK(cudaFree(dc));
		CHECK(cudaFree(dd));
	}
	{
		/* doubles: quarters and small integers, so every sum is exact however it is ordered */
		double A[32], B[32], C[64], got[64], want[64];
		for (int i = 0; i < 32; i++) {
			A[i] = val(i, 5) * 0.5;
			B[i] = val(i, 6);
		}
		for (int i = 0; i < 64; i++)
			C[i] = val(i, 7) * 0.25;
		for (int r = 0; r < 8; r++)
			for (int c = 0; c < 8; c++) {
				double s = C[r * 8 + c];
				for (int k = 0; k < 4; k++)
					s += A[r * 4 + k] * B[k * 8 + c];
				want[r * 8 + c] = s;
			}
		double *da = dev(A, 32), *db = dev(B, 32), *dc = dev(C, 64), *dd = dev<double>(NULL, 64);
		mma_f64<<<1, 32>>>(da, db, dc, dd);
		CHECK(cudaGetLastError());
		CHECK(cudaMemcpy(got, dd, sizeof(got), cudaMemcpyDeviceToHost));
		VERIFY(got, want, 64, 0, "mma m8n8k4 f64 (fragments from the ISA's layout)");
		CHECK(cudaFree(da));
		CHECK(cudaFree(db));
		CHECK(cudaFree(dc));
		CHECK(cudaFree(dd));
	}
	CHECK(cudaDeviceSynchronize());
	printf("PASS mma_sync\n");
	return 0;
}
