/* SPDX-License-Identifier: MIT */
/* procaddr.c — cuGetProcAddress: the entry point of a driver function for a CUDA version and stream mode. */
#include "procaddr.h"

#include <dlfcn.h>
#include <string.h>

struct procaddr_entry {
	const char *name;   /* the API name an application asks for, e.g. "cuMemAlloc" */
	int version;        /* CUDA version that introduced this variant */
	const char *abi;    /* the exported symbol, e.g. "cuMemAlloc_v2" */
	int per_thread;     /* a per-thread default stream variant (_ptsz/_ptds) */
};

/* Made from cudaTypedefs.h at build time, sorted by name (libvgpu/procaddr_table.awk). */
static const struct procaddr_entry procaddr_table[] = {
#include "procaddr_table.h"
};
#define PROCADDR_N (sizeof(procaddr_table) / sizeof(procaddr_table[0]))

/* The library containing anchor (dlopen'd without loading anything new), so lookups find
 * that library's own symbols even when another libcuda is loaded in the process too. */
static void *library_of(const void *anchor)
{
	Dl_info info;

	if (!dladdr(anchor, &info) || !info.dli_fname)
		return NULL;
	return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
}

/* First table index whose name is >= symbol. */
static size_t procaddr_lower(const char *symbol)
{
	size_t lo = 0, hi = PROCADDR_N;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(procaddr_table[mid].name, symbol) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Pick the variant of symbol for cudaVersion: the newest one not newer than cudaVersion,
 * the per-thread-stream one when flags ask for it and one exists. Contract as the driver's:
 * CUDA_ERROR_NOT_FOUND with *status saying whether the name is unknown or only too new.
 */
CUresult vgpu_procaddr_lookup(const void *anchor, const char *symbol, void **pfn, int cudaVersion,
			      cuuint64_t flags, CUdriverProcAddressQueryResult *status)
{
	const struct procaddr_entry *best = NULL, *best_pt = NULL;
	int known = 0;
	void *p;

	if (!symbol || !pfn)
		return CUDA_ERROR_INVALID_VALUE;
	*pfn = NULL;
	if (flags & ~(cuuint64_t)(CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM))
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = procaddr_lower(symbol); i < PROCADDR_N && strcmp(procaddr_table[i].name, symbol) == 0; i++) {
		const struct procaddr_entry *e = &procaddr_table[i];
		known = 1;
		if (e->version > cudaVersion)
			continue;
		if (e->per_thread) {
			if (!best_pt || e->version > best_pt->version)
				best_pt = e;
		} else if (!best || e->version > best->version) {
			best = e;
		}
	}
	if ((flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) && best_pt)
		best = best_pt;
	if (!best) {
		/* A function newer than the version asked for, or a name no driver has: a
		 * successful answer with no pointer, the status saying which, as the driver gives
		 * it (seen on an H200, driver 580). */
		if (status)
			*status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
		return CUDA_SUCCESS;
	}
	void *lib = library_of(anchor);
	p = lib ? dlsym(lib, best->abi) : NULL;
	if (lib)
		dlclose(lib); /* RTLD_NOLOAD took a reference of its own */
	if (!p) {
		/* Declared by cuda.h but not provided by this library: the application must not call it. */
		if (status)
			*status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
		return CUDA_ERROR_NOT_FOUND;
	}
	*pfn = p;
	if (status)
		*status = CU_GET_PROC_ADDRESS_SUCCESS;
	return CUDA_SUCCESS;
}

