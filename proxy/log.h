/* SPDX-License-Identifier: MIT */
/* log.h — vgpu-proxy's stderr logger: timestamps, levels and a per-process zone prefix. */
#ifndef VGPU_PROXY_LOG_H
#define VGPU_PROXY_LOG_H

enum vgpu_log_level { VGPU_LOG_ERROR = 0, VGPU_LOG_WARN, VGPU_LOG_INFO, VGPU_LOG_DEBUG };

/* Parse "error|warn|info|debug"; returns the level or -EINVAL. */
int vgpu_log_parse_level(const char *s);
void vgpu_log_set_level(int level);
int vgpu_log_get_level(void);
/* Prefix printed after the timestamp on every line of this process, e.g. "[zone 3 train]".
 * The string is copied (truncated to 95 bytes); NULL or "" clears it. Call before threads start. */
void vgpu_log_set_prefix(const char *prefix);
/* Print one line to stderr ("2026-11-25T15:20:01.123Z vgpu-proxy[pid] LEVEL [prefix] msg"),
 * written with a single write(2) so lines of concurrent threads/processes do not interleave. */
void vgpu_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vgpu_err(...)   vgpu_log(VGPU_LOG_ERROR, __VA_ARGS__)
#define vgpu_warn(...)  vgpu_log(VGPU_LOG_WARN, __VA_ARGS__)
#define vgpu_info(...)  vgpu_log(VGPU_LOG_INFO, __VA_ARGS__)
#define vgpu_debug(...) do { if (vgpu_log_get_level() >= VGPU_LOG_DEBUG) vgpu_log(VGPU_LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
