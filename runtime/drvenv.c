/* SPDX-License-Identifier: MIT */
/* drvenv.c — the driver settings a zone's process gives its worker's driver (drvenv.h). */
#include "drvenv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const bool_values[] = { "0", "1", NULL };
static const char *const load_values[] = { "LAZY", "EAGER", NULL };
static const char *const scale_values[] = { "0.25x", "0.5x", "2x", "4x", NULL };
static const char *const conn_values[] = { "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13",
					   "14", "15", "16", "17", "18", "19", "20", "21", "22", "23", "24", "25",
					   "26", "27", "28", "29", "30", "31", "32", NULL };

static const struct {
	const char *name;
	const char *const *values;
} settings[] = {
	{ "CUDA_LAUNCH_BLOCKING", bool_values },
	{ "CUDA_DEVICE_MAX_CONNECTIONS", conn_values },
	{ "CUDA_MODULE_LOADING", load_values },
	{ "CUDA_MODULE_DATA_LOADING", load_values },
	{ "CUDA_FORCE_PTX_JIT", bool_values },
	{ "CUDA_DISABLE_PTX_JIT", bool_values },
	{ "CUDA_SCALE_LAUNCH_QUEUES", scale_values },
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* 1 when [v, v + len) is one of the values setting i takes */
static int value_ok(unsigned i, const char *v, size_t len)
{
	for (const char *const *p = settings[i].values; *p; p++)
		if (strlen(*p) == len && !memcmp(*p, v, len))
			return 1;
	return 0;
}

void vgpu_drvenv_collect(char out[VGPU_DRVENV_BYTES], void (*warn)(const char *name, const char *value))
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < NSETTINGS; i++) {
		const char *v = getenv(settings[i].name);
		if (!v)
			continue;
		if (!value_ok(i, v, strlen(v))) {
			if (warn)
				warn(settings[i].name, v);
			continue;
		}
		/* every name and value together fit: the longest list is well under the size */
		size_t n = strlen(settings[i].name) + 1 + strlen(v) + (used ? 1 : 0);
		if (used + n + 1 > VGPU_DRVENV_BYTES)
			break;
		if (used)
			out[used++] = ' ';
		strcpy(out + used, settings[i].name);
		used += strlen(settings[i].name);
		out[used++] = '=';
		strcpy(out + used, v);
		used += strlen(v);
	}
}

int vgpu_drvenv_check(const char *text)
{
	const char *p = text, *end = memchr(text, '\0', VGPU_DRVENV_BYTES);
	unsigned next = 0;   /* the first setting the next entry may name */

	if (!end)
		return -1;
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p)), *eq;
		const char *stop = sp ? sp : end;
		unsigned i;
		if (!(eq = memchr(p, '=', (size_t)(stop - p))))
			return -1;
		for (i = next; i < NSETTINGS; i++)
			if (strlen(settings[i].name) == (size_t)(eq - p) && !memcmp(settings[i].name, p, (size_t)(eq - p)))
				break;
		if (i == NSETTINGS || !value_ok(i, eq + 1, (size_t)(stop - eq - 1)))
			return -1;
		next = i + 1;
		if (sp && sp + 1 == end)
			return -1;   /* a trailing space */
		p = sp ? sp + 1 : end;
	}
	return 0;
}

int vgpu_drvenv_apply(const char *text)
{
	char buf[VGPU_DRVENV_BYTES], *save = NULL;

	if (vgpu_drvenv_check(text) < 0)
		return -EINVAL;
	strcpy(buf, text);
	for (char *e = strtok_r(buf, " ", &save); e; e = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(e, '=');
		*eq = '\0';
		if (setenv(e, eq + 1, 1) < 0)
			return -errno;
	}
	return 0;
}
