// SPDX-License-Identifier: MIT
// vkfft — VkFFT's CUDA backend (Debian's libvkfft-dev: a header-only FFT library, no part of
// the toolkit) as a program uses it: at plan time it writes CUDA C for each transform, compiles
// it with NVRTC, loads the PTX with cuModuleLoadDataEx, reads and writes its constants through
// cuModuleGetGlobal, raises the kernels' dynamic shared memory with cuFuncSetAttribute; at run
// time it launches with cuLaunchKernel on the program's stream; Bluestein's algorithm (prime
// sizes) takes its buffers with cudaMalloc. Every transform is checked against a host DFT.
//
// Prints the same lines on every run of the same build (sizes, "verified", the error rounded
// up to a power of ten), so its output directly on the driver and through vgpu can be diffed.
// Exit 0 = all verified, 1 = a failure.
#define VKFFT_BACKEND 1
#include <vkFFT.h>
#include <vector>
#include "gpucheck.h"

#define CHECK_CU(call)                                                                        \
	do {                                                                                  \
		CUresult r_ = (call);                                                         \
		if (r_ != CUDA_SUCCESS) {                                                     \
			const char *n_ = "?";                                                 \
			cuGetErrorName(r_, &n_);                                              \
			printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, n_);      \
			exit(1);                                                              \
		}                                                                             \
	} while (0)

#define CHECK_VK(call)                                                                        \
	do {                                                                                  \
		VkFFTResult r_ = (call);                                                      \
		if (r_ != VKFFT_SUCCESS) {                                                    \
			cudaError_t e_ = cudaGetLastError();                                  \
			printf("FAIL %s:%d: %s: VkFFT error %d (last runtime error %s)\n",   \
			       __FILE__, __LINE__, #call, (int)r_, cudaGetErrorName(e_));    \
			exit(1);                                                              \
		}                                                                             \
	} while (0)

/* A fixed pattern in [-1, 1): identical on every run. */
static void fill(std::vector<double> &v, unsigned seed)
{
	unsigned x = seed * 2654435761u + 7;
	for (auto &e : v) {
		x = x * 1664525u + 1013904223u;
		e = (double)((int)(x >> 20) - 2048) / 2048.0;
	}
}

/* The host's reference: the naive DFT of a complex (interleaved) sequence of n elements taken
 * every `stride` complex elements, with the sign of VkFFT's direction (-1 forward). */
static void dft(const double *in, long n, long stride, int sign, double *out)
{
	for (long k = 0; k < n; k++) {
		double sr = 0, si = 0;
		for (long j = 0; j < n; j++) {
			double a = sign * 2 * M_PI * (double)((j * k) % n) / n;
			double re = in[2 * j * stride], im = in[2 * j * stride + 1];
			sr += re * std::cos(a) - im * std::sin(a);
			si += re * std::sin(a) + im * std::cos(a);
		}
		out[2 * k * stride] = sr, out[2 * k * stride + 1] = si;
	}
}

/* The DFT of a batch of nx*ny (x fastest) complex elements in both dimensions. */
static std::vector<double> dft2(const std::vector<double> &in, long nx, long ny, long batch, int sign)
{
	std::vector<double> a(in), b(in.size());
	for (long t = 0; t < batch; t++) {
		double *p = a.data() + 2 * t * nx * ny, *q = b.data() + 2 * t * nx * ny;
		for (long y = 0; y < ny; y++)
			dft(p + 2 * y * nx, nx, 1, sign, q + 2 * y * nx);
		for (long x = 0; x < nx; x++)
			dft(q + 2 * x, ny, nx, sign, p + 2 * x);
	}
	return a;
}

/* Largest |got - want| over the largest |want|. */
static double rel_error(const std::vector<double> &got, const std::vector<double> &want)
{
	double e = 0, m = 0;
	for (size_t i = 0; i < want.size(); i++) {
		e = std::fmax(e, std::fabs(got[i] - want[i]));
		m = std::fmax(m, std::fabs(want[i]));
	}
	return m > 0 ? e / m : e;
}

static CUdevice dev;
static cudaStream_t stream;

/*
 * One VkFFT plan over one device buffer of `bytes` bytes, in place: the host's values go in as
 * floats or doubles, each transform runs on the program's stream, and the values come back
 * as doubles. The buffer and the plan end with it.
 */
struct Plan {
	VkFFTApplication app = {};
	void *buf = nullptr;
	uint64_t bytes;
	bool dbl;

	/* conf: the sizes and options; the device, stream and buffer are filled in here */
	Plan(VkFFTConfiguration conf, uint64_t nbytes, bool is_double) : bytes(nbytes), dbl(is_double)
	{
		CHECK_RT(cudaMalloc(&buf, bytes));
		conf.doublePrecision = dbl;
		conf.device = &dev;
		conf.stream = &stream;
		conf.num_streams = 1;
		conf.buffer = &buf;
		conf.bufferSize = &bytes;
		CHECK_VK(initializeVkFFT(&app, conf));
	}
	~Plan()
	{
		deleteVkFFT(&app);
		CHECK_RT(cudaFree(buf));
	}
	size_t count() const { return bytes / (dbl ? sizeof(double) : sizeof(float)); }
	void put(const std::vector<double> &v)
	{
		std::vector<char> host(bytes, 0);
		for (size_t i = 0; i < v.size() && i < count(); i++) {
			if (dbl)
				((double *)host.data())[i] = v[i];
			else
				((float *)host.data())[i] = (float)v[i];
		}
		CHECK_RT(cudaMemcpy(buf, host.data(), bytes, cudaMemcpyHostToDevice));
	}
	/* dir -1 forward, 1 backward; the first n values afterwards */
	std::vector<double> run(int dir, size_t n)
	{
		VkFFTLaunchParams lp = {};
		lp.buffer = &buf;
		CHECK_VK(VkFFTAppend(&app, dir, &lp));
		CHECK_RT(cudaStreamSynchronize(stream));
		std::vector<char> host(bytes);
		CHECK_RT(cudaMemcpy(host.data(), buf, bytes, cudaMemcpyDeviceToHost));
		std::vector<double> v(n);
		for (size_t i = 0; i < n; i++)
			v[i] = dbl ? ((double *)host.data())[i] : ((float *)host.data())[i];
		return v;
	}
};

/* A 1D (ny = 1) or 2D plan of nx x ny elements, complex unless r2c, in a batch. */
static VkFFTConfiguration config(long nx, long ny, long batch, bool r2c)
{
	VkFFTConfiguration conf = {};
	conf.FFTdim = ny > 1 ? 2 : 1;
	conf.size[0] = nx;
	conf.size[1] = ny;
	conf.size[2] = 1;
	conf.numberBatches = batch;
	conf.performR2C = r2c;
	conf.normalize = 1;
	return conf;
}

/* Checks one result against the host's, naming the step. */
static void check(const char *what, const char *step, const std::vector<double> &got, const std::vector<double> &want,
		  double tol)
{
	char line[160];
	snprintf(line, sizeof line, "%s %s", what, step);
	print_error_bucket(line, rel_error(got, want), tol);
}

/* A complex-to-complex plan of nx x ny (ny = 1: 1D) in a batch, in single or double precision,
 * run forward then backward (normalized) in place; both checked against the host. */
static void c2c(const char *what, long nx, long ny, long batch, bool dbl)
{
	long n = nx * ny * batch;
	std::vector<double> x(2 * n);
	fill(x, (unsigned)(nx * 31 + ny * 7 + batch));
	Plan p(config(nx, ny, batch, false), 2 * n * (dbl ? sizeof(double) : sizeof(float)), dbl);
	p.put(x);
	double tol = dbl ? 1e-12 : 1e-5;
	check(what, "forward", p.run(-1, 2 * n), dft2(x, nx, ny, batch, -1), tol);
	check(what, "forward and back", p.run(1, 2 * n), x, tol);
}

/* A plan too large for one kernel's shared memory (VkFFT's four-step algorithm: several kernels,
 * a temporary buffer of its own): a sum of two tones, whose transform is two spikes, forward;
 * then back to the tones. */
static void tones(long n)
{
	const long k1 = 3, k2 = n / 2 + 17;
	std::vector<double> x(2 * n), want(2 * n, 0.0);
	for (long j = 0; j < n; j++) {
		double a1 = 2 * M_PI * (double)((j * k1) % n) / n, a2 = 2 * M_PI * (double)((j * k2) % n) / n;
		x[2 * j] = std::cos(a1) + 0.5 * std::cos(a2);
		x[2 * j + 1] = std::sin(a1) + 0.5 * std::sin(a2);
	}
	want[2 * k1] = (double)n, want[2 * k2] = 0.5 * (double)n;
	Plan p(config(n, 1, 1, false), 2 * n * sizeof(float), false);
	p.put(x);
	char what[64];
	snprintf(what, sizeof what, "C2C %ld single (four-step)", n);
	check(what, "forward", p.run(-1, 2 * n), want, 1e-5);
	check(what, "forward and back", p.run(1, 2 * n), x, 1e-5);
}

/* A real-to-complex plan of n reals in single precision: VkFFT works in place on n + 2 floats
 * (n / 2 + 1 complex outputs); forward checked against the DFT's first half, back to the reals. */
static void r2c(long n)
{
	std::vector<double> x(n);
	fill(x, (unsigned)n);
	Plan p(config(n, 1, 1, true), (n + 2) * sizeof(float), false);
	p.put(x);
	std::vector<double> cx(2 * n, 0.0), full(2 * n);
	for (long i = 0; i < n; i++)
		cx[2 * i] = x[i];
	dft(cx.data(), n, 1, -1, full.data());
	char what[64];
	snprintf(what, sizeof what, "R2C %ld", n);
	check(what, "forward", p.run(-1, n + 2), std::vector<double>(full.begin(), full.begin() + n + 2), 1e-5);
	check(what, "forward and back", p.run(1, n), x, 1e-5);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		printf("usage: vkfft\nRuns VkFFT's CUDA backend (NVRTC-compiled kernels) on device 0 and "
		       "checks every transform against a host DFT.\n");
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	CHECK_RT(cudaSetDevice(0));
	CHECK_RT(cudaFree(0)); /* the runtime's primary context, which VkFFT's driver calls use */
	CHECK_CU(cuDeviceGet(&dev, 0));
	CHECK_RT(cudaStreamCreate(&stream));

	c2c("C2C 1024 single", 1024, 1, 1, false);
	c2c("C2C 48x36 single, batch 2", 48, 36, 2, false);
	c2c("C2C 512 double", 512, 1, 1, true);
	c2c("C2C 97 single (Bluestein)", 97, 1, 1, false);
	r2c(256);
	tones(1L << 16);

	CHECK_RT(cudaStreamDestroy(stream));
	printf("vkfft: all transforms verified\n");
	return 0;
}
