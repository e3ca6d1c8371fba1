/* SPDX-License-Identifier: MIT */
/* local_calls.c — driver calls answered without a driver: profiler control, which has no profiler to reach in a zone. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cudaProfiler.h>

/*
 * Benchmarks bracket their timed region with cudaProfilerStart/Stop. The driver answers
 * CUDA_SUCCESS when no profiler is attached, and none can be from inside a zone (profiling
 * the GPU belongs to the host), so libvgpu and the simulator answer the same.
 */
CUresult CUDAAPI cuProfilerStart(void)
{
	return CUDA_SUCCESS;
}

CUresult CUDAAPI cuProfilerStop(void)
{
	return CUDA_SUCCESS;
}
