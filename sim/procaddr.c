/* SPDX-License-Identifier: MIT */
/* cuGetProcAddress for programs that fetch driver entry points at run time (the CUDA runtime
 * does): the variant of a function for a CUDA version and stream mode, from a table built
 * from cudaTypedefs.h, resolved among the simulator's own exports. */
#include "sim.h"

#include <dlfcn.h>
#include <string.h>

struct procaddr { const char *name; int version; const char *abi; int per_thread; };

static const struct procaddr table[] = {
#include "procaddr_table.h"
};

static void *self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_open(void)
{
	Dl_info info;
	if (dladdr((void *)&table, &info) && info.dli_fname)
		self = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
}

/* The newest variant of symbol not newer than version (per-thread-stream one when asked and
 * one exists). A variant the simulator does not export is not found: an older one with
 * another signature is never substituted. */
static CUresult lookup(const char *symbol, void **pfn, int version, cuuint64_t flags,
                       CUdriverProcAddressQueryResult *status)
{
	const struct procaddr *best = NULL, *best_pt = NULL;
	int known = 0;
	if (!symbol || !pfn)
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	if (flags & ~(cuuint64_t)(CU_GET_PROC_ADDRESS_LEGACY_STREAM |
	                          CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
		return CUDA_ERROR_INVALID_VALUE;
	pthread_once(&self_once, self_open);
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct procaddr *e = &table[i];
		if (strcmp(e->name, symbol))
			continue;
		known = 1;
		if (e->version > version)
			continue;
		const struct procaddr **slot = e->per_thread ? &best_pt : &best;
		if (!*slot || e->version > (*slot)->version)
			*slot = e;
	}
	if ((flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) && best_pt)
		best = best_pt;
	void *p = best && self ? dlsym(self, best->abi) : NULL;
	if (!p) {
		if (status)
			*status = known && !best ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
			                         : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
		return CUDA_ERROR_NOT_FOUND;
	}
	*pfn = p;
	if (status)
		*status = CU_GET_PROC_ADDRESS_SUCCESS;
	return CUDA_SUCCESS;
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                          CUdriverProcAddressQueryResult *symbolStatus)
{
	return lookup(symbol, pfn, cudaVersion, flags, symbolStatus);
}

#undef cuGetProcAddress
/* The pre-12.0 ABI name, without the status output. */
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags);
CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
	return lookup(symbol, pfn, cudaVersion, flags, NULL);
}
