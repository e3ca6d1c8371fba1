/* SPDX-License-Identifier: MIT */
/* adopt.c — zones that outlive their supervisor: finding and adopting orphaned workers (--state-dir), and seeing their end. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

void reg_pool_release(struct reg *r)
{
	vgpu_pool_destroy(r->pool);
	r->pool = NULL;
	if (r->pool_fd >= 0)
		close(r->pool_fd);
	r->pool_fd = -1;
}

static int same_file(int a, int b)
{
	struct stat x, y;
	return fstat(a, &x) == 0 && fstat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/*
 * The budget an adopted zone charges: its registration's. A registration restored from the
 * registry got a fresh, empty pool at start; the first adopted zone of it brings the pool its
 * workers really share (charges and slots included), which replaces the fresh one.
 */
static struct vgpu_pool *adopt_pool(struct supervisor *s, const char *reg, int fd)
{
	struct reg *r = reg_by_name(s, reg);
	if (!r) {
		vgpu_warn("adopted zone of registration '%s', which this supervisor does not know (start it with "
			  "the same --registry): its budget is not tracked here", reg);
		close(fd);
		return NULL;
	}
	if (same_file(r->pool_fd, fd)) {
		close(fd);
		return r->pool;
	}
	struct vgpu_pool *p = vgpu_pool_map(fd);
	if (!p) {
		vgpu_warn("registration '%s': the adopted zone's budget is not a pool; its budget is not tracked", reg);
		close(fd);
		return NULL;
	}
	for (unsigned i = 0; i < s->nzones; i++)
		if (s->zones[i].pool == r->pool) {
			/* zones of two pools under one name: the registration was made again meanwhile */
			vgpu_warn("registration '%s' has zones with two budgets; the older stays untracked", reg);
			munmap(p, sizeof(*p));
			close(fd);
			return NULL;
		}
	reg_pool_release(r);
	r->pool = p;
	r->pool_fd = fd;
	return p;
}

/* Ask the worker behind path for its zone. 0 adopted, -1 not (said why), -2 stale socket. */
static int adopt_one(struct supervisor *s, const char *path, uint32_t id_from_name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 2, 0 };
	struct vgpu_adopt_req req = { VGPU_ADOPT_MAGIC, VGPU_PROTO_VERSION };
	struct vgpu_adopt_info info;
	int fds[2] = { -1, -1 };
	unsigned n = 0;
	struct vgpu_zone_stats *st;
	int c, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -1;
	if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errno;
		close(c);
		return rc == ECONNREFUSED || rc == ENOENT ? -2 : -1;
	}
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((rc = vgpu_fds_send(c, &req, sizeof(req), NULL, 0)) < 0 ||
	    (rc = vgpu_record_recv(c, &info, sizeof(info), fds, 2, &n, 0)) < 0) {
		vgpu_warn("%s: no answer to the adoption request (%s)", path, strerror(-rc));
		close(c);
		return -1;
	}
	info.name[sizeof(info.name) - 1] = '\0';
	info.reg[sizeof(info.reg) - 1] = '\0';
	st = MAP_FAILED;
	struct stat fst;
	if (info.magic != VGPU_ADOPT_MAGIC || info.version != VGPU_PROTO_VERSION || info.zone_id != id_from_name ||
	    info.pid <= 0 || n != (info.pool_slot >= 0 ? 2u : 1u) || fstat(fds[0], &fst) < 0 ||
	    (uint64_t)fst.st_size != sizeof(*st) ||
	    (st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0)) == MAP_FAILED) {
		vgpu_warn("%s: the worker's answer does not describe zone %u; not adopted", path, id_from_name);
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		close(c);
		return -1;
	}
	close(fds[0]);
	struct szone z = { .id = info.zone_id, .pid = info.pid, .ctrl_fd = c, .client_pid = info.client_pid,
			   .stats = st, .domid = info.domid, .pool_slot = -1, .adopted = 1 };
	memcpy(z.token, info.token, sizeof(z.token));
	snprintf(z.name, sizeof(z.name), "%s", info.name);
	snprintf(z.reg, sizeof(z.reg), "%s", info.reg);
	if (n == 2) {
		z.pool = adopt_pool(s, info.reg, fds[1]);
		z.pool_slot = z.pool ? info.pool_slot : -1;
		if (z.pool_slot >= VGPU_POOL_SLOTS) {
			z.pool = NULL;
			z.pool_slot = -1;
		}
	}
	struct szone *nz = realloc(s->zones, (s->nzones + 1) * sizeof(*nz));
	if (!nz) {
		vgpu_err("out of memory adopting zone %u", z.id);
		munmap(st, sizeof(*st));
		close(c);
		return -1;
	}
	s->zones = nz;
	s->zones[s->nzones++] = z;
	if (z.id > s->next_id)
		s->next_id = z.id;
	vgpu_info("adopted zone %u '%s': worker %d, %llu bytes of device memory, %llu channels%s%s", z.id, z.name,
		  (int)z.pid, (unsigned long long)vgpu_stat_get(&st->mem_bytes),
		  (unsigned long long)vgpu_stat_get(&st->channels), z.reg[0] ? ", registration " : "", z.reg);
	return 0;
}

void adopt_all(struct supervisor *s)
{
	const char *dir = s->cfg->state_dir;
	char path[512];
	unsigned adopted = 0;
	struct dirent *e;
	DIR *d;

	if (!dir[0])
		return;
	snprintf(path, sizeof(path), "%s/x", dir);
	if (make_parent_dirs(path) < 0 || chmod(dir, 0700) < 0) {
		vgpu_err("cannot create the state directory %s (%s): zones will not outlive this supervisor",
			 dir, strerror(errno));
		return;
	}
	if (!(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		unsigned id;
		char tail;
		if (sscanf(e->d_name, "zone-%u.soc%c", &id, &tail) != 2 || tail != 'k')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		int rc = adopt_one(s, path, id);
		if (rc == 0)
			adopted++;
		else if (rc == -2)
			unlink(path);   /* its worker is gone */
	}
	closedir(d);
	if (adopted)
		vgpu_info("%u zone%s of an earlier supervisor adopted from %s", adopted, adopted == 1 ? "" : "s", dir);
}

/* The adopted zones' control sockets: not our children, so their end is seen there. */
int adopt_poll_fill(struct supervisor *s, struct pollfd *p, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nzones && n < max; i++)
		if (s->zones[i].adopted)
			p[n++] = (struct pollfd){ s->zones[i].ctrl_fd, POLLIN, 0 };
	return (int)n;
}

void adopt_poll_check(struct supervisor *s, const struct pollfd *p, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		char b;
		if (!p[k].revents)
			continue;
		/* Hung up: ended, even with a record still unread (a worker that handed its zone
		 * over says where it went, then exits: zone_forget reads that). Otherwise data or
		 * nothing to read means it is still there. */
		if (!(p[k].revents & (POLLHUP | POLLERR))) {
			ssize_t r = recv(p[k].fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
			if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
				continue;   /* still there */
		}
		for (unsigned i = 0; i < s->nzones; i++) {
			if (s->zones[i].ctrl_fd != p[k].fd)
				continue;
			vgpu_info("zone %u '%s': worker %d ended (adopted: not this supervisor's child, its exit "
				  "status is its own log's)", s->zones[i].id, s->zones[i].name, (int)s->zones[i].pid);
			zone_forget(s, i);
			break;
		}
	}
}
