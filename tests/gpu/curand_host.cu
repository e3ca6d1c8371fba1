// SPDX-License-Identifier: MIT
// curand_host — cuRAND's host API (curandCreateGenerator + curandGenerate*) checked bit for bit
// against cuRAND's own host generators (curandCreateGeneratorHost), which promise the same
// sequence for the same generator, seed, offset and ordering.
//
// Every generator cuRAND offers on the device except MT19937 (whose jump-ahead kernel runs for
// minutes on an interpreter): XORWOW, MRG32k3a, MTGP32, Philox4x32-10, Sobol32, scrambled
// Sobol32, Sobol64. For each: uniform floats, normal floats, log-normal floats, uniform
// doubles, 32-bit integers (64-bit for Sobol64) and Poisson counts, on a stream, started at
// an offset into the sequence (MTGP32 has none). Prints only what is the same on every run (counts of
// equal values, rounded means), so the output directly and through vgpu can be diffed.
// Exit 0 = all verified, 1 = a failure, 3 = the device cannot run cuRAND's kernels.
#include <curand.h>
#include <cstdint>
#include <vector>
#include "gpucheck.h"

static const char *curand_name(curandStatus_t r)
{
	switch (r) {
	case CURAND_STATUS_SUCCESS: return "CURAND_STATUS_SUCCESS";
	case CURAND_STATUS_VERSION_MISMATCH: return "CURAND_STATUS_VERSION_MISMATCH";
	case CURAND_STATUS_NOT_INITIALIZED: return "CURAND_STATUS_NOT_INITIALIZED";
	case CURAND_STATUS_ALLOCATION_FAILED: return "CURAND_STATUS_ALLOCATION_FAILED";
	case CURAND_STATUS_TYPE_ERROR: return "CURAND_STATUS_TYPE_ERROR";
	case CURAND_STATUS_OUT_OF_RANGE: return "CURAND_STATUS_OUT_OF_RANGE";
	case CURAND_STATUS_LENGTH_NOT_MULTIPLE: return "CURAND_STATUS_LENGTH_NOT_MULTIPLE";
	case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED: return "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
	case CURAND_STATUS_LAUNCH_FAILURE: return "CURAND_STATUS_LAUNCH_FAILURE";
	case CURAND_STATUS_PREEXISTING_FAILURE: return "CURAND_STATUS_PREEXISTING_FAILURE";
	case CURAND_STATUS_INITIALIZATION_FAILED: return "CURAND_STATUS_INITIALIZATION_FAILED";
	case CURAND_STATUS_ARCH_MISMATCH: return "CURAND_STATUS_ARCH_MISMATCH";
	case CURAND_STATUS_INTERNAL_ERROR: return "CURAND_STATUS_INTERNAL_ERROR";
	default: return "CURAND_STATUS_(other)";
	}
}

#define CHECK_RAND(call) CHECK_LIB("cuRAND", curandStatus_t, CURAND_STATUS_SUCCESS, curand_name, call)

static const size_t N = 1 << 12; /* values per draw: a multiple of 2 (normal) and of 4 */

/* The device's values of type T against the host generator's; both generators were made
 * alike. Returns how many differ: bit for bit when tol is 0, else by more than tol times the
 * value's magnitude, or tol near 0 (the host computes the normal transforms with its own
 * maths library). The
 * values' sum goes to *sum. */
template <typename T>
static size_t compare(const T *d, const std::vector<T> &host, double tol, double *sum)
{
	std::vector<T> got(host.size());
	CHECK_RT(cudaMemcpy(got.data(), d, got.size() * sizeof(T), cudaMemcpyDeviceToHost));
	size_t differ = 0;
	*sum = 0;
	for (size_t i = 0; i < got.size(); i++) {
		if (tol == 0)
			differ += memcmp(&got[i], &host[i], sizeof(T)) != 0;
		else
			differ += !(std::fabs((double)got[i] - (double)host[i]) <= tol * std::fmax(1.0, std::fabs((double)host[i])));
		*sum += (double)got[i];
	}
	return differ;
}

struct gen {
	curandRngType_t type;
	const char *name;
	int quasi, is64, offset; /* offset: start this far into the sequence (not MTGP32's) */
};

static void make(curandGenerator_t *dev, curandGenerator_t *host, const gen &g, cudaStream_t s)
{
	CHECK_RAND(curandCreateGenerator(dev, g.type));
	CHECK_RAND(curandCreateGeneratorHost(host, g.type));
	CHECK_RAND(curandSetStream(*dev, s));
	if (g.quasi) {
		CHECK_RAND(curandSetQuasiRandomGeneratorDimensions(*dev, 2));
		CHECK_RAND(curandSetQuasiRandomGeneratorDimensions(*host, 2));
	} else {
		CHECK_RAND(curandSetPseudoRandomGeneratorSeed(*dev, 0x5eed1234ull));
		CHECK_RAND(curandSetPseudoRandomGeneratorSeed(*host, 0x5eed1234ull));
	}
	if (g.offset) {
		CHECK_RAND(curandSetGeneratorOffset(*dev, (unsigned long long)g.offset));
		CHECK_RAND(curandSetGeneratorOffset(*host, (unsigned long long)g.offset));
	}
}

/* One line per draw: its name, how many of N values differ from the host generator's (must
 * be 0) and the mean rounded so that every run prints the same. */
static void report(const gen &g, const char *what, size_t differ, double tol, double mean, int digits)
{
	printf("%s %s: %zu values, %zu differ from the host generator's (%s), mean %.*f\n", g.name, what,
	       N, differ, tol == 0 ? "bit for bit" : "within 1e-5", digits, mean);
	if (differ) {
		printf("FAIL %s %s: the device's values are not the host generator's\n", g.name, what);
		exit(1);
	}
}

/* Draw N values of type T with the same call on both generators, compare, report. */
#define DRAW(T, what, tol, digits, scale, call)                                              \
	do {                                                                                 \
		std::vector<T> h_(N);                                                        \
		T *d_ = (T *)d;                                                              \
		{                                                                            \
			curandGenerator_t gen_ = dev;                                        \
			T *out_ = d_;                                                        \
			CHECK_RAND(call);                                                    \
		}                                                                            \
		{                                                                            \
			curandGenerator_t gen_ = host;                                       \
			T *out_ = h_.data();                                                 \
			CHECK_RAND(call);                                                    \
		}                                                                            \
		CHECK_RT(cudaStreamSynchronize(s));                                          \
		double sum_;                                                                 \
		size_t differ_ = compare(d_, h_, tol, &sum_);                                \
		report(g, what, differ_, tol, sum_ / N / (scale), digits);                   \
	} while (0)

static void run(const gen &g, cudaStream_t s)
{
	curandGenerator_t dev, host;
	make(&dev, &host, g, s);
	void *d;
	CHECK_RT(cudaMalloc(&d, N * sizeof(double)));
	DRAW(float, "uniform", 0, 2, 1, curandGenerateUniform(gen_, out_, N));
	DRAW(float, "normal(1, 2)", 1e-5, 1, 1, curandGenerateNormal(gen_, out_, N, 1.0f, 2.0f));
	DRAW(float, "log-normal(0, 0.5)", 1e-5, 1, 1, curandGenerateLogNormal(gen_, out_, N, 0.0f, 0.5f));
	DRAW(double, "uniform double", 0, 2, 1, curandGenerateUniformDouble(gen_, out_, N));
	if (g.is64) {
		DRAW(unsigned long long, "64-bit integers / 2^64", 0, 2, 1.8446744073709552e19,
		     curandGenerateLongLong(gen_, out_, N));
	} else {
		DRAW(unsigned, "32-bit integers / 2^32", 0, 2, 4294967296.0, curandGenerate(gen_, out_, N));
		DRAW(unsigned, "Poisson(4.5)", 0, 1, 1, curandGeneratePoisson(gen_, out_, N, 4.5));
	}
	CHECK_RT(cudaFree(d));
	CHECK_RAND(curandDestroyGenerator(dev));
	CHECK_RAND(curandDestroyGenerator(host));
}

int main()
{
	CHECK_RT(cudaSetDevice(0));
	int version = 0;
	CHECK_RAND(curandGetVersion(&version));
	cudaStream_t s;
	CHECK_RT(cudaStreamCreate(&s));
	static const gen gens[] = {
		{ CURAND_RNG_PSEUDO_XORWOW, "xorwow", 0, 0, 1000 },
		{ CURAND_RNG_PSEUDO_MRG32K3A, "mrg32k3a", 0, 0, 1000 },
		{ CURAND_RNG_PSEUDO_MTGP32, "mtgp32", 0, 0, 0 },
		{ CURAND_RNG_PSEUDO_PHILOX4_32_10, "philox4x32-10", 0, 0, 1000 },
		{ CURAND_RNG_QUASI_SOBOL32, "sobol32", 1, 0, 1000 },
		{ CURAND_RNG_QUASI_SCRAMBLED_SOBOL32, "scrambled-sobol32", 1, 0, 1000 },
		{ CURAND_RNG_QUASI_SOBOL64, "sobol64", 1, 1, 1000 },
	};
	for (const gen &g : gens)
		run(g, s);
	CHECK_RT(cudaStreamDestroy(s));
	printf("curand_host: all verified\n");
	return 0;
}
