/* SPDX-License-Identifier: MIT */
/* log.c — vgpu-proxy's stderr logger (see log.h). */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_level = VGPU_LOG_INFO;
static char log_prefix[96];

int vgpu_log_parse_level(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (s && strcmp(s, names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

void vgpu_log_set_level(int level) { log_level = level; }
int vgpu_log_get_level(void) { return log_level; }

void vgpu_log_set_prefix(const char *prefix)
{
	if (!prefix || !*prefix) {
		log_prefix[0] = '\0';
		return;
	}
	snprintf(log_prefix, sizeof(log_prefix), "%s ", prefix);
}

void vgpu_log(int level, const char *fmt, ...)
{
	static const char *const tags[] = { "error", "warn", "info", "debug" };
	char line[1024];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;
	int saved = errno;

	if (level > log_level)
		return;
	if (level < 0 || level > VGPU_LOG_DEBUG)
		level = VGPU_LOG_ERROR;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ vgpu-proxy[%d] %s: %s",
			      ts.tv_nsec / 1000000, (int)getpid(), tags[level], log_prefix);
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		int k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (k > 0)
			n += (size_t)k;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
	errno = saved;
}
