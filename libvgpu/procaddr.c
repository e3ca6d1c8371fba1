/* SPDX-License-Identifier: MIT */
/* procaddr.c — libvgpu's cuGetProcAddress entry points (the lookup is runtime/procaddr.c). */
#include "client.h"

#include "procaddr.h"

/* An address inside this library (a function's address may be the executable's PLT stub). */
static const char libvgpu_anchor;

CUresult CUDAAPI cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
				     CUdriverProcAddressQueryResult *symbolStatus)
{
	return vgpu_procaddr_lookup(&libvgpu_anchor, symbol, pfn, cudaVersion, flags, symbolStatus);
}

CUresult CUDAAPI cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return vgpu_procaddr_lookup(&libvgpu_anchor, symbol, pfn, cudaVersion, flags, NULL);
}
