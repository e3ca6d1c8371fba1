/* SPDX-License-Identifier: MIT */
/* procaddr.c — libvgpu's cuGetProcAddress entry points (the lookup is runtime/procaddr.c). */
#include "client.h"

#include "procaddr.h"

CUresult CUDAAPI cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
				     CUdriverProcAddressQueryResult *symbolStatus)
{
	return vgpu_procaddr_lookup((const void *)&cuGetProcAddress_v2, symbol, pfn, cudaVersion, flags, symbolStatus);
}

CUresult CUDAAPI cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return vgpu_procaddr_lookup((const void *)&cuGetProcAddress_v2, symbol, pfn, cudaVersion, flags, NULL);
}
