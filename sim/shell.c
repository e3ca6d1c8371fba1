/* SPDX-License-Identifier: MIT */
/* Storage for handle objects (streams, events, modules, functions): a destroyed object's
 * memory is kept, its magic cleared, and reused by the next object of the same type, so a
 * stale handle an application (or a zone through the proxy) passes again fails the magic
 * check with CUDA_ERROR_INVALID_HANDLE instead of reading freed memory (a kept shell is all
 * zeroes). The memory held is bounded by the peak number of live objects of each type. */
#include "sim.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t shell_lock = PTHREAD_MUTEX_INITIALIZER;
static struct { void **v; size_t n, cap, size; } pool[SHELL_TYPES];

void *sim_shell_alloc(int type, size_t size)
{
	assert(type >= 0 && type < SHELL_TYPES);
	void *p = NULL;
	pthread_mutex_lock(&shell_lock);
	assert(!pool[type].size || pool[type].size == size);
	pool[type].size = size;
	if (pool[type].n)
		p = pool[type].v[--pool[type].n];
	pthread_mutex_unlock(&shell_lock);
	return p ? p : calloc(1, size);   /* a kept shell was zeroed when it was freed */
}

void sim_shell_free(int type, void *p)
{
	assert(type >= 0 && type < SHELL_TYPES);
	if (!p)
		return;
	pthread_mutex_lock(&shell_lock);
	/* Nothing of the object stays in its shell: a pointer it held would otherwise keep what
	 * it pointed to reachable to LeakSanitizer, hiding a leak until the shell's reuse. */
	memset(p, 0, pool[type].size);
	if (pool[type].n == pool[type].cap) {
		size_t nc = pool[type].cap ? pool[type].cap * 2 : 16;
		void **v = realloc(pool[type].v, nc * sizeof(*v));
		if (!v) {
			pthread_mutex_unlock(&shell_lock);
			free(p);      /* cannot keep it: a stale handle to it is then undefined */
			return;
		}
		pool[type].v = v;
		pool[type].cap = nc;
	}
	pool[type].v[pool[type].n++] = p;
	pthread_mutex_unlock(&shell_lock);
}
