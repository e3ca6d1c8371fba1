/* SPDX-License-Identifier: MIT */
/* quota.c — overflow-safe byte quotas and K/M/G/T size parsing (see quota.h). */
#include "quota.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <strings.h>

int vgpu_quota_reserve(struct vgpu_quota *q, uint64_t n)
{
	if (q->limit == 0) {
		if (n > UINT64_MAX - q->used)
			return -EDQUOT;
	} else if (q->used > q->limit || n > q->limit - q->used) {
		return -EDQUOT;
	}
	q->used += n;
	return 0;
}

void vgpu_quota_release(struct vgpu_quota *q, uint64_t n)
{
	assert(n <= q->used);
	q->used -= n;
}

int vgpu_quota_reserve_atomic(uint64_t *used, uint64_t limit, uint64_t n)
{
	uint64_t cur = __atomic_load_n(used, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t room = limit ? (cur > limit ? 0 : limit - cur) : UINT64_MAX - cur;
		if (n > room)
			return -EDQUOT;
		/* Relaxed is enough: the counter guards no other data, it only bounds a sum. */
		if (__atomic_compare_exchange_n(used, &cur, cur + n, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return 0;
	}
}

void vgpu_quota_release_atomic(uint64_t *used, uint64_t n)
{
	uint64_t old = __atomic_fetch_sub(used, n, __ATOMIC_RELAXED);
	assert(old >= n);
	(void)old;
}

int vgpu_size_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0, mul = 1;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	if (*p) {
		switch (*p) {
		case 'k': case 'K': mul = 1ull << 10; break;
		case 'm': case 'M': mul = 1ull << 20; break;
		case 'g': case 'G': mul = 1ull << 30; break;
		case 't': case 'T': mul = 1ull << 40; break;
		default: return -EINVAL;
		}
		p++;
		if (*p && strcasecmp(p, "ib") != 0 && strcasecmp(p, "b") != 0)
			return -EINVAL;
	}
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*out = v * mul;
	return 0;
}
