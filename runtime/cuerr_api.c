/* SPDX-License-Identifier: MIT */
/* cuerr_api.c — cuGetErrorString and cuGetErrorName, answered locally by libvgpu and the simulator alike. */
#include "cuerr.h"

CUresult CUDAAPI cuGetErrorString(CUresult error, const char **pStr)
{
	const char *s;

	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	s = vgpu_cuerr_string(error);
	*pStr = s;
	return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorName(CUresult error, const char **pStr)
{
	const char *s;

	if (!pStr)
		return CUDA_ERROR_INVALID_VALUE;
	s = vgpu_cuerr_name(error);
	*pStr = s;
	return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
