/* SPDX-License-Identifier: MIT */
/* sv_ctl.c — vgpu-proxy's control socket: registrations (register, unregister, list), stats, and the registry file that keeps registrations across restarts. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ckpt.h"
#include "log.h"
#include "supervisor.h"
#include "wire.h"

static const char *const htype_names[VGPU_H_COUNT] = {
	[VGPU_H_CONTEXT] = "ctx", [VGPU_H_MODULE] = "module", [VGPU_H_FUNCTION] = "func",
	[VGPU_H_LIBRARY] = "library", [VGPU_H_KERNEL] = "kernel", [VGPU_H_ARRAY] = "array",
	[VGPU_H_MIPMAPPED_ARRAY] = "mipmap", [VGPU_H_TEXREF] = "texref", [VGPU_H_SURFREF] = "surfref",
	[VGPU_H_EVENT] = "event", [VGPU_H_STREAM] = "stream", [VGPU_H_GRAPHICS_RESOURCE] = "gfxres",
	[VGPU_H_EXTERNAL_MEMORY] = "extmem", [VGPU_H_EXTERNAL_SEMAPHORE] = "extsem",
	[VGPU_H_GRAPH] = "graph", [VGPU_H_GRAPH_NODE] = "graphnode", [VGPU_H_GRAPH_EXEC] = "graphexec",
	[VGPU_H_MEMORY_POOL] = "mempool", [VGPU_H_USER_OBJECT] = "userobj", [VGPU_H_LINK_STATE] = "link",
	[VGPU_H_GREEN_CTX] = "greenctx", [VGPU_H_DEV_RESOURCE_DESC] = "resdesc",
};
_Static_assert(VGPU_H_COUNT <= VGPU_STATS_HTYPES, "stats page counts every handle type");

/* The registration whose token this is; every entry is compared (no early exit). */
struct reg *reg_by_token(struct supervisor *s, const uint8_t *token)
{
	struct reg *found = NULL;
	for (unsigned i = 0; i < s->nregs; i++)
		if (token_eq(s->regs[i].token, token))
			found = &s->regs[i];
	return found;
}

struct reg *reg_by_name(struct supervisor *s, const char *name)
{
	for (unsigned i = 0; i < s->nregs; i++)
		if (!strcmp(s->regs[i].name, name))
			return &s->regs[i];
	return NULL;
}

unsigned reg_zone_count(const struct supervisor *s, const char *name)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nzones; i++)
		n += !strcmp(s->zones[i].reg, name);
	return n;
}

/* Write all of buf to a stats client (blocking, short). */
static void write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

static void ctl_stats(struct supervisor *s, int fd)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "zones %u\n", s->nzones);
	write_all(fd, line, (size_t)n);
	for (unsigned i = 0; i < s->nzones; i++) {
		const struct szone *z = &s->zones[i];
		const struct vgpu_zone_stats *st = z->stats;
		size_t k = (size_t)snprintf(line, sizeof(line),
			"zone %u name=%s client=%u worker=%d channels=%llu mem=%llu peak=%llu allocs=%llu handles=%llu",
			z->id, z->name, z->client_pid, (int)z->pid,
			(unsigned long long)vgpu_stat_get(&st->channels), (unsigned long long)vgpu_stat_get(&st->mem_bytes),
			(unsigned long long)vgpu_stat_get(&st->mem_peak), (unsigned long long)vgpu_stat_get(&st->allocs),
			(unsigned long long)vgpu_stat_get(&st->handles));
		for (unsigned t = 1; t < VGPU_H_COUNT && k < sizeof(line); t++) {
			uint64_t c = vgpu_stat_get(&st->handles_by_type[t]);
			if (c && htype_names[t])
				k += (size_t)snprintf(line + k, sizeof(line) - k, " %s=%llu", htype_names[t], (unsigned long long)c);
		}
		uint32_t rw = __atomic_load_n(&st->rejoin_wait, __ATOMIC_RELAXED);
		if (rw && k < sizeof(line))   /* a zone restored from a file, waiting for its programs */
			k += (size_t)snprintf(line + k, sizeof(line) - k, " rejoin_wait=%u", rw);
		if (k < sizeof(line))
			k += (size_t)snprintf(line + k, sizeof(line) - k,
				" calls=%llu async=%llu errors=%llu bulk_in=%llu bulk_out=%llu pinned=%llu"
				" pinned_copied=%llu reg=%s\n",
				(unsigned long long)vgpu_stat_get(&st->calls), (unsigned long long)vgpu_stat_get(&st->async_calls),
				(unsigned long long)vgpu_stat_get(&st->errors), (unsigned long long)vgpu_stat_get(&st->bulk_in),
				(unsigned long long)vgpu_stat_get(&st->bulk_out), (unsigned long long)vgpu_stat_get(&st->pinned_bytes),
				(unsigned long long)vgpu_stat_get(&st->pinned_copied), z->reg[0] ? z->reg : "-");
		if (k >= sizeof(line)) {
			k = sizeof(line) - 1;
			line[k - 1] = '\n';
		}
		write_all(fd, line, k);
	}
}

static void ctl_reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ctl_reply(int fd, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	write_all(fd, line, (size_t)n);
}

/* Registration names: what a pod UID or a Xen domain name is made of. 0 if acceptable. */
static int reg_name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > VGPU_REG_NAME_MAX)
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* ---- the registry file (--registry): registrations that outlive a proxy restart ---- */

#define REGISTRY_HEADER "# vgpu-proxy registrations v1: reg NAME TOKEN mem=BYTES handles=N"

/* Write every registration to FILE.tmp (0600), fsync, rename over FILE. 0 or -errno. */
static int registry_save(struct supervisor *s)
{
	const char *path = s->cfg->registry_path;
	char tmp[sizeof(s->cfg->registry_path) + 8];
	if (!path[0])
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e = -errno;
		close(fd);
		unlink(tmp);
		return e;
	}
	fprintf(f, "%s\n", REGISTRY_HEADER);
	for (unsigned i = 0; i < s->nregs; i++) {
		const struct reg *r = &s->regs[i];
		char hex[33];
		vgpu_token_format(r->token, hex);
		fprintf(f, "reg %s %s mem=%llu handles=%u\n", r->name, hex, (unsigned long long)r->lim.mem_bytes,
			r->lim.handles);
		explicit_bzero(hex, sizeof(hex));
	}
	int rc = (fflush(f) == 0 && fsync(fd) == 0) ? 0 : -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	char dir[sizeof(s->cfg->registry_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*(slash == dir ? slash + 1 : slash) = '\0';
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
}

static int reg_add(struct supervisor *s, const struct reg *r)
{
	struct reg *nr = realloc(s->regs, (s->nregs + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	s->regs = nr;
	s->regs[s->nregs] = *r;
	s->regs[s->nregs].pool = vgpu_pool_create(r->lim.mem_bytes, r->lim.handles, &s->regs[s->nregs].pool_fd);
	if (!s->regs[s->nregs].pool)
		return -errno;
	s->nregs++;
	return 0;
}

/* Restore the registrations of FILE at start. A missing file is an empty registry; anything
 * malformed stops the proxy with the file and line (a half-read registry would silently
 * cut pods off). 0 or -1. */
int registry_load(struct supervisor *s)
{
	const char *path = s->cfg->registry_path;
	char line[512];
	unsigned no = 0;
	struct stat st;

	if (!path[0])
		return 0;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT) {
			vgpu_info("registry %s does not exist yet: starting with no registrations", path);
			return 0;
		}
		vgpu_err("cannot read the registry %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		vgpu_err("registry %s is readable or writable by others (mode %04o): it holds zone tokens; "
			 "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		fclose(f);
		return -1;
	}
	const char *why = NULL;
	while (!why && fgets(line, sizeof(line), f)) {
		no++;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			why = "line too long";
			break;
		}
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *save = NULL, *f0 = strtok_r(line, " ", &save), *name = strtok_r(NULL, " ", &save);
		char *tok = strtok_r(NULL, " ", &save), *mem = strtok_r(NULL, " ", &save);
		char *han = strtok_r(NULL, " ", &save), *extra = strtok_r(NULL, " ", &save);
		struct reg r;
		uint64_t m, h;
		memset(&r, 0, sizeof(r));
		if (!f0 || strcmp(f0, "reg") || !han || extra)
			why = "expected: reg NAME TOKEN mem=BYTES handles=N";
		else if (!reg_name_ok(name))
			why = "bad name (1-63 characters from [A-Za-z0-9._-])";
		else if (vgpu_token_parse(tok, 0, r.token) < 0)
			why = "bad token (32 lower-case hex digits)";
		else if (strncmp(mem, "mem=", 4) || vgpu_size_parse(mem + 4, &m) < 0)
			why = "bad mem= (a byte count)";
		else if (strncmp(han, "handles=", 8) || vgpu_size_parse(han + 8, &h) < 0 || h < 1 || h > (1u << 24))
			why = "bad handles= (1..16777216)";
		else if (reg_by_name(s, name))
			why = "name registered twice";
		else if (reg_by_token(s, r.token))
			why = "token used twice";
		if (why)
			break;
		snprintf(r.name, sizeof(r.name), "%s", name);
		r.lim = s->cfg->limits;
		r.lim.mem_bytes = m;
		r.lim.handles = (uint32_t)h;
		if (reg_add(s, &r) < 0)
			why = "out of memory";
		explicit_bzero(line, sizeof(line));
	}
	explicit_bzero(line, sizeof(line));
	if (!why && ferror(f))
		why = strerror(errno);
	fclose(f);
	if (why) {
		vgpu_err("registry %s:%u: %s; fix or remove the line (or the file) and start again", path, no, why);
		return -1;
	}
	vgpu_info("registry %s: %u registration%s restored", path, s->nregs, s->nregs == 1 ? "" : "s");
	return 0;
}

static void ctl_register(struct supervisor *s, int fd, char *args)
{
	char *save = NULL, *name = strtok_r(args, " ", &save);
	struct reg r;

	if (!name || !reg_name_ok(name)) {
		ctl_reply(fd, "error register: expected a name of 1-%d characters from [A-Za-z0-9._-]", VGPU_REG_NAME_MAX);
		return;
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.lim = s->cfg->limits;
	for (char *kv; (kv = strtok_r(NULL, " ", &save));) {
		uint64_t v;
		if (!strncmp(kv, "mem=", 4) && vgpu_size_parse(kv + 4, &v) == 0) {
			r.lim.mem_bytes = v ? v : s->cfg->limits.mem_bytes;
		} else if (!strncmp(kv, "handles=", 8) && vgpu_size_parse(kv + 8, &v) == 0 && v >= 1 && v <= 1u << 24) {
			r.lim.handles = (uint32_t)v;
		} else {
			ctl_reply(fd, "error register %s: bad option '%.64s' (expected mem=BYTES[K|M|G|T] or handles=1..16777216)",
				  name, kv);
			return;
		}
	}
	if (reg_by_name(s, name)) {
		ctl_reply(fd, "error register %s: already registered (unregister it first)", name);
		return;
	}
	if (s->nregs >= REG_MAX) {
		ctl_reply(fd, "error register %s: %u registrations already", name, REG_MAX);
		return;
	}
	if (getrandom(r.token, sizeof(r.token), 0) != (ssize_t)sizeof(r.token)) {
		ctl_reply(fd, "error register %s: getrandom failed: %s", name, strerror(errno));
		return;
	}
	int rc = reg_add(s, &r);
	if (rc < 0) {
		ctl_reply(fd, "error register %s: %s", name, strerror(-rc));
		return;
	}
	if ((rc = registry_save(s)) < 0) {
		/* Not kept, not given: a registration the next start would forget is a trap. */
		reg_pool_release(&s->regs[--s->nregs]);
		ctl_reply(fd, "error register %s: cannot write the registry %s: %s", name, s->cfg->registry_path,
			  strerror(-rc));
		return;
	}
	char hex[33];
	vgpu_token_format(r.token, hex);
	vgpu_info("registered '%s' (mem limit %llu, handle limit %u)", name, (unsigned long long)r.lim.mem_bytes,
		  r.lim.handles);
	ctl_reply(fd, "ok %s", hex);
	explicit_bzero(hex, sizeof(hex));
}

/*
 * Drop a registration: its token stops working at once and its zones end now (SIGKILL,
 * then waited for, so that when the answer arrives the driver has released what they held
 * and stats no longer list them).
 */
static void ctl_unregister(struct supervisor *s, int fd, char *args)
{
	char *save = NULL, *name = strtok_r(args, " ", &save);
	struct reg *r = name ? reg_by_name(s, name) : NULL;
	unsigned ended = 0;

	if (!name || strtok_r(NULL, " ", &save)) {
		ctl_reply(fd, "error unregister: expected one name");
		return;
	}
	if (!r) {
		ctl_reply(fd, "error unregister %.64s: not registered", name);
		return;
	}
	struct reg gone = *r;
	*r = s->regs[--s->nregs];
	for (unsigned i = 0; i < s->nzones; i++) {
		if (!strcmp(s->zones[i].reg, name)) {
			s->zones[i].ending = 1;
			kill(s->zones[i].pid, SIGKILL);
		}
	}
	for (unsigned i = 0; i < s->nzones;) {
		/* Only this registration's: a zone of a vanished Xen domain is ending too. */
		if (!s->zones[i].ending || strcmp(s->zones[i].reg, name)) {
			i++;
			continue;
		}
		int st;
		pid_t pid = waitpid(s->zones[i].pid, &st, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0) { /* already reaped elsewhere: cannot happen, but never loop for ever */
			zone_forget(s, i);
		} else {
			reaped(s, pid, st); /* forgets zone i: the next one moved into slot i */
		}
		ended++;
	}
	reg_pool_release(&gone); /* its zones are all reaped: nothing maps it any more here */
	int rc = registry_save(s);
	if (rc < 0)
		vgpu_err("unregistered '%s' but cannot rewrite the registry %s: %s; it would come back at the next start",
			 name, s->cfg->registry_path, strerror(-rc));
	vgpu_info("unregistered '%s': %u zone%s ended", name, ended, ended == 1 ? "" : "s");
	ctl_reply(fd, "ok %u", ended);
}

static void ctl_list(struct supervisor *s, int fd)
{
	ctl_reply(fd, "regs %u", s->nregs);
	for (unsigned i = 0; i < s->nregs; i++)
		ctl_reply(fd, "reg %s mem=%llu handles=%u zones=%u used=%llu handles_used=%llu", s->regs[i].name,
			  (unsigned long long)s->regs[i].lim.mem_bytes, s->regs[i].lim.handles,
			  reg_zone_count(s, s->regs[i].name),
			  (unsigned long long)vgpu_pool_total(s->regs[i].pool, VGPU_POOL_MEM),
			  (unsigned long long)vgpu_pool_total(s->regs[i].pool, VGPU_POOL_HANDLES));
}

/* where ID: the zone's state socket, where checkpoint and thaw requests go (vgpuctl). */
static void ctl_where(struct supervisor *s, int fd, const char *args)
{
	char *end;
	unsigned long id = strtoul(args, &end, 10);
	if (!*args || *end || id == 0 || id > UINT32_MAX) {
		ctl_reply(fd, "error where: expected a zone id (see vgpuctl stats)");
		return;
	}
	if (!s->cfg->state_dir[0]) {
		ctl_reply(fd, "error zones have no state socket: start vgpu-proxy with --state-dir DIR to checkpoint or migrate them");
		return;
	}
	for (unsigned i = 0; i < s->nzones; i++)
		if (s->zones[i].id == id && !s->zones[i].ending) {
			ctl_reply(fd, "ok %s/zone-%lu.sock", s->cfg->state_dir, id);
			return;
		}
	ctl_reply(fd, "error no live zone %lu here", id);
}

/*
 * restore PATH: recreate a zone from a checkpoint in a new worker (which checks the whole
 * file, rebuilds the zone and takes its channels over from the worker that wrote it, when
 * that one still waits) and answer with the outcome. Blocks the supervisor for as long.
 */
static void ctl_restore_from(struct supervisor *s, int fd, int cf, const char *path, uint32_t replace);

static void ctl_restore(struct supervisor *s, int fd, const char *path)
{
	if (path[0] != '/') {
		ctl_reply(fd, "error restore: expected the checkpoint's absolute path");
		return;
	}
	int cf = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (cf < 0) {
		ctl_reply(fd, "error restore: cannot open %s: %s", path, strerror(errno));
		return;
	}
	ctl_restore_from(s, fd, cf, path, 0);
}

/* restore-fd [replace=ID]: the same from a stream passed with the command (vgpuctl migrate:
 * the writing worker's output, read as it is written). replace=ID: the zone is this proxy's
 * zone ID moving into a new worker (vgpuctl migrate to the proxy it is on, e.g. onto an
 * upgraded binary); its token may be live here, in that zone only. */
static void ctl_restore_from(struct supervisor *s, int fd, int cf, const char *path, uint32_t replace)
{
	struct vgpu_ckpt_meta meta;
	char why[256];

	if (vgpu_ckpt_peek(cf, &meta, why, sizeof(why)) < 0) {
		ctl_reply(fd, "error restore: %s: %s", path, why);
		close(cf);
		return;
	}
	if (s->nzones >= s->cfg->max_zones) {
		ctl_reply(fd, "error restore: this proxy has its --max-zones %u zones", s->cfg->max_zones);
		close(cf);
		return;
	}
	for (unsigned i = 0; i < s->nzones; i++)
		if (token_eq(s->zones[i].token, meta.token) && (s->zones[i].id != replace || s->zones[i].replaced)) {
			ctl_reply(fd, "error restore: that zone is live here already (zone %u)", s->zones[i].id);
			close(cf);
			return;
		}
	const struct reg *r = NULL;
	for (unsigned i = 0; meta.reg[0] && i < s->nregs; i++)
		if (!strcmp(s->regs[i].name, meta.reg))
			r = &s->regs[i];
	if (meta.reg[0] && !r && s->cfg->require_registration) {
		ctl_reply(fd, "error restore: the zone belongs to registration '%s', which this proxy does not have "
			  "(register it first: the proxy runs with --require-registration)", meta.reg);
		close(cf);
		return;
	}
	int idx = zone_create(s, NULL, meta.name, r, -1, -1, meta.token, cf, NULL, NULL);
	close(cf);
	if (idx < 0) {
		ctl_reply(fd, "error restore: cannot start a worker for the zone (see the proxy's log)");
		return;
	}
	struct szone *z = &s->zones[idx];
	z->restored = 1;
	struct vgpu_state_reply rr;
	struct pollfd p = { z->ctrl_fd, POLLIN, 0 };
	ssize_t n = -1;
	if (poll(&p, 1, 600000) == 1)
		n = recv(z->ctrl_fd, &rr, sizeof(rr), 0);
	int ok = n == (ssize_t)sizeof(rr) && rr.magic == VGPU_STATE_RSTR && rr.status == 0;
	if (!ok) {
		/* The worker ends (it exits by itself after a failure): gone before the answer, so
		 * that a refused restore leaves nothing behind. */
		pid_t pid = z->pid;
		int st;
		z->ending = 1;
		if (n != (ssize_t)sizeof(rr) || rr.magic != VGPU_STATE_RSTR)
			kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		reaped(s, pid, st);
		if (n != (ssize_t)sizeof(rr) || rr.magic != VGPU_STATE_RSTR) {
			ctl_reply(fd, "error restore: the zone's worker did not report (see the proxy's log)");
			return;
		}
		rr.msg[sizeof(rr.msg) - 1] = '\0';
		ctl_reply(fd, "error restore: %s", rr.msg);
		return;
	}
	for (unsigned i = 0; replace && i < s->nzones; i++)
		if (s->zones[i].id == replace && token_eq(s->zones[i].token, meta.token)) {
			s->zones[i].replaced = 1;   /* its worker hands over and exits; new threads join here */
			vgpu_info("zone %u '%s' goes on as zone %u in a new worker", replace, s->zones[i].name, z->id);
		}
	rr.msg[sizeof(rr.msg) - 1] = '\0';
	ctl_reply(fd, "ok zone %u restored from zone %u of the checkpoint: %u handles, %u allocations (%llu bytes), "
		  "%u channels taken over, %.1f ms%s%s", z->id, meta.zone_id, rr.handles, rr.allocs,
		  (unsigned long long)rr.mem_bytes, rr.channels, rr.work_ns / 1e6, rr.msg[0] ? "; " : "", rr.msg);
}

/*
 * One control connection: one command line, its answer, close. The socket is the
 * orchestrator's (mode 0600), but its input is still checked; a client that sends nothing
 * within 1 s is dropped.
 */
void on_ctl(struct supervisor *s)
{
	char cmd[512];
	size_t n = 0;
	int fd = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int passed = -1;   /* a descriptor sent with the command (restore-fd) */
	while (n < sizeof(cmd) - 1) {
		ssize_t r;
		if (n == 0) {
			int fds[1];
			unsigned nf = 0;
			r = vgpu_fds_recv(fd, cmd, sizeof(cmd) - 1, fds, 1, &nf, 0);
			if (r < 0) {
				errno = (int)-r;
				r = -1;
			}
			if (nf)
				passed = fds[0];
		} else {
			r = recv(fd, cmd + n, sizeof(cmd) - 1 - n, 0);
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(cmd, '\n', n))
			break;
	}
	cmd[n] = '\0';
	char *nl = strchr(cmd, '\n');
	if (!nl) {
		ctl_reply(fd, "error %s", n == sizeof(cmd) - 1 ? "command line too long" : "no command line (expected one line ending in a newline)");
		if (passed >= 0)
			close(passed);
		close(fd);
		return;
	}
	*nl = '\0';
	if (nl > cmd && nl[-1] == '\r')
		nl[-1] = '\0';
	char *args = strchr(cmd, ' ');
	if (args)
		*args++ = '\0';
	else
		args = cmd + strlen(cmd);
	s->ctl_conn = fd;
	if (!strcmp(cmd, "stats") && !*args)
		ctl_stats(s, fd);
	else if (!strcmp(cmd, "list") && !*args)
		ctl_list(s, fd);
	else if (!strcmp(cmd, "register"))
		ctl_register(s, fd, args);
	else if (!strcmp(cmd, "unregister"))
		ctl_unregister(s, fd, args);
	else if (!strcmp(cmd, "where"))
		ctl_where(s, fd, args);
	else if (!strcmp(cmd, "restore"))
		ctl_restore(s, fd, args);
	else if (!strcmp(cmd, "restore-fd") && passed >= 0 && (!*args || !strncmp(args, "replace=", 8))) {
		char *end = NULL;
		unsigned long rid = *args ? strtoul(args + 8, &end, 10) : 0;
		if (*args && (!end || *end || end == args + 8 || rid == 0 || rid > UINT32_MAX)) {
			ctl_reply(fd, "error restore-fd: replace= expects a zone id of this proxy");
		} else {
			ctl_restore_from(s, fd, passed, "the stream", (uint32_t)rid);
			passed = -1;   /* consumed */
		}
	} else
		ctl_reply(fd, "error unknown command '%.32s' (expected stats, list, register NAME [mem=B] [handles=N], "
			  "unregister NAME, where ID, restore PATH, restore-fd [replace=ID] with a descriptor)", cmd);
	explicit_bzero(cmd, sizeof(cmd));
	s->ctl_conn = -1;
	if (passed >= 0)
		close(passed);
	close(fd);
}

int listen_ctl(struct supervisor *s)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->cfg->ctl_path) >= (int)sizeof(a.sun_path))
		return -ENAMETOOLONG;
	int rc = make_parent_dirs(a.sun_path);
	if (rc < 0)
		return rc;
	snprintf(s->ctl_path, sizeof(s->ctl_path), "%s", a.sun_path);
	s->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->ctl_fd < 0)
		return -errno;
	unlink(a.sun_path);
	/* The control socket registers zones: the node's orchestrator (root) only. */
	if (bind(s->ctl_fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(a.sun_path, 0600) < 0 ||
	    listen(s->ctl_fd, 16) < 0) {
		int e = -errno;
		close(s->ctl_fd);
		s->ctl_fd = -1;
		return e;
	}
	return 0;
}
