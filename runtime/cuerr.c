/* SPDX-License-Identifier: MIT */
/* cuerr.c — CUresult name/description lookup over a table made at build time (runtime/cuerr_table.awk). */
#include "cuerr.h"

#include <stddef.h>

struct cuerr_entry {
	int value;
	const char *name;
	const char *text;
};

/* Sorted by value: cuda.h lists the enumerators in ascending order, which cuerr_table.awk checks. */
static const struct cuerr_entry cuerr_table[] = {
#include "cuerr_table.h"
};

static const struct cuerr_entry *cuerr_find(CUresult r)
{
	size_t lo = 0, hi = sizeof(cuerr_table) / sizeof(cuerr_table[0]);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cuerr_table[mid].value == (int)r)
			return &cuerr_table[mid];
		if (cuerr_table[mid].value < (int)r)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const char *vgpu_cuerr_name(CUresult r)
{
	const struct cuerr_entry *e = cuerr_find(r);
	return e ? e->name : NULL;
}

const char *vgpu_cuerr_string(CUresult r)
{
	const struct cuerr_entry *e = cuerr_find(r);
	return e ? e->text : NULL;
}
