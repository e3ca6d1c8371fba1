/* SPDX-License-Identifier: MIT */
/* proxytest.h — helpers for the proxy's process-level tests: start vgpu-proxy, connect raw clients, read stats. */
#ifndef VGPU_PROXYTEST_H
#define VGPU_PROXYTEST_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "session.h"

struct ptest_proxy {
	pid_t pid;
	char dir[128];
	char sock[192];
	char log[192];
	char bin[256];
};

static const char *ptest_build(void)
{
	const char *b = getenv("VGPU_BUILD");
	return b && *b ? b : "build/san";
}

static __attribute__((unused)) void ptest_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Start vgpu-proxy with the given driver library and extra options (NULL-terminated). */
static __attribute__((unused)) int ptest_start(struct ptest_proxy *p, const char *drvlib, const char *const *extra)
{
	const char *argv[32];
	int n = 0;

	snprintf(p->dir, sizeof(p->dir), "/tmp/vgpu-ptest-XXXXXX");
	if (!mkdtemp(p->dir))
		return -errno;
	/* A sub-directory the proxy must create itself. */
	snprintf(p->sock, sizeof(p->sock), "%s/run/proxy.sock", p->dir);
	snprintf(p->log, sizeof(p->log), "%s/proxy.log", p->dir);
	snprintf(p->bin, sizeof(p->bin), "%s/proxy/vgpu-proxy", ptest_build());
	argv[n++] = p->bin;
	argv[n++] = "--listen"; argv[n++] = p->sock;
	argv[n++] = "--backend"; argv[n++] = "sim";
	argv[n++] = "--sim-lib"; argv[n++] = drvlib;
	argv[n++] = "--log-level"; argv[n++] = "debug";
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {   /* up to 30 s under sanitizers on a busy machine */
		struct stat st;
		char ctl[220];
		snprintf(ctl, sizeof(ctl), "%s.ctl", p->sock);
		if (stat(ctl, &st) == 0)
			return 0;
		int status;
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = -1;
			return -ECHILD;
		}
		ptest_sleep_ms(100);
	}
	return -ETIMEDOUT;
}

static __attribute__((unused)) void ptest_dump_log(const struct ptest_proxy *p)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "tail -n 40 %s >&2", p->log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no proxy log)\n");
}

/* SIGTERM the proxy and wait: its exit status, or -1. */
static __attribute__((unused)) int ptest_stop(struct ptest_proxy *p)
{
	int st;
	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	if (waitpid(p->pid, &st, 0) != p->pid)
		return -1;
	p->pid = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static __attribute__((unused)) void ptest_cleanup(struct ptest_proxy *p)
{
	char cmd[200];
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	if (!getenv("VGPU_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", p->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", p->dir);
	}
}

static __attribute__((unused)) void ptest_hello(struct vgpu_hello *h, uint16_t kind, const uint8_t *token, const char *name)
{
	memset(h, 0, sizeof(*h));
	h->magic = VGPU_HELLO_MAGIC;
	h->version = VGPU_PROTO_VERSION;
	h->kind = kind;
	if (token)
		memcpy(h->token, token, 16);
	h->pid = (uint32_t)getpid();
	snprintf(h->name, sizeof(h->name), "%s", name);
}

/* Open a channel with the given hello; on success *w holds the welcome. 0, or -errno
 * (-EPIPE: the proxy closed the channel, i.e. refused it). */
static __attribute__((unused)) int ptest_open(const struct ptest_proxy *p, const struct vgpu_hello *h, uint32_t hlen,
		      struct vgpu_chan **ch, struct vgpu_welcome *w)
{
	struct vgpu_chan_geom g = { 16u << 10, 1u << 20 };
	struct vgpu_msg_hdr mh;
	int rc = vgpu_shm_connect(p->sock, h, hlen, &g, ch);
	if (rc < 0)
		return rc;
	rc = vgpu_chan_recv(*ch, &mh, w, sizeof(*w));
	if (rc < 0) {
		vgpu_chan_close(*ch);
		*ch = NULL;
		return rc;
	}
	if (mh.opcode != VGPU_OP_WELCOME || rc != (int)sizeof(*w)) {
		fprintf(stderr, "expected a welcome, got opcode 0x%x len %d\n", mh.opcode, rc);
		vgpu_chan_close(*ch);
		*ch = NULL;
		return -EPROTO;
	}
	return 0;
}

/* Run `vgpu-proxy --stats` and read its output into buf. 0 or -1. */
static __attribute__((unused)) int ptest_stats(const struct ptest_proxy *p, char *buf, size_t cap)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s --stats --listen %s", p->bin, p->sock);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	return pclose(f) == 0 ? 0 : -1;
}

/* The number field=N on the stats line of zone name: 0, or -1 when not there. */
static __attribute__((unused)) int ptest_stats_field(const struct ptest_proxy *p, const char *zone, const char *field,
						     unsigned long long *v)
{
	char buf[8192], key[96], *line;
	if (ptest_stats(p, buf, sizeof(buf)) < 0)
		return -1;
	snprintf(key, sizeof(key), "name=%s ", zone);
	if (!(line = strstr(buf, key)))
		return -1;
	char *eol = strchr(line, '\n');
	if (eol)
		*eol = '\0';
	snprintf(key, sizeof(key), " %s=", field);
	char *f = strstr(line, key);
	return f && sscanf(f + strlen(key), "%llu", v) == 1 ? 0 : -1;
}

/* Number of zones the stats report, or -1. */
static __attribute__((unused)) int ptest_zone_count(const struct ptest_proxy *p)
{
	char buf[8192];
	unsigned n;
	if (ptest_stats(p, buf, sizeof(buf)) < 0 || sscanf(buf, "zones %u", &n) != 1)
		return -1;
	return (int)n;
}

/* Wait (up to ~20 s) until the stats report `want` zones. */
static __attribute__((unused)) int ptest_wait_zones(const struct ptest_proxy *p, int want)
{
	for (int i = 0; i < 400; i++) {
		if (ptest_zone_count(p) == want)
			return 0;
		ptest_sleep_ms(50);
	}
	return -1;
}

#endif
