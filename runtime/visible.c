/* SPDX-License-Identifier: MIT */
/* visible.c — CUDA_VISIBLE_DEVICES, parsed as the driver reads it (visible.h). */
#include "visible.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* the next entry of s: [*b, *e) trimmed of blanks; returns the text after it (NULL at the end) */
static const char *entry(const char *s, const char **b, const char **e)
{
	const char *end = strchr(s, ',');
	const char *stop = end ? end : s + strlen(s);
	while (s < stop && isspace((unsigned char)*s))
		s++;
	while (stop > s && isspace((unsigned char)stop[-1]))
		stop--;
	*b = s;
	*e = stop;
	return end ? end + 1 : NULL;
}

/* an index: decimal digits only; -1 otherwise (or past INT_MAX / 10) */
static int index_of(const char *b, const char *e)
{
	int v = 0;
	if (b == e)
		return -1;
	for (const char *p = b; p < e; p++) {
		if (!isdigit((unsigned char)*p) || v > 100000000)
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v;
}

static int is_uuid_entry(const char *b, const char *e)
{
	return e - b > 4 && !strncasecmp(b, "GPU-", 4);
}

int vgpu_visible_none(const char *s)
{
	const char *b, *e;
	entry(s, &b, &e);
	return index_of(b, e) < 0 && !is_uuid_entry(b, e);
}

int vgpu_visible_parse(const char *s, int n, int (*uuid_of)(int i, CUuuid *u, void *arg), void *arg, int *out,
		       int cap)
{
	int k = 0;
	for (const char *next = s; next && k < cap;) {
		const char *b, *e;
		int dev = -1;
		next = entry(next, &b, &e);
		if (is_uuid_entry(b, e)) {
			size_t len = (size_t)(e - b);
			for (int i = 0; i < n; i++) {
				CUuuid u;
				char text[48];
				if (!uuid_of || uuid_of(i, &u, arg) != 0)
					return k;
				const unsigned char *x = (const unsigned char *)u.bytes;
				snprintf(text, sizeof text,
					 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", x[0],
					 x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11], x[12], x[13],
					 x[14], x[15]);
				if (len <= strlen(text) && !strncasecmp(text, b, len)) {
					if (dev >= 0)
						return k;   /* a prefix of two devices' UUIDs names neither */
					dev = i;
				}
			}
		} else {
			dev = index_of(b, e);
		}
		if (dev < 0 || dev >= n)
			return k;
		for (int j = 0; j < k; j++)
			if (out[j] == dev)
				return k;   /* listed twice */
		out[k++] = dev;
	}
	return k;
}
