// SPDX-License-Identifier: MIT
// cufft_c2c — cuFFT transforms checked against a host DFT: 1D complex-to-complex forward +
// inverse in single precision, double precision (Z2Z), 2D and 3D, real-to-complex and back.
//
// Prints the same lines on every run of the same build (sizes, "verified", the error rounded
// up to a power of ten), so its output directly on the driver and through vgpu can be diffed.
// Exit 0 = all verified, 1 = a failure, 3 = the device cannot run cuFFT's kernels (no binary
// for it: cuFFT ships PTX for the kernels of these sizes, SASS only for others, such as
// large powers of two and large primes, which a device that runs PTX only cannot run).
#include <cufft.h>
#include <vector>
#include "gpucheck.h"

static const char *cufft_name(cufftResult r)
{
	switch (r) {
	case CUFFT_SUCCESS: return "CUFFT_SUCCESS";
	case CUFFT_INVALID_PLAN: return "CUFFT_INVALID_PLAN";
	case CUFFT_ALLOC_FAILED: return "CUFFT_ALLOC_FAILED";
	case CUFFT_INVALID_TYPE: return "CUFFT_INVALID_TYPE";
	case CUFFT_INVALID_VALUE: return "CUFFT_INVALID_VALUE";
	case CUFFT_INTERNAL_ERROR: return "CUFFT_INTERNAL_ERROR";
	case CUFFT_EXEC_FAILED: return "CUFFT_EXEC_FAILED";
	case CUFFT_SETUP_FAILED: return "CUFFT_SETUP_FAILED";
	case CUFFT_INVALID_SIZE: return "CUFFT_INVALID_SIZE";
	case CUFFT_UNALIGNED_DATA: return "CUFFT_UNALIGNED_DATA";
	case CUFFT_INVALID_DEVICE: return "CUFFT_INVALID_DEVICE";
	case CUFFT_NO_WORKSPACE: return "CUFFT_NO_WORKSPACE";
	case CUFFT_NOT_IMPLEMENTED: return "CUFFT_NOT_IMPLEMENTED";
	case CUFFT_NOT_SUPPORTED: return "CUFFT_NOT_SUPPORTED";
	default: return "CUFFT_(other)";
	}
}

#define CHECK_FFT(call) CHECK_LIB("cuFFT", cufftResult, CUFFT_SUCCESS, cufft_name, call)

/* A fixed pattern in [-1, 1): identical on every run. */
static void fill(std::vector<float> &v, unsigned seed)
{
	unsigned x = seed * 2654435761u + 7;
	for (auto &e : v) {
		x = x * 1664525u + 1013904223u;
		e = (float)((int)(x >> 20) - 2048) / 2048.0f;
	}
}

/* The naive O(n^2) DFT in double: out[k] = sum_j in[j] e^(sign 2 pi i j k / n). */
static void dft(const double *re, const double *im, int n, int sign, double *ore, double *oim)
{
	for (int k = 0; k < n; k++) {
		double sr = 0, si = 0;
		for (int j = 0; j < n; j++) {
			double a = sign * 2 * M_PI * (double)(((long)j * k) % n) / n;
			sr += re[j] * std::cos(a) - im[j] * std::sin(a);
			si += re[j] * std::sin(a) + im[j] * std::cos(a);
		}
		ore[k] = sr, oim[k] = si;
	}
}

/* Forward then inverse C2C of batch signals of length n (in place on the device); the
 * forward result is checked against the DFT, the inverse (divided by n) against the input.
 * Errors are relative to the largest magnitude of the expected values. */
static void c2c(int n, int batch, cudaStream_t s)
{
	std::vector<float> in((size_t)2 * n * batch), out(in.size());
	fill(in, (unsigned)n);
	cufftComplex *d;
	CHECK_RT(cudaMalloc(&d, in.size() * sizeof(float)));
	CHECK_RT(cudaMemcpy(d, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice));
	cufftHandle plan;
	CHECK_FFT(cufftPlan1d(&plan, n, CUFFT_C2C, batch));
	CHECK_FFT(cufftSetStream(plan, s));
	CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_FORWARD));
	CHECK_RT(cudaStreamSynchronize(s));
	CHECK_RT(cudaMemcpy(out.data(), d, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
	std::vector<double> re(n), im(n), wr(n), wi(n);
	double fwd = 0;
	for (int b = 0; b < batch; b++) {
		const float *x = &in[(size_t)2 * n * b], *y = &out[(size_t)2 * n * b];
		for (int j = 0; j < n; j++)
			re[j] = x[2 * j], im[j] = x[2 * j + 1];
		dft(re.data(), im.data(), n, -1, wr.data(), wi.data());
		double big = 0, err = 0;
		for (int k = 0; k < n; k++) {
			big = std::fmax(big, std::hypot(wr[k], wi[k]));
			err = std::fmax(err, std::hypot(y[2 * k] - wr[k], y[2 * k + 1] - wi[k]));
		}
		fwd = std::fmax(fwd, err / big);
	}
	CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_INVERSE));
	CHECK_RT(cudaStreamSynchronize(s));
	CHECK_RT(cudaMemcpy(out.data(), d, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
	{
		/* the time of one forward+inverse pair, to stderr (it differs between runs); the
		 * results were copied out above: unscaled, the values grow and may overflow here */
		const int reps = 20;
		cudaEvent_t e0, e1;
		CHECK_RT(cudaEventCreate(&e0));
		CHECK_RT(cudaEventCreate(&e1));
		CHECK_RT(cudaEventRecord(e0, s));
		for (int r = 0; r < reps; r++) {
			CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_FORWARD));
			CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_INVERSE));
		}
		CHECK_RT(cudaEventRecord(e1, s));
		CHECK_RT(cudaEventSynchronize(e1));
		float ms = 0;
		CHECK_RT(cudaEventElapsedTime(&ms, e0, e1));
		fprintf(stderr, "perf c2c n=%d batch=%d: %.1f us per forward+inverse\n", n, batch, ms * 1e3 / reps);
		CHECK_RT(cudaEventDestroy(e0));
		CHECK_RT(cudaEventDestroy(e1));
	}
	double inv = 0, big = 0;
	for (size_t i = 0; i < in.size(); i++)
		big = std::fmax(big, std::fabs(in[i]));
	for (size_t i = 0; i < in.size(); i++)
		inv = std::fmax(inv, std::fabs(out[i] / n - in[i]) / big);
	CHECK_FFT(cufftDestroy(plan));
	CHECK_RT(cudaFree(d));
	char what[64];
	printf("c2c n=%d batch=%d: forward and inverse\n", n, batch);
	snprintf(what, sizeof(what), "c2c n=%d forward", n);
	print_error_bucket(what, fwd, 1e-5);
	snprintf(what, sizeof(what), "c2c n=%d inverse/n", n);
	print_error_bucket(what, inv, 1e-5);
}

/* R2C of batch real signals of length n: n/2+1 outputs each, checked against the DFT. */
static void r2c(int n, int batch, cudaStream_t s)
{
	const int m = n / 2 + 1;
	std::vector<float> in((size_t)n * batch), out((size_t)2 * m * batch);
	fill(in, (unsigned)n + 99);
	float *din;
	cufftComplex *dout;
	CHECK_RT(cudaMalloc(&din, in.size() * sizeof(float)));
	CHECK_RT(cudaMalloc(&dout, out.size() * sizeof(float)));
	CHECK_RT(cudaMemcpy(din, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice));
	cufftHandle plan;
	CHECK_FFT(cufftPlan1d(&plan, n, CUFFT_R2C, batch));
	CHECK_FFT(cufftSetStream(plan, s));
	CHECK_FFT(cufftExecR2C(plan, din, dout));
	CHECK_RT(cudaStreamSynchronize(s));
	CHECK_RT(cudaMemcpy(out.data(), dout, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
	std::vector<double> re(n), im(n, 0.0), wr(n), wi(n);
	double worst = 0;
	for (int b = 0; b < batch; b++) {
		for (int j = 0; j < n; j++)
			re[j] = in[(size_t)n * b + j];
		dft(re.data(), im.data(), n, -1, wr.data(), wi.data());
		const float *y = &out[(size_t)2 * m * b];
		double big = 0, err = 0;
		for (int k = 0; k < m; k++) {
			big = std::fmax(big, std::hypot(wr[k], wi[k]));
			err = std::fmax(err, std::hypot(y[2 * k] - wr[k], y[2 * k + 1] - wi[k]));
		}
		worst = std::fmax(worst, err / big);
	}
	CHECK_FFT(cufftDestroy(plan));
	CHECK_RT(cudaFree(din));
	CHECK_RT(cudaFree(dout));
	char what[64];
	printf("r2c n=%d batch=%d: %d outputs each\n", n, batch, m);
	snprintf(what, sizeof(what), "r2c n=%d", n);
	print_error_bucket(what, worst, 1e-5);
}

/* Z2Z (double) forward of one signal of length n, checked against the DFT. */
static void z2z(int n, cudaStream_t s)
{
	std::vector<float> f((size_t)2 * n);
	fill(f, (unsigned)n + 7);
	std::vector<double> in(f.begin(), f.end()), out(in.size());
	cufftDoubleComplex *d;
	CHECK_RT(cudaMalloc(&d, in.size() * sizeof(double)));
	CHECK_RT(cudaMemcpy(d, in.data(), in.size() * sizeof(double), cudaMemcpyHostToDevice));
	cufftHandle plan;
	CHECK_FFT(cufftPlan1d(&plan, n, CUFFT_Z2Z, 1));
	CHECK_FFT(cufftSetStream(plan, s));
	CHECK_FFT(cufftExecZ2Z(plan, d, d, CUFFT_FORWARD));
	CHECK_RT(cudaStreamSynchronize(s));
	CHECK_RT(cudaMemcpy(out.data(), d, out.size() * sizeof(double), cudaMemcpyDeviceToHost));
	std::vector<double> re(n), im(n), wr(n), wi(n);
	for (int j = 0; j < n; j++)
		re[j] = in[2 * j], im[j] = in[2 * j + 1];
	dft(re.data(), im.data(), n, -1, wr.data(), wi.data());
	double big = 0, err = 0;
	for (int k = 0; k < n; k++) {
		big = std::fmax(big, std::hypot(wr[k], wi[k]));
		err = std::fmax(err, std::hypot(out[2 * k] - wr[k], out[2 * k + 1] - wi[k]));
	}
	CHECK_FFT(cufftDestroy(plan));
	CHECK_RT(cudaFree(d));
	char what[64];
	printf("z2z n=%d: forward\n", n);
	snprintf(what, sizeof(what), "z2z n=%d", n);
	print_error_bucket(what, err / big, 1e-12);
}

/* C2C forward over a row-major nx x ny (x nz) array: the DFT along each axis in turn. */
static void c2c_nd(int nx, int ny, int nz, cudaStream_t s)
{
	const int dims[3] = { nx, ny, nz }, rank = nz > 1 ? 3 : 2;
	const size_t total = (size_t)nx * ny * nz;
	std::vector<float> in(2 * total), out(in.size());
	fill(in, (unsigned)(nx * 31 + ny * 7 + nz));
	cufftComplex *d;
	CHECK_RT(cudaMalloc(&d, in.size() * sizeof(float)));
	CHECK_RT(cudaMemcpy(d, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice));
	cufftHandle plan;
	if (rank == 3)
		CHECK_FFT(cufftPlan3d(&plan, nx, ny, nz, CUFFT_C2C));
	else
		CHECK_FFT(cufftPlan2d(&plan, nx, ny, CUFFT_C2C));
	CHECK_FFT(cufftSetStream(plan, s));
	CHECK_FFT(cufftExecC2C(plan, d, d, CUFFT_FORWARD));
	CHECK_RT(cudaStreamSynchronize(s));
	CHECK_RT(cudaMemcpy(out.data(), d, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
	std::vector<double> re(total), im(total);
	for (size_t i = 0; i < total; i++)
		re[i] = in[2 * i], im[i] = in[2 * i + 1];
	/* axis a has length dims[a] and stride the product of the later dimensions */
	for (int a = 0; a < rank; a++) {
		size_t stride = 1;
		for (int b = a + 1; b < rank; b++)
			stride *= (size_t)dims[b];
		const int n = dims[a];
		std::vector<double> lr(n), li(n), wr(n), wi(n);
		for (size_t base = 0; base < total; base++) {
			if ((base / stride) % (size_t)n)
				continue; /* not the start of a line along axis a */
			for (int j = 0; j < n; j++)
				lr[j] = re[base + j * stride], li[j] = im[base + j * stride];
			dft(lr.data(), li.data(), n, -1, wr.data(), wi.data());
			for (int k = 0; k < n; k++)
				re[base + k * stride] = wr[k], im[base + k * stride] = wi[k];
		}
	}
	double big = 0, err = 0;
	for (size_t i = 0; i < total; i++) {
		big = std::fmax(big, std::hypot(re[i], im[i]));
		err = std::fmax(err, std::hypot(out[2 * i] - re[i], out[2 * i + 1] - im[i]));
	}
	CHECK_FFT(cufftDestroy(plan));
	CHECK_RT(cudaFree(d));
	char what[64];
	if (rank == 3)
		snprintf(what, sizeof(what), "c2c 3d %dx%dx%d", nx, ny, nz);
	else
		snprintf(what, sizeof(what), "c2c 2d %dx%d", nx, ny);
	printf("%s: forward\n", what);
	print_error_bucket(what, err / big, 1e-5);
}

/* R2C then C2R of one real signal: the round trip divided by n gives the input back. */
static void r2c_c2r(int n, cudaStream_t s)
{
	std::vector<float> in(n), back(n);
	fill(in, (unsigned)n + 3);
	float *dr;
	cufftComplex *dc;
	CHECK_RT(cudaMalloc(&dr, n * sizeof(float)));
	CHECK_RT(cudaMalloc(&dc, (n / 2 + 1) * sizeof(cufftComplex)));
	CHECK_RT(cudaMemcpy(dr, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));
	cufftHandle fwd, inv;
	CHECK_FFT(cufftPlan1d(&fwd, n, CUFFT_R2C, 1));
	CHECK_FFT(cufftPlan1d(&inv, n, CUFFT_C2R, 1));
	CHECK_FFT(cufftSetStream(fwd, s));
	CHECK_FFT(cufftSetStream(inv, s));
	CHECK_FFT(cufftExecR2C(fwd, dr, dc));
	CHECK_FFT(cufftExecC2R(inv, dc, dr));
	CHECK_RT(cudaStreamSynchronize(s));
	CHECK_RT(cudaMemcpy(back.data(), dr, n * sizeof(float), cudaMemcpyDeviceToHost));
	double big = 0, err = 0;
	for (int i = 0; i < n; i++) {
		big = std::fmax(big, std::fabs(in[i]));
		err = std::fmax(err, std::fabs(back[i] / n - in[i]));
	}
	CHECK_FFT(cufftDestroy(fwd));
	CHECK_FFT(cufftDestroy(inv));
	CHECK_RT(cudaFree(dr));
	CHECK_RT(cudaFree(dc));
	char what[64];
	printf("r2c+c2r n=%d: round trip\n", n);
	snprintf(what, sizeof(what), "c2r(r2c) n=%d /n", n);
	print_error_bucket(what, err / big, 1e-5);
}

int main()
{
	CHECK_RT(cudaSetDevice(0));
	int version = 0;
	CHECK_FFT(cufftGetVersion(&version));
	cudaStream_t s;
	CHECK_RT(cudaStreamCreate(&s));
	c2c(1024, 4, s);      /* a power of two */
	c2c(1000, 3, s);      /* 2^3 5^3: mixed radix */
	c2c(997, 2, s);       /* a prime: Bluestein */
	r2c(512, 2, s);
	z2z(1000, s);
	c2c_nd(64, 48, 1, s);
	c2c_nd(16, 8, 12, s);
	r2c_c2r(1000, s);
	CHECK_RT(cudaStreamDestroy(s));
	printf("cufft_c2c: all verified\n");
	return 0;
}
