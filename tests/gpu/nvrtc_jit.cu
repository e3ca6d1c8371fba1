// SPDX-License-Identifier: MIT
// nvrtc_jit — kernels compiled while the program runs, as CuPy, PyTorch's fusers and cuDNN's
// runtime-compiled engines make them: NVRTC compiles CUDA C++ source (a template kernel
// instantiated through name expressions, a kernel using a __constant__ table and the
// device's warp shuffles) to PTX for the device's own compute capability, and the driver
// API loads it (cuModuleLoadDataEx with an error log), finds the kernels by their lowered
// names, fills the constant with cuModuleGetGlobal and launches them. Results are checked
// on the host. Exit 0 = all verified, 1 = a failure.
#include <cuda.h>
#include <nvrtc.h>
#include <string>
#include <vector>
#include "gpucheck.h"

#define CHECK_NVRTC(call)                                                                    \
	do {                                                                                 \
		nvrtcResult r_ = (call);                                                     \
		if (r_ != NVRTC_SUCCESS) {                                                   \
			printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, nvrtcGetErrorString(r_)); \
			exit(1);                                                             \
		}                                                                            \
	} while (0)
#define CHECK_CU(call)                                                                       \
	do {                                                                                 \
		CUresult r_ = (call);                                                        \
		if (r_ != CUDA_SUCCESS) {                                                    \
			const char *n_ = NULL;                                               \
			cuGetErrorName(r_, &n_);                                             \
			printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, n_ ? n_ : "?"); \
			exit(1);                                                             \
		}                                                                            \
	} while (0)

static const char *source = R"(
__constant__ float table[8];

template <typename T, int SCALE>
__global__ void axpb(const T *x, T *y, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		y[i] = (T)SCALE * x[i] + (T)table[i % 8];
}

extern "C" __global__ void warp_sums(const int *in, int *out, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	int v = i < n ? in[i] : 0;
	for (int d = 16; d > 0; d /= 2)
		v += __shfl_down_sync(0xffffffffu, v, d);
	if ((threadIdx.x & 31) == 0 && i < n)
		out[i / 32] = v;
}
)";

int main()
{
	CHECK_CU(cuInit(0));
	CUdevice dev;
	CHECK_CU(cuDeviceGet(&dev, 0));
	int major = 0, minor = 0;
	CHECK_CU(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev));
	CHECK_CU(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev));
	CUcontext ctx;
	CHECK_CU(cuDevicePrimaryCtxRetain(&ctx, dev));
	CHECK_CU(cuCtxSetCurrent(ctx));

	/* compile for this device: PTX of its own compute capability */
	nvrtcProgram prog;
	CHECK_NVRTC(nvrtcCreateProgram(&prog, source, "jit.cu", 0, NULL, NULL));
	const char *names[] = { "axpb<float, 3>", "axpb<double, 2>" };
	for (const char *n : names)
		CHECK_NVRTC(nvrtcAddNameExpression(prog, n));
	std::string arch = "--gpu-architecture=compute_" + std::to_string(major * 10 + minor);
	const char *opts[] = { arch.c_str(), "-std=c++17", "--use_fast_math" };
	nvrtcResult cr = nvrtcCompileProgram(prog, 3, opts);
	if (cr != NVRTC_SUCCESS) {
		size_t ln = 0;
		nvrtcGetProgramLogSize(prog, &ln);
		std::string log(ln, '\0');
		nvrtcGetProgramLog(prog, &log[0]);
		printf("FAIL nvrtcCompileProgram: %s\n%s\n", nvrtcGetErrorString(cr), log.c_str());
		return 1;
	}
	size_t ptx_size = 0;
	CHECK_NVRTC(nvrtcGetPTXSize(prog, &ptx_size));
	std::string ptx(ptx_size, '\0');
	CHECK_NVRTC(nvrtcGetPTX(prog, &ptx[0]));
	printf("compiled for the device's compute capability: PTX, %s\n", ptx_size > 1000 ? "non-empty" : "short");

	char err[4096] = "";
	CUjit_option jo[] = { CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES };
	void *jv[] = { err, (void *)(uintptr_t)sizeof(err) };
	CUmodule mod;
	CUresult lr = cuModuleLoadDataEx(&mod, ptx.c_str(), 2, jo, jv);
	if (lr != CUDA_SUCCESS) {
		printf("FAIL cuModuleLoadDataEx: %d (%s)\n", (int)lr, err);
		return 1;
	}

	/* the constant table, by name */
	CUdeviceptr table;
	size_t tbytes = 0;
	CHECK_CU(cuModuleGetGlobal(&table, &tbytes, mod, "table"));
	const float tv[8] = { 0.5f, 1, 1.5f, 2, 2.5f, 3, 3.5f, 4 };
	if (tbytes != sizeof(tv)) {
		printf("FAIL table: %zu bytes, expected %zu\n", tbytes, sizeof(tv));
		return 1;
	}
	CHECK_CU(cuMemcpyHtoD(table, tv, sizeof(tv)));

	/* the template instantiations, by their lowered names */
	const int n = 1000;
	for (int t = 0; t < 2; t++) {
		const char *lowered = NULL;
		CHECK_NVRTC(nvrtcGetLoweredName(prog, names[t], &lowered));
		CUfunction f;
		CHECK_CU(cuModuleGetFunction(&f, mod, lowered));
		bool dbl = t == 1;
		size_t es = dbl ? sizeof(double) : sizeof(float);
		std::vector<double> xd(n);
		std::vector<unsigned char> xb(n * es), yb(n * es);
		for (int i = 0; i < n; i++) {
			xd[i] = (double)(i % 37) - 18.0;
			if (dbl)
				memcpy(&xb[i * es], &xd[i], es);
			else {
				float v = (float)xd[i];
				memcpy(&xb[i * es], &v, es);
			}
		}
		CUdeviceptr dx, dy;
		CHECK_CU(cuMemAlloc(&dx, n * es));
		CHECK_CU(cuMemAlloc(&dy, n * es));
		CHECK_CU(cuMemcpyHtoD(dx, xb.data(), n * es));
		int nn = n;
		void *args[] = { &dx, &dy, &nn };
		CHECK_CU(cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, args, NULL));
		CHECK_CU(cuMemcpyDtoH(yb.data(), dy, n * es));
		int bad = 0;
		for (int i = 0; i < n; i++) {
			double want = (dbl ? 2.0 : 3.0) * xd[i] + tv[i % 8], got;
			if (dbl)
				memcpy(&got, &yb[i * es], es);
			else {
				float g;
				memcpy(&g, &yb[i * es], es);
				got = g;
			}
			bad += got != want;
		}
		if (bad) {
			printf("FAIL %s: %d of %d results wrong\n", names[t], bad, n);
			return 1;
		}
		printf("%s: %d results verified\n", names[t], n);
		CHECK_CU(cuMemFree(dx));
		CHECK_CU(cuMemFree(dy));
	}

	/* an extern "C" kernel by its own name: warp sums with shuffles */
	CUfunction ws;
	CHECK_CU(cuModuleGetFunction(&ws, mod, "warp_sums"));
	std::vector<int> in(n), out((n + 31) / 32);
	for (int i = 0; i < n; i++)
		in[i] = i * 3 - 500;
	CUdeviceptr din, dout;
	CHECK_CU(cuMemAlloc(&din, n * sizeof(int)));
	CHECK_CU(cuMemAlloc(&dout, out.size() * sizeof(int)));
	CHECK_CU(cuMemcpyHtoD(din, in.data(), n * sizeof(int)));
	int nn = n;
	void *wargs[] = { &din, &dout, &nn };
	CHECK_CU(cuLaunchKernel(ws, (n + 127) / 128, 1, 1, 128, 1, 1, 0, NULL, wargs, NULL));
	CHECK_CU(cuMemcpyDtoH(out.data(), dout, out.size() * sizeof(int)));
	for (size_t w = 0; w < out.size(); w++) {
		int want = 0;
		for (int i = (int)w * 32; i < (int)w * 32 + 32 && i < n; i++)
			want += in[i];
		if (out[w] != want) {
			printf("FAIL warp_sums[%zu] = %d, expected %d\n", w, out[w], want);
			return 1;
		}
	}
	printf("warp_sums: %zu warps verified\n", out.size());
	CHECK_NVRTC(nvrtcDestroyProgram(&prog));
	CHECK_CU(cuModuleUnload(mod));
	CHECK_CU(cuDevicePrimaryCtxRelease(dev));
	printf("nvrtc_jit: all verified\n");
	return 0;
}
