// SPDX-License-Identifier: MIT
// Ordinary kernels shared by the simulator tests and the end-to-end tests: arithmetic,
// shared memory with barriers, atomics, grid-stride loops, mixed parameters, device globals,
// warp shuffles and votes, device printf.
#include <stdint.h>
#include <stdio.h>

extern "C" __global__ void vec_add(const float *a, const float *b, float *c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        c[i] = a[i] + b[i];
}

extern "C" __global__ void saxpy(int n, float a, const float *x, float *y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = a * x[i] + y[i];
}

extern "C" __global__ void int_ops(const int *a, const int *b, int *out, unsigned *uout,
                                   long long *lout, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int x = a[i], y = b[i];
    unsigned ux = (unsigned)x, uy = (unsigned)y;
    out[i * 8 + 0] = x * y - (x >> 3);
    out[i * 8 + 1] = y != 0 ? x / y : -1;
    out[i * 8 + 2] = y != 0 ? x % y : -2;
    out[i * 8 + 3] = min(x, y) ^ max(x, y);
    out[i * 8 + 4] = (x & 0xff0f) | (y << 4);
    out[i * 8 + 5] = abs(x) + (~y);
    out[i * 8 + 6] = __mulhi(x, y);
    out[i * 8 + 7] = (x < y && ux > 7) || y == 3;
    uout[i * 4 + 0] = uy != 0 ? ux / uy : 0u;
    uout[i * 4 + 1] = uy != 0 ? ux % uy : 0u;
    uout[i * 4 + 2] = ux >> (uy & 31);
    uout[i * 4 + 3] = __umulhi(ux, uy);
    lout[i * 2 + 0] = (long long)x * (long long)y;
    lout[i * 2 + 1] = ((long long)x << 20) / ((long long)(y | 1));
}

extern "C" __global__ void block_reduce(const float *in, float *out, int n)
{
    __shared__ float buf[256];
    int t = threadIdx.x;
    int i = blockIdx.x * blockDim.x + t;
    buf[t] = i < n ? in[i] : 0.0f;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s)
            buf[t] += buf[t + s];
        __syncthreads();
    }
    if (t == 0)
        out[blockIdx.x] = buf[0];
}

extern "C" __global__ void histogram(const unsigned char *data, int n, unsigned *bins)
{
    __shared__ unsigned local[16];
    if (threadIdx.x < 16)
        local[threadIdx.x] = 0;
    __syncthreads();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        atomicAdd(&local[data[i] & 15], 1u);
    __syncthreads();
    if (threadIdx.x < 16)
        atomicAdd(&bins[threadIdx.x], local[threadIdx.x]);
}

extern "C" __global__ void atomics(int *v, unsigned *u, float *f)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(&v[0], t);
    atomicMax(&v[1], t);
    atomicMin(&v[2], -t);
    atomicOr(&u[0], 1u << (t & 31));
    atomicXor(&u[1], (unsigned)t);
    atomicAnd(&u[2], ~(1u << (t & 31)));
    atomicCAS(&v[3], t, t + 1000);
    atomicExch(&v[4], 7);
    atomicAdd(&f[0], 0.5f);
    atomicInc(&u[3], 1000000u);
}

extern "C" __global__ void grid_stride(double *y, const double *x, long long n, double k)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x)
        y[i] = sqrt(x[i]) * k + (double)i / 3.0;
}

struct params {
    int a;
    double b;
    char c;
    float d[3];
    short e;
};

extern "C" __global__ void many_params(char c, short s, int i, long long ll, float f,
                                       double d, struct params p, unsigned char uc,
                                       double *out)
{
    if (threadIdx.x != 0 || blockIdx.x != 0)
        return;
    out[0] = c; out[1] = s; out[2] = i; out[3] = (double)ll; out[4] = f; out[5] = d;
    out[6] = p.a; out[7] = p.b; out[8] = p.c; out[9] = p.d[0]; out[10] = p.d[1];
    out[11] = p.d[2]; out[12] = p.e; out[13] = uc;
}

__device__ int dev_counter;
__device__ float dev_table[8];

extern "C" __global__ void use_globals(int *out)
{
    int t = threadIdx.x;
    if (t < 8)
        dev_table[t] = dev_table[t] * 2.0f + (float)dev_counter;
    __syncthreads();
    if (t == 0) {
        out[0] = dev_counter;
        dev_counter = dev_counter + 100;
    }
}

/* One line of device output from thread 0 (a zone's printed text, carried by checkpoints). */
extern "C" __global__ void say(int k)
{
    if (threadIdx.x == 0)
        printf("kernel says %d\n", k);
}

__device__ __noinline__ float poly(float x, int k)
{
    float r = 0.0f;
    for (int j = 0; j < k; j++)
        r = r * x + (float)(j + 1);
    return r;
}

extern "C" __global__ void call_func(const float *x, float *y, int n, int k)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        y[i] = poly(x[i], k);
}

extern "C" __global__ void float_ops(const float *x, float *y, double *z, int *iz, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float v = x[i];
    y[i * 8 + 0] = sqrtf(fabsf(v));
    y[i * 8 + 1] = 1.0f / (v + 10.0f);
    y[i * 8 + 2] = __expf(v * 0.1f);
    y[i * 8 + 3] = __logf(fabsf(v) + 1.0f);
    y[i * 8 + 4] = __sinf(v) + __cosf(v);
    y[i * 8 + 5] = fminf(v, 2.0f) + fmaxf(v, -2.0f);
    y[i * 8 + 6] = rsqrtf(fabsf(v) + 1.0f);
    y[i * 8 + 7] = fmaf(v, v, -v) / 3.0f;
    z[i * 2 + 0] = (double)v * 1.5 - 2.0 / ((double)v + 100.0);
    z[i * 2 + 1] = floor((double)v * 0.7);
    iz[i * 2 + 0] = (int)(v * 3.7f);
    iz[i * 2 + 1] = __float2int_rn(v * 2.5f);
}

extern "C" __global__ void warp_ops(const int *in, int *out, unsigned *ballots)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int v = in[t];
    int s = v;
    for (int o = 16; o > 0; o >>= 1)
        s += __shfl_down_sync(0xffffffffu, s, o);
    int x = v;
    for (int o = 1; o < 32; o <<= 1)
        x = max(x, __shfl_xor_sync(0xffffffffu, x, o));
    int b = __shfl_sync(0xffffffffu, v, 7);
    int up = v;
    for (int o = 1; o < 32; o <<= 1) {
        int y = __shfl_up_sync(0xffffffffu, up, o);
        if ((threadIdx.x & 31) >= o)
            up += y;
    }
    unsigned bal = __ballot_sync(0xffffffffu, v & 1);
    int any = __any_sync(0xffffffffu, v > 100);
    int all = __all_sync(0xffffffffu, v >= 0);
    __syncwarp();
    unsigned am = __activemask();
    out[t * 6 + 0] = s;
    out[t * 6 + 1] = x;
    out[t * 6 + 2] = b;
    out[t * 6 + 3] = up;
    out[t * 6 + 4] = any | (all << 1);
    out[t * 6 + 5] = (int)am;
    if ((threadIdx.x & 31) == 0)
        ballots[t / 32] = bal;
}

extern "C" __global__ void warp_match(const int *in, unsigned *out)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int pred;
    unsigned any = __match_any_sync(0xffffffffu, in[t] % 5);
    unsigned all = __match_all_sync(0xffffffffu, in[t] / 1000, &pred);
    out[t * 3 + 0] = any;
    out[t * 3 + 1] = all;
    out[t * 3 + 2] = pred;
}

struct big {
    float v[8];
    int n;
};

__constant__ float coeffs[4];

/* 2D grid and block, dynamic shared memory, a dynamically indexed local array, a struct
 * read through the parameter space, __constant__ data, __ldg, 64-bit and double atomics. */
extern "C" __global__ void features(const struct big p, float *out, const float *__restrict__ in,
                                    double *dacc, unsigned long long *uacc, int k)
{
    extern __shared__ float dyn[];
    int t = threadIdx.y * blockDim.x + threadIdx.x;
    int gid = (blockIdx.y * gridDim.x + blockIdx.x) * (blockDim.x * blockDim.y) + t;
    float local[16];
    for (int i = 0; i < 16; i++)
        local[i] = in[(gid + i) % 64] * (float)i;
    dyn[t] = local[(t + k) & 15] + p.v[t & 7] + coeffs[t & 3] + (float)p.n;
    __syncthreads();
    float s = dyn[(t + 1) % (blockDim.x * blockDim.y)];
    out[gid] = s + __ldg(&in[gid % 64]);
    atomicAdd(dacc, (double)gid);
    atomicMax(uacc, (unsigned long long)gid * 1000000007ull);
    atomicAdd(uacc + 1, 1ull);
}

extern "C" __global__ void oob_write(int *p, long long off)
{
    p[off] = 1;
}
