/* SPDX-License-Identifier: MIT */
/* trace.c — VGPU_TRACE=FILE: records every request and bulk input this process sends to vgpu-proxy. */
#include "trace.h"

/* The flags recorded with a reply (VGPU_MSG_F_REPLY, session.h). */
#define VGPU_MSG_F_REPLY_TRACE 0x0002u

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int vgpu_trace_enabled;
static int trace_fd = -1;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static const void *trace_keys[256];   /* channel key -> number (index + 1) */
static unsigned trace_nkeys;

static void trace_open_at(const char *path);

/*
 * A forked child is another zone, whose channels are numbered from 1 again: its records go to
 * FILE.PID, a trace of its own, rather than among the parent's (where they could not be told
 * apart).
 */
static void trace_atfork_child(void)
{
	char path[4096];
	const char *base = getenv("VGPU_TRACE");
	pthread_mutex_init(&trace_lock, NULL);
	trace_nkeys = 0;
	if (trace_fd < 0 || !base)
		return;
	close(trace_fd);
	trace_fd = -1;
	vgpu_trace_enabled = 0;
	if (strstr(base, "%p"))
		trace_open_at(base);
	else {
		snprintf(path, sizeof(path), "%s.%d", base, (int)getpid());
		trace_open_at(path);
	}
}

/* Opens the file named by VGPU_TRACE (truncating it) before the application runs. */
__attribute__((constructor)) static void vgpu_trace_open(void)
{
	const char *path = getenv("VGPU_TRACE");
	if (!path || !*path)
		return;
	trace_open_at(path);
	if (vgpu_trace_enabled)
		pthread_atfork(NULL, NULL, trace_atfork_child);
}

/* "%p" in the name is this process's id: processes that each load libvgpu (a program that
 * forks before its first CUDA call, when the CUDA runtime loads libcuda) write files of their own. */
static void trace_open_at(const char *name)
{
	char path[4096];
	const char *p = strstr(name, "%p");
	if (p)
		snprintf(path, sizeof(path), "%.*s%d%s", (int)(p - name), name, (int)getpid(), p + 2);
	else
		snprintf(path, sizeof(path), "%s", name);
	trace_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (trace_fd < 0 || write(trace_fd, VGPU_TRACE_MAGIC, 8) != 8) {
		fprintf(stderr, "libvgpu: VGPU_TRACE=%s cannot be written (%s); tracing is off\n", path,
			strerror(errno));
		if (trace_fd >= 0)
			close(trace_fd);
		trace_fd = -1;
		return;
	}
	vgpu_trace_enabled = 1;
}

/* Caller holds trace_lock. Channel numbers are stable for the life of the process. */
static uint32_t chan_number(const void *key)
{
	for (unsigned i = 0; i < trace_nkeys; i++)
		if (trace_keys[i] == key)
			return i + 1;
	if (trace_nkeys < sizeof(trace_keys) / sizeof(trace_keys[0]))
		trace_keys[trace_nkeys++] = key;
	return trace_nkeys;
}

static void trace_write(uint8_t kind, const void *key, uint16_t opcode, uint16_t flags, uint32_t seq,
			const void *data, uint32_t len, uint32_t full_len)
{
	struct vgpu_trace_rec r;
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.opcode = opcode;
	r.flags = flags;
	r.seq = seq;
	r.len = len;
	r.full_len = full_len;
	struct iovec iov[2] = { { &r, sizeof(r) }, { (void *)data, len } };
	pthread_mutex_lock(&trace_lock);
	r.chan = chan_number(key);
	if (trace_fd >= 0 && writev(trace_fd, iov, len ? 2 : 1) != (ssize_t)(sizeof(r) + len)) {
		fprintf(stderr, "libvgpu: writing the VGPU_TRACE file failed (%s); tracing stops here\n",
			strerror(errno));
		close(trace_fd);
		trace_fd = -1;
		vgpu_trace_enabled = 0;
	}
	pthread_mutex_unlock(&trace_lock);
}

void vgpu_trace_msg(const void *key, uint16_t opcode, uint16_t flags, uint32_t seq, const void *payload,
		    uint32_t len)
{
	trace_write(VGPU_TRACE_MSG, key, opcode, flags, seq, payload, len, len);
}

void vgpu_trace_bulk(const void *key, uint16_t opcode, uint32_t seq, const void *data, uint64_t n)
{
	uint32_t full = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	trace_write(VGPU_TRACE_BULK, key, opcode, 0, seq, data, n > VGPU_TRACE_BULK_MAX ? VGPU_TRACE_BULK_MAX : (uint32_t)n,
		    full);
}

void vgpu_trace_reply(const void *key, uint16_t opcode, uint32_t seq, const void *payload, uint32_t len)
{
	trace_write(VGPU_TRACE_REPLY, key, opcode, VGPU_MSG_F_REPLY_TRACE, seq, payload, len, len);
}
