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

int vgpu_visible_ordinals(const char *text, int n, int out[VGPU_VISIBLE_MAX])
{
	int k = 0;
	const char *p = text;

	if (!*p)
		return 0;
	for (;;) {
		int v = 0, digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 3) {
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (!digits || v >= n || k >= VGPU_VISIBLE_MAX)
			return -1;
		for (int j = 0; j < k; j++)
			if (out[j] == v)
				return -1;
		out[k++] = v;
		if (!*p)
			return k;
		if (*p++ != ',')
			return -1;
	}
}

int vgpu_visible_compose(const char *parent, const int *ord, int k, char *out, size_t cap)
{
	size_t used = 0;

	if (!cap)
		return -1;
	out[0] = 0;
	for (int i = 0; i < k; i++) {
		const char *b = NULL, *e = NULL, *next = parent;
		char num[16];
		if (parent) {
			for (int j = 0; j <= ord[i]; j++) {
				if (!next)
					return -1;   /* fewer entries than the ordinal: not a device under parent */
				next = entry(next, &b, &e);
			}
		} else {
			snprintf(num, sizeof(num), "%d", ord[i]);
			b = num;
			e = num + strlen(num);
		}
		size_t len = (size_t)(e - b);
		if (used + (i ? 1 : 0) + len + 1 > cap)
			return -1;
		if (i)
			out[used++] = ',';
		memcpy(out + used, b, len);
		used += len;
		out[used] = 0;
	}
	return 0;
}
