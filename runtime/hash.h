/* SPDX-License-Identifier: MIT */
/* Hashes shared by the simulator and the runtime: FNV-1a of names (hash tables of symbols),
 * and a 64-bit hash of a byte range for telling large texts and images apart (a mix of its
 * words, not cryptographic: a cache key, with the length beside it). */
#ifndef VGPU_RUNTIME_HASH_H
#define VGPU_RUNTIME_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t vgpu_fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static inline uint64_t vgpu_bytes_hash(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

#endif
