/* SPDX-License-Identifier: MIT */
/* quota.h — overflow-safe byte quotas (device memory, in-flight bulk bytes) and size parsing. */
#ifndef VGPU_PROXY_QUOTA_H
#define VGPU_PROXY_QUOTA_H

#include <stdint.h>

/* limit 0 = unlimited. Not locked: callers hold the zone lock, or use the atomic variant. */
struct vgpu_quota {
	uint64_t limit;
	uint64_t used;
};

/* Reserve n bytes: 0, or -EDQUOT if used + n would exceed limit (or overflow 2^64). */
int vgpu_quota_reserve(struct vgpu_quota *q, uint64_t n);
/* Give back n bytes reserved earlier (asserts n <= used). */
void vgpu_quota_release(struct vgpu_quota *q, uint64_t n);
/* Lock-free forms on a shared counter (e.g. in-flight bulk bytes of all a zone's threads). */
int vgpu_quota_reserve_atomic(uint64_t *used, uint64_t limit, uint64_t n);
void vgpu_quota_release_atomic(uint64_t *used, uint64_t n);

/*
 * Parse a byte count: decimal digits, optionally followed by one of K, M, G, T (powers of
 * 1024, case-insensitive, an optional "iB" or "B" after it). "0" is allowed. -EINVAL for
 * anything else (empty, sign, spaces, junk), -ERANGE past 2^64-1.
 */
int vgpu_size_parse(const char *s, uint64_t *out /* out */);

#endif
