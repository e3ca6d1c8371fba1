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

void vgpu_uuid_text(const CUuuid *u, char out[VGPU_UUID_TEXT])
{
	const unsigned char *x = (const unsigned char *)u->bytes;
	char *p = out + sprintf(out, "GPU-");
	for (int i = 0; i < 16; i++) {
		p += sprintf(p, "%02x", x[i]);
		if (i == 3 || i == 5 || i == 7 || i == 9)
			*p++ = '-';
	}
	*p = 0;
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
				char text[VGPU_UUID_TEXT];
				if (!uuid_of || uuid_of(i, &u, arg) != 0)
					return k;
				vgpu_uuid_text(&u, text);
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
