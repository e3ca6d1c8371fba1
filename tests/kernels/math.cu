// SPDX-License-Identifier: MIT
// Kernels whose PTX exercises the less common parts of the interpreter: a tiled matrix
// multiply, the accurate single and double precision math library (carry-chain argument
// reduction, directed rounding), bit manipulation intrinsics, conversions, half precision.
#include <cuda_fp16.h>
#include <stdint.h>

#define TILE 16

extern "C" __global__ void matmul(const float *A, const float *B, float *C, int n)
{
    __shared__ float As[TILE][TILE], Bs[TILE][TILE];
    int r = blockIdx.y * TILE + threadIdx.y, c = blockIdx.x * TILE + threadIdx.x;
    float acc = 0;
    for (int t = 0; t < (n + TILE - 1) / TILE; t++) {
        As[threadIdx.y][threadIdx.x] = (r < n && t * TILE + threadIdx.x < n) ? A[r * n + t * TILE + threadIdx.x] : 0;
        Bs[threadIdx.y][threadIdx.x] = (c < n && t * TILE + threadIdx.y < n) ? B[(t * TILE + threadIdx.y) * n + c] : 0;
        __syncthreads();
        for (int k = 0; k < TILE; k++)
            acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
        __syncthreads();
    }
    if (r < n && c < n)
        C[r * n + c] = acc;
}

extern "C" __global__ void mathf(const float *x, float *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float v = x[i];
    y[i * 12 + 0] = expf(v);
    y[i * 12 + 1] = logf(fabsf(v) + 1);
    y[i * 12 + 2] = sinf(v);
    y[i * 12 + 3] = cosf(v);
    y[i * 12 + 4] = powf(fabsf(v), 1.5f);
    y[i * 12 + 5] = tanhf(v);
    y[i * 12 + 6] = floorf(v) + ceilf(v) + roundf(v) + truncf(v);
    y[i * 12 + 7] = sqrtf(fabsf(v));
    y[i * 12 + 8] = atan2f(v, 1.5f);
    y[i * 12 + 9] = fmodf(v, 0.7f);
    y[i * 12 + 10] = erff(v);
    y[i * 12 + 11] = v / 3.3f;
}

extern "C" __global__ void mathd(const double *x, double *y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    double v = x[i];
    y[i * 6 + 0] = exp(v);
    y[i * 6 + 1] = log(fabs(v) + 1);
    y[i * 6 + 2] = sin(v);
    y[i * 6 + 3] = pow(fabs(v), 1.5);
    y[i * 6 + 4] = v / 3.3;
    y[i * 6 + 5] = sqrt(fabs(v)) + rsqrt(fabs(v) + 1);
}

extern "C" __global__ void bits(const unsigned *a, const unsigned long long *b, unsigned *o,
                                unsigned long long *o2, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    unsigned x = a[i];
    unsigned long long y = b[i];
    o[i * 8 + 0] = __popc(x);
    o[i * 8 + 1] = __clz(x);
    o[i * 8 + 2] = __brev(x);
    o[i * 8 + 3] = __ffs(x);
    o[i * 8 + 4] = __byte_perm(x, x >> 3, 0x3210 ^ (i & 7));
    o[i * 8 + 5] = __popcll(y);
    o[i * 8 + 6] = __clzll(y);
    o[i * 8 + 7] = __funnelshift_l(x, x * 3, i);
    o2[(i + 1) * 4 + 0] = y / (x | 1);
    o2[(i + 1) * 4 + 1] = y % (x | 1);
    o2[(i + 1) * 4 + 2] = (long long)y / -(long long)(x | 1);
    o2[(i + 1) * 4 + 3] = __umul64hi(y, y);
    atomicCAS(&o2[0], 0ull, 12345ull);
    atomicAdd(&o2[1], y);
}

extern "C" __global__ void conv(const float *f, const double *d, int *i32, long long *i64,
                                unsigned *u32, float *fo, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    i32[i] = (int)f[i] + __float2int_rd(f[i]) + __float2int_ru(f[i]) + (int)d[i];
    i64[i] = (long long)d[i] + __double2ll_rn(d[i]);
    u32[i] = (unsigned)fabsf(f[i]) + __float2uint_rn(fabsf(f[i]));
    fo[i] = (float)d[i] + __int2float_rz(i * 1000003) + __uint2float_rn(u32[i]) + (float)(i64[i] >> 2);
}

extern "C" __global__ void half_ops(const float *x, float *y, __half *h, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    __half a = __float2half(x[i]), b = __float2half(x[i] * 0.25f + 1.0f);
    __half s = __hadd(a, b), p = __hmul(a, b), f = __hfma(a, b, s), d = __hsub(a, b);
    __half2 v = __halves2half2(a, b), w = __hmul2(v, v);
    __half2 z = __hfma2(v, w, v);
    y[i * 8 + 0] = __half2float(s);
    y[i * 8 + 1] = __half2float(p);
    y[i * 8 + 2] = __half2float(f);
    y[i * 8 + 3] = __half2float(d);
    y[i * 8 + 4] = __low2float(z);
    y[i * 8 + 5] = __high2float(z);
    y[i * 8 + 6] = __hlt(a, b) ? 1.0f : 0.0f;
    y[i * 8 + 7] = __half2float(__hmax(a, b)) + __half2float(__hneg(a));
    h[i] = __hdiv(a, b);
}

// Legacy warp-synchronous reduction (the old CUDA samples' reduce6 tail): the last 32 threads
// exchange partial sums through volatile shared memory without __syncwarp, relying on
// lockstep execution.
__device__ void warp_tail(volatile float *s, int t)
{
    s[t] += s[t + 32];
    s[t] += s[t + 16];
    s[t] += s[t + 8];
    s[t] += s[t + 4];
    s[t] += s[t + 2];
    s[t] += s[t + 1];
}

extern "C" __global__ void legacy_reduce(const float *g, float *o, unsigned n)
{
    extern __shared__ float s[];
    unsigned t = threadIdx.x, i = blockIdx.x * 512 + t, stride = 512 * gridDim.x;
    float sum = 0;
    while (i < n) {
        sum += g[i];
        if (i + 256 < n)
            sum += g[i + 256];
        i += stride;
    }
    s[t] = sum;
    __syncthreads();
    if (t < 128)
        s[t] = sum = sum + s[t + 128];
    __syncthreads();
    if (t < 64)
        s[t] = sum = sum + s[t + 64];
    __syncthreads();
    if (t < 32)
        warp_tail(s, t);
    if (t == 0)
        o[blockIdx.x] = s[0];
}

// A struct passed by value and indexed by thread: nvcc takes the parameter's address
// (mov.b64 %rd, param) and loads through it (ld.param [%rd]).
struct table40 {
    int a[40];
};

extern "C" __global__ void struct_index(struct table40 s, int *out)
{
    int t = threadIdx.x;
    out[t] = s.a[t % 40] * 2;
}
