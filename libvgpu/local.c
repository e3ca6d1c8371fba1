/* SPDX-License-Identifier: MIT */
/* local.c — driver calls libvgpu answers inside the zone, without asking the proxy. */
#include "client.h"

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
