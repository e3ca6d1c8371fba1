/* SPDX-License-Identifier: MIT */
/* procaddr.c — the simulator's cuGetProcAddress entry points (the lookup is runtime/procaddr.c). */
#include "sim.h"

#include "procaddr.h"

/* An address inside this library: the lookup hands out the simulator's own functions. */
static const char sim_anchor;

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
			  CUdriverProcAddressQueryResult *symbolStatus)
{
	return vgpu_procaddr_lookup(&sim_anchor, symbol, pfn, cudaVersion, flags, symbolStatus);
}

#undef cuGetProcAddress
/* The pre-12.0 ABI name, without the status output. */
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags);
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return vgpu_procaddr_lookup(&sim_anchor, symbol, pfn, cudaVersion, flags, NULL);
}
