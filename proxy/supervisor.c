/* SPDX-License-Identifier: MIT */
/* supervisor.c — vgpu-proxy's supervisor: accepts zones, forks one worker per zone, routes channels, reaps workers (control socket: sv_ctl.c; Xen zones: sv_xen.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "chan.h"
#include "log.h"
#include "proxyd.h"
#include "supervisor.h"
#include "drvenv.h"
#include "wire.h"

void vgpu_name_sanitize(const char *in, unsigned in_len, char out[65])
{
	unsigned n = 0;
	for (unsigned i = 0; i < in_len && n < 64 && in[i]; i++) {
		char ch = in[i];
		out[n++] = (ch >= 0x21 && ch <= 0x7e && ch != '[' && ch != ']') ? ch : '_';
	}
	if (n == 0)
		out[n++] = '-';
	out[n] = '\0';
}

/* Constant-time comparison of two tokens (no early exit on the first differing byte). */
int token_eq(const uint8_t *a, const uint8_t *b)
{
	uint8_t d = 0;
	for (unsigned i = 0; i < 16; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

static struct szone *zone_by_token(struct supervisor *s, const uint8_t *token)
{
	struct szone *found = NULL;
	for (unsigned i = 0; i < s->nzones; i++)
		if (!s->zones[i].replaced && token_eq(s->zones[i].token, token))
			found = &s->zones[i];
	return found;
}

const uint8_t sv_zero_token[16];

/*
 * Tell a client its channel is refused (welcome with a CUresult), so that its cuInit fails
 * with a reason rather than a closed connection. Consumes sock and memfd.
 */
static void refuse_channel(int sock, int memfd, uint32_t status, const char *moved_to)
{
	struct vgpu_chan *ch = NULL;
	struct vgpu_welcome w = { .status = status };
	if (moved_to)
		snprintf(w.moved_to, sizeof(w.moved_to), "%s", moved_to);
	if (vgpu_shm_attach(sock, memfd, &ch) < 0)
		return; /* it closed both fds */
	if (vgpu_chan_send(ch, VGPU_OP_WELCOME, 0, 0, &w, sizeof(w)) == 0)
		vgpu_chan_flush(ch);
	vgpu_chan_close(ch);
}

void zone_forget(struct supervisor *s, unsigned i)
{
	struct szone *z = &s->zones[i];
	if (s->cfg->state_dir[0] && !s->leaving) {
		/* its worker is gone (or going): no supervisor is to look for it */
		char path[300];
		snprintf(path, sizeof(path), "%s/zone-%u.sock", s->cfg->state_dir, z->id);
		unlink(path);
	}
	if (z->pool)
		vgpu_pool_slot_drop(z->pool, z->pool_slot); /* a killed worker's bytes leave the budget */
	struct vgpu_state_moved m;
	if (z->ctrl_fd >= 0 && !z->replaced && recv(z->ctrl_fd, &m, sizeof(m), MSG_DONTWAIT) == (ssize_t)sizeof(m) &&
	    m.magic == VGPU_STATE_MOVD && m.version == VGPU_PROTO_VERSION) {
		/* handed over to another proxy: its new threads are sent there */
		unsigned k = s->nmoved++ % (sizeof(s->moved) / sizeof(s->moved[0]));
		memcpy(s->moved[k].token, z->token, sizeof(z->token));
		memcpy(s->moved[k].dest, m.dest, sizeof(m.dest));
		s->moved[k].dest[sizeof(m.dest) - 1] = '\0';
		vgpu_info("zone %u '%s' moved to %s; its new channels are sent there", z->id, z->name, s->moved[k].dest);
	}
	if (z->ctrl_fd >= 0)
		close(z->ctrl_fd);
	if (z->stats)
		munmap(z->stats, sizeof(*z->stats));
	s->zones[i] = s->zones[--s->nzones];
}

/* Fork the worker of a new zone and hand it its first channel, with the limits of its
 * registration r (NULL: the command line's). Consumes sock and memfd. */
int zone_create(struct supervisor *s, const struct vgpu_handoff *first, const char *name,
		const struct reg *r, int sock, int memfd, const uint8_t *token, int restore_fd, const char *devices,
		const char *env)
{
	const struct vgpu_hello *hello = first ? &first->hello : NULL;
	struct vgpu_zone_stats *st = MAP_FAILED;
	int sv[2] = { -1, -1 }, stats_fd = -1, pool_fd = -1;
	struct szone z = { .pool_slot = -1 };

	/* (route() has checked --max-zones.) */
	if (r) {
		z.pool_slot = vgpu_pool_slot_take(r->pool);
		if (z.pool_slot < 0) {
			vgpu_warn("refusing a new zone of registration '%s': it has %u zones already", r->name,
				  VGPU_POOL_SLOTS);
			goto fail;
		}
		z.pool = r->pool;
	}
	if (token)
		memcpy(z.token, token, sizeof(z.token));   /* a restored zone keeps its JOIN token */
	else if (getrandom(z.token, sizeof(z.token), 0) != (ssize_t)sizeof(z.token)) {
		vgpu_err("getrandom failed (%s); refusing a new zone", strerror(errno));
		goto fail;
	}
	/* the stats page is a memfd, so that a supervisor started later can map it too */
	stats_fd = memfd_create("vgpu-zone-stats", MFD_CLOEXEC);
	if (stats_fd >= 0 && ftruncate(stats_fd, sizeof(*st)) == 0)
		st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED, stats_fd, 0);
	if (st == MAP_FAILED || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		vgpu_err("cannot create a zone: %s", strerror(errno));
		goto fail;
	}
	z.id = ++s->next_id;
	z.client_pid = hello ? hello->pid : 0;
	snprintf(z.name, sizeof(z.name), "%s", name);
	if (r)
		snprintf(z.reg, sizeof(z.reg), "%s", r->name);
	z.domid = first && first->transport == VGPU_TRANSPORT_XEN ? first->xen.domid : NO_DOMID;
	z.stats = st;
	z.ctrl_fd = sv[0];
	pid_t pid = fork();
	if (pid < 0) {
		vgpu_err("cannot fork a worker for zone %u: %s", z.id, strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* Worker: drop everything of the supervisor's and of the other zones. */
		sigset_t all;
		close(s->lfd);
		close(s->ctl_fd);
		close(s->sig_fd);
		if (s->ctl_conn >= 0)
			close(s->ctl_conn);
		close(sv[0]);
		if (s->xs)
			xs_daemon_destroy_postfork(s->xs); /* the worker opens its own when it needs one */
		/* Other pods' tokens have no business in this zone's process (r points in there). */
		struct vgpu_zone_limits lim = r ? r->lim : s->cfg->limits;
		pool_fd = r ? r->pool_fd : -1;
		for (unsigned i = 0; i < s->nregs; i++)
			if (s->regs[i].pool != z.pool)
				reg_pool_release(&s->regs[i]);
		if (s->regs)
			explicit_bzero(s->regs, s->nregs * sizeof(*s->regs));
		free(s->regs);
		if (sock >= 0)
			close(sock);
		if (memfd >= 0)
			close(memfd);
		for (unsigned i = 0; i < s->nzones; i++) {
			close(s->zones[i].ctrl_fd);
			munmap(s->zones[i].stats, sizeof(*s->zones[i].stats));
		}
		/* Other clients' parked sockets too: a copy here would hide their peer's death. */
		for (unsigned i = 0; i < s->npend; i++)
			close(s->pend[i].fd);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		struct vgpu_worker_args a = { .cfg = s->cfg, .zone_id = z.id, .ctrl_fd = sv[1], .stats = st,
					      .stats_fd = stats_fd, .pool_fd = pool_fd, .client_pid = z.client_pid,
					      .domid = z.domid, .limits = lim, .pool = z.pool, .pool_slot = z.pool_slot,
					      .restore_fd = restore_fd };
		snprintf(a.reg, sizeof(a.reg), "%s", z.reg);
		snprintf(a.devices, sizeof(a.devices), "%s", devices ? devices : "");
		snprintf(a.env, sizeof(a.env), "%s", env ? env : "");
		memcpy(a.name, z.name, sizeof(a.name));
		memcpy(a.token, z.token, sizeof(a.token));
		vgpu_worker_main(&a);
	}
	close(sv[1]);
	close(stats_fd);   /* the worker keeps its copy; the mapping is what this process needs */
	stats_fd = -1;
	z.pid = pid;
	struct szone *nz = realloc(s->zones, (s->nzones + 1) * sizeof(*nz));
	if (!nz) {
		vgpu_err("out of memory tracking zone %u; stopping its worker", z.id);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (z.pool)
			vgpu_pool_slot_drop(z.pool, z.pool_slot);
		close(sv[0]);
		munmap(st, sizeof(*st));
		close(sock);
		close(memfd);
		return -1;
	}
	s->zones = nz;
	s->zones[s->nzones++] = z;
	if (!first) {
		vgpu_info("zone %u '%s' being restored from a checkpoint: worker %d%s%s", z.id, z.name, (int)pid,
			  r ? ", registration " : "", r ? r->name : "");
		return (int)s->nzones - 1;
	}
	int rc = vgpu_handoff_send(z.ctrl_fd, first, sock, memfd);
	if (rc < 0) {
		/* A worker without its first channel would wait for ever: end it (reaped as usual). */
		vgpu_err("zone %u: cannot hand the first channel to worker %d: %s; stopping it", z.id, (int)pid,
			 strerror(-rc));
		kill(pid, SIGKILL);
	}
	vgpu_info("zone %u '%s' connected from pid %u: worker %d%s%s%s%s", z.id, z.name, hello->pid, (int)pid,
		  r ? ", registration " : "", r ? r->name : "", devices && *devices ? ", devices " : "",
		  devices && *devices ? devices : "");
	if (sock >= 0)
		close(sock);
	if (memfd >= 0)
		close(memfd);
	return (int)s->nzones - 1;
fail:
	if (z.pool)
		vgpu_pool_slot_drop(z.pool, z.pool_slot);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (st != MAP_FAILED)
		munmap(st, sizeof(*st));
	if (stats_fd >= 0)
		close(stats_fd);
	if (sock >= 0)
		close(sock);
	if (memfd >= 0)
		close(memfd);
	return -1;
}

/* Check a hello from an untrusted client (len bytes read into hv); NULL if acceptable, else
 * what is wrong. */
static const char *hello_check(const struct vgpu_hello_ext *hv, uint32_t len)
{
	const struct vgpu_hello *h = &hv->hello;
	if (len != (h->flags ? sizeof(*hv) : sizeof(*h)))
		return h->flags ? "a hello with CUDA_VISIBLE_DEVICES or driver settings of the wrong size" :
		       "wrong hello size";
	if (h->magic != VGPU_HELLO_MAGIC)
		return "wrong magic (not a vgpu client?)";
	if (h->version != VGPU_PROTO_VERSION)
		return "unsupported protocol version (libvgpu and vgpu-proxy from different builds?)";
	if (h->kind != VGPU_HELLO_NEW_ZONE && h->kind != VGPU_HELLO_JOIN && h->kind != VGPU_HELLO_REJOIN)
		return "unknown hello kind";
	if (h->flags & ~(VGPU_HELLO_F_VISIBLE | VGPU_HELLO_F_DRIVER_ENV))
		return "unknown hello flags";
	if (h->flags && h->kind != VGPU_HELLO_NEW_ZONE)
		return "CUDA_VISIBLE_DEVICES or driver settings with a channel that is not a new zone's";
	if ((h->flags & VGPU_HELLO_F_VISIBLE) && !memchr(hv->visible, 0, sizeof(hv->visible)))
		return "CUDA_VISIBLE_DEVICES not NUL-terminated within its field";
	if ((h->flags & VGPU_HELLO_F_DRIVER_ENV) && (!hv->env[0] || vgpu_drvenv_check(hv->env) < 0))
		return "driver settings that are not NAME=VALUE entries the proxy passes on (drvenv.h)";
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Accept a connection and park it until its hello is readable: the supervisor serves every
 * zone from one thread, so it never blocks on a client. The oldest parked connection is
 * dropped when the table is full; each is dropped after HELLO_TIMEOUT_MS.
 */
static void on_accept(struct supervisor *s)
{
	int sock = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (sock < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			vgpu_warn("accept on %s: %s", s->cfg->listen_path, strerror(errno));
		return;
	}
	if (s->npend == PENDING_MAX) {
		vgpu_warn("%u connections without a hello; dropping the oldest", PENDING_MAX);
		close(s->pend[0].fd);
		memmove(&s->pend[0], &s->pend[1], (PENDING_MAX - 1) * sizeof(s->pend[0]));
		s->npend--;
	}
	s->pend[s->npend++] = (struct pending){ sock, now_ms() + HELLO_TIMEOUT_MS };
}

static void pending_remove(struct supervisor *s, unsigned i)
{
	memmove(&s->pend[i], &s->pend[i + 1], (s->npend - i - 1) * sizeof(s->pend[0]));
	s->npend--;
}

/* Drop parked connections past their deadline; returns the poll timeout until the next one. */
static int pending_expire(struct supervisor *s)
{
	int64_t now = now_ms(), next = -1;
	for (unsigned i = 0; i < s->npend;) {
		if (s->pend[i].deadline_ms <= now) {
			vgpu_warn("refused a connection: no hello within %d ms", HELLO_TIMEOUT_MS);
			close(s->pend[i].fd);
			pending_remove(s, i);
			continue;
		}
		if (next < 0 || s->pend[i].deadline_ms - now < next)
			next = s->pend[i].deadline_ms - now;
		i++;
	}
	return (int)next;
}

/*
 * Send a checked hello's channel where it belongs: a NEW_ZONE to a new worker (with its
 * registration's limits), a JOIN to the worker of the zone whose token it names, which must
 * be a zone of the same domain (Xen) or a local zone (shm). Returns NULL when the channel
 * was taken (sock and memfd consumed), else why it is refused (nothing consumed), with
 * *status the CUresult to tell the client (0: just close).
 */
const char *route(struct supervisor *s, struct vgpu_handoff *h, const char *name, uint32_t domid,
		  const char *visible, const char *env, int sock, int memfd, uint32_t *status, const char **moved_to)
{
	const struct vgpu_hello *hello = &h->hello;
	*status = 0;
	*moved_to = NULL;
	if (hello->kind == VGPU_HELLO_NEW_ZONE) {
		const struct reg *r = NULL;
		if (!token_eq(hello->token, sv_zero_token)) {
			r = reg_by_token(s, hello->token);
			if (!r) {
				*status = CUDA_ERROR_NOT_PERMITTED;
				return "its token matches no registration (never issued, or unregistered)";
			}
		} else if (s->cfg->require_registration) {
			*status = CUDA_ERROR_NOT_PERMITTED;
			return "it has no registration token and --require-registration is set";
		}
		if (s->nzones >= s->cfg->max_zones) {
			*status = CUDA_ERROR_OUT_OF_MEMORY;
			return "too many zones (--max-zones)";
		}
		/* The devices its process chose, as ordinals of the proxy's ("": all, as they are). */
		char devices[VGPU_VISIBLE_TEXT] = "";
		if (visible && vgpu_devsel_resolve(s->cfg, visible, devices) == 0) {
			*status = CUDA_ERROR_NO_DEVICE;
			return "its CUDA_VISIBLE_DEVICES names none of the devices zones are shown";
		}
		/* A registered zone is named by its registration (trusted), not by the client. */
		zone_create(s, h, r ? r->name : name, r, sock, memfd, NULL, -1, devices, env);
		return NULL;
	}
	struct szone *z = zone_by_token(s, hello->token);
	if (!z && domid == NO_DOMID && hello->kind == VGPU_HELLO_JOIN) {
		unsigned n = s->nmoved < 64 ? s->nmoved : 64;
		for (unsigned k = 0; k < n; k++)
			if (token_eq(s->moved[k].token, hello->token)) {
				*status = VGPU_STATUS_MOVED;
				*moved_to = s->moved[k].dest;
				return "its zone moved to another proxy (told where)";
			}
	}
	if (z && hello->kind == VGPU_HELLO_REJOIN && z->restored && z->domid == NO_DOMID && domid != NO_DOMID &&
	    !__atomic_load_n(&z->stats->channels, __ATOMIC_RELAXED)) {
		/* a zone restored from a file knows no domain yet: a guest's channel holding its token,
		 * rejoining it, makes it that guest's (its domain's end then ends it) */
		z->domid = domid;
		vgpu_info("zone %u '%s' restored: it belongs to domain %u, whose channel rejoins it", z->id, z->name, domid);
	}
	if (!z || z->domid != domid)
		return "no zone of this domain has that token";
	int rc = vgpu_handoff_send(z->ctrl_fd, h, sock, memfd);
	if (rc < 0)
		vgpu_warn("zone %u: cannot hand a joining channel to its worker (%s); closed", z->id, strerror(-rc));
	else
		vgpu_debug("zone %u: channel from pid %u %s", z->id, hello->pid,
			   hello->kind == VGPU_HELLO_REJOIN ? "rejoins (handed to its worker to check)" : "joined");
	if (sock >= 0)
		close(sock);
	if (memfd >= 0)
		close(memfd);
	return NULL;
}

/* A parked connection is readable: take its hello and route the channel. Consumes sock. */
static void on_hello(struct supervisor *s, int sock)
{
	struct vgpu_hello_ext hv;
	const struct vgpu_hello *hp = &hv.hello;
	uint32_t len = 0;
	int memfd = -1, rc;
	char name[65];

	memset(&hv, 0, sizeof(hv));
	rc = vgpu_shm_recv_hello(sock, &hv, sizeof(hv), &len, &memfd);
	if (rc < 0) {
		vgpu_warn("refused a connection: no valid hello + region fd (%s; %s)", strerror(-rc),
			  vgpu_chan_setup_error());
		goto refuse;
	}
	/* The worker's channel uses the socket for liveness; give it back its blocking mode. */
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
	const char *bad = hello_check(&hv, len);
	if (bad) {
		vgpu_warn("refused a connection (hello of %u bytes): %s", len, bad);
		goto refuse;
	}
	struct vgpu_hello hello = *hp;
	hello.flags = 0;   /* what follows the hello stays here */
	vgpu_name_sanitize(hello.name, sizeof(hello.name), name);
	struct vgpu_handoff h = { .hello = hello, .transport = VGPU_TRANSPORT_SHM };
	uint32_t status = 0;
	const char *moved_to = NULL;
	const char *why = route(s, &h, name, NO_DOMID, hp->flags & VGPU_HELLO_F_VISIBLE ? hv.visible : NULL,
				hp->flags & VGPU_HELLO_F_DRIVER_ENV ? hv.env : NULL, sock, memfd, &status, &moved_to);
	if (!why)
		return;
	if (hello.kind == VGPU_HELLO_REJOIN) {
		/* answered on the socket: the ring holds the zone's queued requests */
		vgpu_debug("a channel from pid %u ('%s') rejoining a zone not here (%s): told to try again", hello.pid,
			   name, why);
		vgpu_rejoin_answer(sock, VGPU_REJOIN_LATER, "no zone with that token here (not restored yet?)");
		goto refuse;
	}
	vgpu_warn("refused a %s from pid %u ('%s'): %s", hello.kind == VGPU_HELLO_NEW_ZONE ? "new zone" : "JOIN",
		  hello.pid, name, why);
	if (status) {
		refuse_channel(sock, memfd, status, moved_to);
		return;
	}
refuse:
	if (memfd >= 0)
		close(memfd);
	close(sock);
}

static const char *signame(int sig)
{
	const char *d = sigdescr_np(sig);
	return d ? d : "unknown signal";
}

/* Child pid ended with wait status st: log it and, if it was a zone's worker, forget the zone. */
void reaped(struct supervisor *s, pid_t pid, int st)
{
	unsigned i;
	for (i = 0; i < s->nzones && s->zones[i].pid != pid; i++)
		;
	char how[96];
	if (WIFEXITED(st))
		snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "killed by signal %d (%s)%s", WTERMSIG(st), signame(WTERMSIG(st)),
			 WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(how, sizeof(how), "ended (status 0x%x)", st);
	if (i == s->nzones) {
		vgpu_debug("child %d %s", (int)pid, how);
		return;
	}
	/* Exit 0, SIGTERM while the proxy itself is stopping, or SIGKILL by an unregister or a
	 * domain's end, is a normal end. */
	int clean = (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
		    (s->stopping && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) ||
		    (s->zones[i].ending && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	vgpu_log(clean ? VGPU_LOG_INFO : VGPU_LOG_WARN, "zone %u '%s': worker %d %s%s", s->zones[i].id,
		 s->zones[i].name, (int)pid, how,
		 clean ? "" : "; only this zone is affected, its client sees the channel closed");
	zone_forget(s, i);
}

static void reap(struct supervisor *s)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		reaped(s, pid, st);
}

/* mkdir -p of the directory holding path. */
int make_parent_dirs(const char *path)
{
	char d[256];
	snprintf(d, sizeof(d), "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash || slash == d)
		return 0;
	*slash = '\0';
	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(d, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(d, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * SIGTERM with --state-dir (an upgrade, a DaemonSet rolling): the zones stay. Their workers
 * see the control socket close, keep serving their channels and wait for the next
 * supervisor to adopt them (adopt.c).
 */
static void leave_all(struct supervisor *s)
{
	vgpu_info("stopping: %u zone%s left running for the next supervisor (state in %s)", s->nzones,
		  s->nzones == 1 ? "" : "s", s->cfg->state_dir);
	s->leaving = 1;
	while (s->nzones) {
		s->zones[0].pool = NULL;   /* their budget is theirs: no slot is given back */
		zone_forget(s, 0);
	}
}

static void shutdown_all(struct supervisor *s)
{
	vgpu_info("stopping: %u zone%s to end", s->nzones, s->nzones == 1 ? "" : "s");
	for (unsigned i = 0; i < s->nzones; i++)
		kill(s->zones[i].pid, SIGTERM);
	for (int tries = 0; s->nzones && tries < 50; tries++) {
		reap(s);
		struct pollfd p[ADOPT_POLL_MAX];
		unsigned na = (unsigned)adopt_poll_fill(s, p, ADOPT_POLL_MAX);
		if (na && poll(p, na, 0) > 0)
			adopt_poll_check(s, p, na);
		if (s->nzones)
			usleep(100000);
	}
	for (unsigned i = 0; i < s->nzones; i++) {
		vgpu_warn("zone %u: worker %d ignored SIGTERM for 5 s; killing it", s->zones[i].id, (int)s->zones[i].pid);
		kill(s->zones[i].pid, SIGKILL);
	}
	while (s->nzones) {
		int st;
		pid_t pid = waitpid(s->zones[0].pid, &st, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		zone_forget(s, 0);
	}
}

int vgpu_supervisor_run(struct vgpu_proxy_config *cfg)
{
	struct supervisor s = { .cfg = cfg, .lfd = -1, .ctl_fd = -1, .sig_fd = -1, .ctl_conn = -1 };
	sigset_t mask;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s.sig_fd < 0) {
		vgpu_err("signalfd: %s", strerror(errno));
		return 1;
	}
	/* Xenstore first: a proxy asked to serve Xen zones that cannot see them must not start. */
	if (cfg->transport == VGPU_TRANSPORT_XEN && xen_start(&s) < 0)
		return 1;
	if (registry_load(&s) < 0)
		return 1;
	if ((rc = make_parent_dirs(cfg->listen_path)) < 0) {
		vgpu_err("cannot create the directory of %s: %s; pick another --listen path or fix permissions",
			 cfg->listen_path, strerror(-rc));
		return 1;
	}
	if ((rc = vgpu_shm_listen(cfg->listen_path, &s.lfd)) < 0) {
		vgpu_err("cannot listen on %s: %s (%s)", cfg->listen_path, strerror(-rc), vgpu_chan_setup_error());
		return 1;
	}
	if (chmod(cfg->listen_path, cfg->socket_mode) < 0)
		vgpu_warn("cannot set mode %04o on %s: %s", cfg->socket_mode, cfg->listen_path, strerror(errno));
	fcntl(s.lfd, F_SETFD, FD_CLOEXEC);
	fcntl(s.lfd, F_SETFL, fcntl(s.lfd, F_GETFL) | O_NONBLOCK);
	if ((rc = listen_ctl(&s)) < 0) {
		vgpu_err("cannot listen on the control socket %s: %s", cfg->ctl_path, strerror(-rc));
		close(s.lfd);
		unlink(cfg->listen_path);
		return 1;
	}
	vgpu_info("listening on %s (stats: %s)", cfg->listen_path, s.ctl_path);
	adopt_all(&s);
	while (!s.stopping) {
		struct pollfd p[4 + PENDING_MAX + ADOPT_POLL_MAX] = {
			{ s.lfd, POLLIN, 0 }, { s.ctl_fd, POLLIN, 0 }, { s.sig_fd, POLLIN, 0 },
			{ s.xs ? xs_fileno(s.xs) : -1, POLLIN, 0 } };
		int timeout = pending_expire(&s);
		unsigned np = s.npend;
		for (unsigned i = 0; i < np; i++)
			p[4 + i] = (struct pollfd){ s.pend[i].fd, POLLIN, 0 };
		unsigned na = (unsigned)adopt_poll_fill(&s, p + 4 + np, ADOPT_POLL_MAX);
		if (poll(p, 4 + np + na, timeout) < 0) {
			if (errno == EINTR)
				continue;
			vgpu_err("poll: %s", strerror(errno));
			break;
		}
		if (p[2].revents) {
			struct signalfd_siginfo si;
			while (read(s.sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					reap(&s);
				else {
					vgpu_info("%s received", signame((int)si.ssi_signo));
					s.stopping = 1;
					s.stop_signal = (int)si.ssi_signo;
				}
			}
		}
		if (s.stopping)
			break;
		/* Parked connections first (by fd, since on_accept may reorder the table). */
		for (unsigned i = 0; i < np; i++) {
			if (!p[4 + i].revents)
				continue;
			for (unsigned j = 0; j < s.npend; j++) {
				if (s.pend[j].fd == p[4 + i].fd) {
					int fd = s.pend[j].fd;
					pending_remove(&s, j);
					on_hello(&s, fd);
					break;
				}
			}
		}
		adopt_poll_check(&s, p + 4 + np, na);
		if (p[0].revents)
			on_accept(&s);
		if (p[1].revents)
			on_ctl(&s);
		if (p[3].revents)
			on_xs(&s);
	}
	for (unsigned i = 0; i < s.npend; i++)
		close(s.pend[i].fd);
	s.npend = 0;
	close(s.lfd);
	unlink(cfg->listen_path);
	if (cfg->state_dir[0] && s.stop_signal == SIGTERM)
		leave_all(&s);
	else
		shutdown_all(&s);
	close(s.ctl_fd);
	unlink(s.ctl_path);
	close(s.sig_fd);
	free(s.zones);
	if (s.xs)
		xs_close(s.xs);
	for (unsigned i = 0; i < s.nregs; i++)
		reg_pool_release(&s.regs[i]);
	if (s.regs)
		explicit_bzero(s.regs, s.nregs * sizeof(*s.regs));
	free(s.regs);
	vgpu_info("stopped");
	return 0;
}
