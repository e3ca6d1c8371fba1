/* SPDX-License-Identifier: MIT */
/* supervisor.c — vgpu-proxy's supervisor: accepts zones, forks one worker per zone, reaps them, serves stats. */
#include <errno.h>
#include <stdarg.h>
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
#include "xenbus.h"
#include "log.h"
#include "proxyd.h"
#include "wire.h"

struct szone {
	uint32_t id;
	pid_t pid;
	int ctrl_fd;                     /* handoffs to the worker */
	uint8_t token[16];
	char name[65];
	uint32_t client_pid;             /* as the NEW_ZONE hello claimed (logs/stats only, never trusted) */
	struct vgpu_zone_stats *stats;   /* MAP_SHARED page, written by the worker */
	char reg[VGPU_REG_NAME_MAX + 1]; /* registration it was opened with, "" if none */
	int ending;                      /* SIGKILLed by an unregister or its domain's end */
	uint32_t domid;                  /* Xen zones: the guest domain; NO_DOMID for local (shm) zones */
	struct vgpu_pool *pool;          /* its registration's budget (slot pool_slot), or NULL */
	int pool_slot;
};
#define NO_DOMID 0xffffffffu

/*
 * A registration: a name (e.g. a pod's UID), a secret token and the limits of the zones
 * opened with it. Made and dropped by the orchestrator through the control socket; a
 * NEW_ZONE hello carrying the token opens a zone under it.
 */
struct reg {
	char name[VGPU_REG_NAME_MAX + 1];
	uint8_t token[16];
	struct vgpu_zone_limits lim;
	struct vgpu_pool *pool;          /* device memory of all its zones together */
};
#define REG_MAX 4096

/* Accepted connections whose hello has not arrived yet (polled, never waited for). */
#define PENDING_MAX 64
#define HELLO_TIMEOUT_MS 2000

struct pending {
	int fd;
	int64_t deadline_ms;   /* CLOCK_MONOTONIC */
};

struct supervisor {
	struct vgpu_proxy_config *cfg;
	int lfd, ctl_fd, sig_fd;
	struct pending pend[PENDING_MAX];
	unsigned npend;
	char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct szone *zones;
	unsigned nzones;
	uint32_t next_id;
	int stopping;
	struct reg *regs;
	unsigned nregs;
	struct xs_handle *xs;            /* --transport xen: xenstore, watched */
};

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
static int token_eq(const uint8_t *a, const uint8_t *b)
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
		if (token_eq(s->zones[i].token, token))
			found = &s->zones[i];
	return found;
}

static const uint8_t zero_token[16];

/* The registration whose token this is; every entry is compared (no early exit). */
static struct reg *reg_by_token(struct supervisor *s, const uint8_t *token)
{
	struct reg *found = NULL;
	for (unsigned i = 0; i < s->nregs; i++)
		if (token_eq(s->regs[i].token, token))
			found = &s->regs[i];
	return found;
}

static struct reg *reg_by_name(struct supervisor *s, const char *name)
{
	for (unsigned i = 0; i < s->nregs; i++)
		if (!strcmp(s->regs[i].name, name))
			return &s->regs[i];
	return NULL;
}

static unsigned reg_zone_count(const struct supervisor *s, const char *name)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nzones; i++)
		n += !strcmp(s->zones[i].reg, name);
	return n;
}

/*
 * Tell a client its channel is refused (welcome with a CUresult), so that its cuInit fails
 * with a reason rather than a closed connection. Consumes sock and memfd.
 */
static void refuse_channel(int sock, int memfd, uint32_t status)
{
	struct vgpu_chan *ch = NULL;
	struct vgpu_welcome w = { .status = status };
	if (vgpu_shm_attach(sock, memfd, &ch) < 0)
		return; /* it closed both fds */
	if (vgpu_chan_send(ch, VGPU_OP_WELCOME, 0, 0, &w, sizeof(w)) == 0)
		vgpu_chan_flush(ch);
	vgpu_chan_close(ch);
}

static void zone_forget(struct supervisor *s, unsigned i)
{
	struct szone *z = &s->zones[i];
	if (z->pool)
		vgpu_pool_slot_drop(z->pool, z->pool_slot); /* a killed worker's bytes leave the budget */
	if (z->ctrl_fd >= 0)
		close(z->ctrl_fd);
	if (z->stats)
		munmap(z->stats, sizeof(*z->stats));
	s->zones[i] = s->zones[--s->nzones];
}

/* Fork the worker of a new zone and hand it its first channel, with the limits of its
 * registration r (NULL: the command line's). Consumes sock and memfd. */
static void zone_create(struct supervisor *s, const struct vgpu_handoff *first, const char *name,
			const struct reg *r, int sock, int memfd)
{
	const struct vgpu_hello *hello = &first->hello;
	struct vgpu_zone_stats *st = MAP_FAILED;
	int sv[2] = { -1, -1 };
	struct szone z = { .pool_slot = -1 };

	if (s->nzones >= s->cfg->max_zones) {
		vgpu_warn("refusing a new zone '%s' from pid %u: %u zones already (--max-zones)",
			  name, hello->pid, s->nzones);
		goto fail;
	}
	memset(&z, 0, sizeof(z));
	z.pool_slot = -1;
	if (r) {
		z.pool_slot = vgpu_pool_slot_take(r->pool);
		if (z.pool_slot < 0) {
			vgpu_warn("refusing a new zone of registration '%s': it has %u zones already", r->name,
				  VGPU_POOL_SLOTS);
			goto fail;
		}
		z.pool = r->pool;
	}
	if (getrandom(z.token, sizeof(z.token), 0) != (ssize_t)sizeof(z.token)) {
		vgpu_err("getrandom failed (%s); refusing a new zone", strerror(errno));
		goto fail;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		vgpu_err("cannot create a zone: %s", strerror(errno));
		goto fail;
	}
	z.id = ++s->next_id;
	z.client_pid = hello->pid;
	snprintf(z.name, sizeof(z.name), "%s", name);
	if (r)
		snprintf(z.reg, sizeof(z.reg), "%s", r->name);
	z.domid = first->transport == VGPU_TRANSPORT_XEN ? first->xen.domid : NO_DOMID;
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
		close(sv[0]);
		if (s->xs)
			xs_daemon_destroy_postfork(s->xs); /* the worker opens its own when it needs one */
		/* Other pods' tokens have no business in this zone's process (r points in there). */
		struct vgpu_zone_limits lim = r ? r->lim : s->cfg->limits;
		for (unsigned i = 0; i < s->nregs; i++)
			if (s->regs[i].pool != z.pool)
				vgpu_pool_destroy(s->regs[i].pool);
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
					      .limits = lim, .pool = z.pool, .pool_slot = z.pool_slot };
		memcpy(a.name, z.name, sizeof(a.name));
		memcpy(a.token, z.token, sizeof(a.token));
		vgpu_worker_main(&a);
	}
	close(sv[1]);
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
		return;
	}
	s->zones = nz;
	s->zones[s->nzones++] = z;
	int rc = vgpu_handoff_send(z.ctrl_fd, first, sock, memfd);
	if (rc < 0) {
		/* A worker without its first channel would wait for ever: end it (reaped as usual). */
		vgpu_err("zone %u: cannot hand the first channel to worker %d: %s; stopping it", z.id, (int)pid,
			 strerror(-rc));
		kill(pid, SIGKILL);
	}
	vgpu_info("zone %u '%s' connected from pid %u: worker %d%s%s", z.id, z.name, hello->pid, (int)pid,
		  r ? ", registration " : "", r ? r->name : "");
	if (sock >= 0)
		close(sock);
	if (memfd >= 0)
		close(memfd);
	return;
fail:
	if (z.pool)
		vgpu_pool_slot_drop(z.pool, z.pool_slot);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (st != MAP_FAILED)
		munmap(st, sizeof(*st));
	if (sock >= 0)
		close(sock);
	if (memfd >= 0)
		close(memfd);
}

/* Check a hello from an untrusted client; NULL if acceptable, else what is wrong. */
static const char *hello_check(const struct vgpu_hello *h, uint32_t len)
{
	if (len != sizeof(*h))
		return "wrong hello size";
	if (h->magic != VGPU_HELLO_MAGIC)
		return "wrong magic (not a vgpu client?)";
	if (h->version != VGPU_PROTO_VERSION)
		return "unsupported protocol version (libvgpu and vgpu-proxy from different builds?)";
	if (h->kind != VGPU_HELLO_NEW_ZONE && h->kind != VGPU_HELLO_JOIN)
		return "unknown hello kind";
	if (h->reserved != 0)
		return "reserved field not zero";
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
static const char *route(struct supervisor *s, struct vgpu_handoff *h, const char *name, uint32_t domid,
			 int sock, int memfd, uint32_t *status)
{
	const struct vgpu_hello *hello = &h->hello;
	*status = 0;
	if (hello->kind == VGPU_HELLO_NEW_ZONE) {
		const struct reg *r = NULL;
		if (!token_eq(hello->token, zero_token)) {
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
		/* A registered zone is named by its registration (trusted), not by the client. */
		zone_create(s, h, r ? r->name : name, r, sock, memfd);
		return NULL;
	}
	struct szone *z = zone_by_token(s, hello->token);
	if (!z || z->domid != domid)
		return "no zone of this domain has that token";
	int rc = vgpu_handoff_send(z->ctrl_fd, h, sock, memfd);
	if (rc < 0)
		vgpu_warn("zone %u: cannot hand a joining channel to its worker (%s); closed", z->id, strerror(-rc));
	else
		vgpu_debug("zone %u: channel from pid %u joined", z->id, hello->pid);
	if (sock >= 0)
		close(sock);
	if (memfd >= 0)
		close(memfd);
	return NULL;
}

/* A parked connection is readable: take its hello and route the channel. Consumes sock. */
static void on_hello(struct supervisor *s, int sock)
{
	struct vgpu_hello hello;
	uint32_t len = 0;
	int memfd = -1, rc;
	char name[65];

	memset(&hello, 0, sizeof(hello));
	rc = vgpu_shm_recv_hello(sock, &hello, sizeof(hello), &len, &memfd);
	if (rc < 0) {
		vgpu_warn("refused a connection: no valid hello + region fd (%s; %s)", strerror(-rc),
			  vgpu_chan_setup_error());
		goto refuse;
	}
	/* The worker's channel uses the socket for liveness; give it back its blocking mode. */
	fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) & ~O_NONBLOCK);
	const char *bad = hello_check(&hello, len);
	if (bad) {
		vgpu_warn("refused a connection (hello of %u bytes): %s", len, bad);
		goto refuse;
	}
	vgpu_name_sanitize(hello.name, sizeof(hello.name), name);
	struct vgpu_handoff h = { .hello = hello, .transport = VGPU_TRANSPORT_SHM };
	uint32_t status = 0;
	const char *why = route(s, &h, name, NO_DOMID, sock, memfd, &status);
	if (!why)
		return;
	vgpu_warn("refused a %s from pid %u ('%s'): %s", hello.kind == VGPU_HELLO_NEW_ZONE ? "new zone" : "JOIN",
		  hello.pid, name, why);
	if (status) {
		refuse_channel(sock, memfd, status);
		return;
	}
refuse:
	if (memfd >= 0)
		close(memfd);
	close(sock);
}

/* ---- Xen zones: channels published in xenstore (runtime/xenbus.h) ---- */

struct xs_keys {
	struct xs_handle *xs;
	const char *dir;
	char *val[12];
	unsigned n;
};

/* vgpu_xs_parse_chan's getter: read dir/key (values are kept until keys_free). */
static const char *xs_key_get(void *ctx, const char *key)
{
	struct xs_keys *k = ctx;
	char path[128];
	unsigned len;
	if (k->n == sizeof(k->val) / sizeof(k->val[0]))
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", k->dir, key);
	char *v = xs_read(k->xs, XBT_NULL, path, &len);
	if (!v)
		return NULL;
	if (strlen(v) != len) { /* embedded NUL: not a string */
		free(v);
		return NULL;
	}
	return k->val[k->n++] = v;
}

static void keys_free(struct xs_keys *k)
{
	for (unsigned i = 0; i < k->n; i++) {
		explicit_bzero(k->val[i], strlen(k->val[i]));
		free(k->val[i]);
	}
	k->n = 0;
}

static void xs_put(struct supervisor *s, const char *dir, const char *key, const char *val)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!xs_write(s->xs, XBT_NULL, path, val, strlen(val)))
		vgpu_warn("cannot write %s in xenstore: %s", path, strerror(errno));
}

/* A channel directory changed: if it is ready, check its claims and route it. */
static void xen_chan(struct supervisor *s, uint16_t domid, const char *dir)
{
	struct xs_keys k = { .xs = s->xs, .dir = dir };
	struct vgpu_xs_chan c;
	char name[65];

	const char *state = xs_key_get(&k, "state");
	if (!state || strcmp(state, "ready") != 0) {
		keys_free(&k);
		return;
	}
	keys_free(&k);
	const char *why = vgpu_xs_parse_chan(xs_key_get, &k, domid, &c);
	keys_free(&k);
	if (!why && s->nzones >= s->cfg->max_zones)
		why = "too many zones (--max-zones)";
	if (why) {
		vgpu_warn("refused the channel %s of domain %u: %s", dir, domid, why);
		xs_put(s, dir, "error", why);
		xs_put(s, dir, "state", "refused");
		return;
	}
	/* Taken: a second watch event for this directory must not route it again. */
	xs_put(s, dir, "state", "connecting");
	vgpu_name_sanitize(c.hello.name, sizeof(c.hello.name), name);
	struct vgpu_handoff h = { .hello = c.hello, .transport = VGPU_TRANSPORT_XEN, .xen = c.xen };
	snprintf(h.xs_dir, sizeof(h.xs_dir), "%s", dir);
	uint32_t status = 0;
	why = route(s, &h, name, domid, -1, -1, &status);
	explicit_bzero(&c, sizeof(c));
	explicit_bzero(&h.hello.token, sizeof(h.hello.token));
	if (why) {
		vgpu_warn("refused a %s from domain %u ('%s'): %s",
			  h.hello.kind == VGPU_HELLO_NEW_ZONE ? "new zone" : "JOIN", domid, name, why);
		xs_put(s, dir, "error", why);
		xs_put(s, dir, "state", "refused");
	}
}

/* Every channel directory of every domain (at start, and when the watch says "look again"). */
static void xen_scan(struct supervisor *s)
{
	unsigned nd = 0;
	char **doms = xs_directory(s->xs, XBT_NULL, "/local/domain", &nd);
	for (unsigned i = 0; doms && i < nd; i++) {
		char path[96], dir[128];
		unsigned nc = 0;
		snprintf(path, sizeof(path), "/local/domain/%.12s/" VGPU_XS_DIR, doms[i]);
		char **chans = xs_directory(s->xs, XBT_NULL, path, &nc);
		for (unsigned j = 0; chans && j < nc; j++) {
			uint16_t domid;
			char full[160];
			snprintf(full, sizeof(full), "%s/%.40s", path, chans[j]);
			if (vgpu_xs_chan_path(full, &domid, dir, sizeof(dir)) == 0)
				xen_chan(s, domid, dir);
		}
		free(chans);
	}
	free(doms);
}

/* A domain was released: end the zones of every domain that is gone. */
static void xen_domains_check(struct supervisor *s)
{
	for (unsigned i = 0; i < s->nzones; i++) {
		struct szone *z = &s->zones[i];
		if (z->domid == NO_DOMID || z->ending || xs_is_domain_introduced(s->xs, z->domid))
			continue;
		vgpu_info("zone %u '%s': domain %u is gone; ending the zone", z->id, z->name, z->domid);
		z->ending = 1;
		kill(z->pid, SIGKILL);
	}
}

static void on_xs(struct supervisor *s)
{
	char **ev;
	while ((ev = xs_check_watch(s->xs))) {
		const char *path = ev[XS_WATCH_PATH], *tok = ev[XS_WATCH_TOKEN];
		uint16_t domid;
		char dir[128];
		if (!strcmp(tok, "gone"))
			xen_domains_check(s);
		else if (!strcmp(path, "/local/domain"))
			xen_scan(s);
		else if (vgpu_xs_chan_path(path, &domid, dir, sizeof(dir)) == 0)
			xen_chan(s, domid, dir);
		free(ev);
	}
}

static int xen_start(struct supervisor *s)
{
	s->xs = xs_open(0);
	if (!s->xs) {
		vgpu_err("--transport xen: cannot open xenstore: %s (not Dom0, or xenstored not running)",
			 strerror(errno));
		return -1;
	}
	/* The first event of each watch fires at once: it triggers the initial scan. */
	if (!xs_watch(s->xs, "/local/domain", "chan") || !xs_watch(s->xs, "@releaseDomain", "gone")) {
		vgpu_err("--transport xen: cannot watch xenstore: %s", strerror(errno));
		xs_close(s->xs);
		s->xs = NULL;
		return -1;
	}
	vgpu_info("watching xenstore for Xen zones (/local/domain/*/" VGPU_XS_DIR "/*)");
	return 0;
}

static const char *signame(int sig)
{
	const char *d = sigdescr_np(sig);
	return d ? d : "unknown signal";
}

/* Child pid ended with wait status st: log it and, if it was a zone's worker, forget the zone. */
static void reaped(struct supervisor *s, pid_t pid, int st)
{
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
		/* Exit 0, SIGTERM while the proxy itself is stopping, or SIGKILL by an unregister,
		 * is a normal end. */
		int clean = (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
			    (s->stopping && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) ||
			    (s->zones[i].ending && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		vgpu_log(clean ? VGPU_LOG_INFO : VGPU_LOG_WARN, "zone %u '%s': worker %d %s%s", s->zones[i].id,
			 s->zones[i].name, (int)pid, how,
			 clean ? "" : "; only this zone is affected, its client sees the channel closed");
		zone_forget(s, i);
	}
}

static void reap(struct supervisor *s)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		reaped(s, pid, st);
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
		if (k < sizeof(line))
			k += (size_t)snprintf(line + k, sizeof(line) - k,
				" calls=%llu async=%llu errors=%llu bulk_in=%llu bulk_out=%llu reg=%s\n",
				(unsigned long long)vgpu_stat_get(&st->calls), (unsigned long long)vgpu_stat_get(&st->async_calls),
				(unsigned long long)vgpu_stat_get(&st->errors), (unsigned long long)vgpu_stat_get(&st->bulk_in),
				(unsigned long long)vgpu_stat_get(&st->bulk_out), z->reg[0] ? z->reg : "-");
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

static int hex_token(const char *h, uint8_t tok[16])
{
	if (strlen(h) != 32)
		return -1;
	for (unsigned i = 0; i < 32; i++) {
		int d = (h[i] >= '0' && h[i] <= '9') ? h[i] - '0' : (h[i] >= 'a' && h[i] <= 'f') ? h[i] - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		tok[i / 2] = (uint8_t)(tok[i / 2] << 4 | d);
	}
	return 0;
}

static int dec_u64(const char *p, uint64_t *v)
{
	if (!*p || strlen(p) > 20)
		return -1;
	uint64_t x = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*v = x;
	return 0;
}

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
		fprintf(f, "reg %s ", r->name);
		for (unsigned j = 0; j < 16; j++)
			fprintf(f, "%02x", r->token[j]);
		fprintf(f, " mem=%llu handles=%u\n", (unsigned long long)r->lim.mem_bytes, r->lim.handles);
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
	s->regs[s->nregs].pool = vgpu_pool_create(r->lim.mem_bytes);
	if (!s->regs[s->nregs].pool)
		return -errno;
	s->nregs++;
	return 0;
}

/* Restore the registrations of FILE at start. A missing file is an empty registry; anything
 * malformed stops the proxy with the file and line (a half-read registry would silently
 * cut pods off). 0 or -1. */
static int registry_load(struct supervisor *s)
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
		else if (hex_token(tok, r.token) < 0)
			why = "bad token (32 lower-case hex digits)";
		else if (strncmp(mem, "mem=", 4) || dec_u64(mem + 4, &m) < 0)
			why = "bad mem= (a decimal byte count)";
		else if (strncmp(han, "handles=", 8) || dec_u64(han + 8, &h) < 0 || h < 1 || h > (1u << 24))
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
		vgpu_pool_destroy(s->regs[--s->nregs].pool);
		ctl_reply(fd, "error register %s: cannot write the registry %s: %s", name, s->cfg->registry_path,
			  strerror(-rc));
		return;
	}
	char hex[33];
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", r.token[i]);
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
	struct vgpu_pool *pool = r->pool;
	*r = s->regs[--s->nregs];
	for (unsigned i = 0; i < s->nzones; i++) {
		if (!strcmp(s->zones[i].reg, name)) {
			s->zones[i].ending = 1;
			kill(s->zones[i].pid, SIGKILL);
		}
	}
	for (unsigned i = 0; i < s->nzones;) {
		if (!s->zones[i].ending) {
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
	vgpu_pool_destroy(pool); /* its zones are all reaped: nothing maps it any more here */
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
		ctl_reply(fd, "reg %s mem=%llu handles=%u zones=%u used=%llu", s->regs[i].name,
			  (unsigned long long)s->regs[i].lim.mem_bytes, s->regs[i].lim.handles,
			  reg_zone_count(s, s->regs[i].name), (unsigned long long)vgpu_pool_total(s->regs[i].pool));
}

/*
 * One control connection: one command line, its answer, close. The socket is the
 * orchestrator's (mode 0600), but its input is still checked; a client that sends nothing
 * within 1 s is dropped.
 */
static void on_ctl(struct supervisor *s)
{
	char cmd[512];
	size_t n = 0;
	int fd = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct timeval tv = { .tv_sec = 1, .tv_usec = 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (n < sizeof(cmd) - 1) {
		ssize_t r = recv(fd, cmd + n, sizeof(cmd) - 1 - n, 0);
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
	if (!strcmp(cmd, "stats") && !*args)
		ctl_stats(s, fd);
	else if (!strcmp(cmd, "list") && !*args)
		ctl_list(s, fd);
	else if (!strcmp(cmd, "register"))
		ctl_register(s, fd, args);
	else if (!strcmp(cmd, "unregister"))
		ctl_unregister(s, fd, args);
	else
		ctl_reply(fd, "error unknown command '%.32s' (expected stats, list, register NAME [mem=B] [handles=N], unregister NAME)", cmd);
	explicit_bzero(cmd, sizeof(cmd));
	close(fd);
}

static int make_parent_dirs(const char *path);

static int listen_ctl(struct supervisor *s)
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

/* mkdir -p of the directory holding path. */
static int make_parent_dirs(const char *path)
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

static void shutdown_all(struct supervisor *s)
{
	vgpu_info("stopping: %u zone%s to end", s->nzones, s->nzones == 1 ? "" : "s");
	for (unsigned i = 0; i < s->nzones; i++)
		kill(s->zones[i].pid, SIGTERM);
	for (int tries = 0; s->nzones && tries < 50; tries++) {
		reap(s);
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
	struct supervisor s = { .cfg = cfg, .lfd = -1, .ctl_fd = -1, .sig_fd = -1 };
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
	while (!s.stopping) {
		struct pollfd p[4 + PENDING_MAX] = { { s.lfd, POLLIN, 0 }, { s.ctl_fd, POLLIN, 0 }, { s.sig_fd, POLLIN, 0 },
						     { s.xs ? xs_fileno(s.xs) : -1, POLLIN, 0 } };
		int timeout = pending_expire(&s);
		unsigned np = s.npend;
		for (unsigned i = 0; i < np; i++)
			p[4 + i] = (struct pollfd){ s.pend[i].fd, POLLIN, 0 };
		if (poll(p, 4 + np, timeout) < 0) {
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
	shutdown_all(&s);
	close(s.ctl_fd);
	unlink(s.ctl_path);
	close(s.sig_fd);
	free(s.zones);
	if (s.xs)
		xs_close(s.xs);
	for (unsigned i = 0; i < s.nregs; i++)
		vgpu_pool_destroy(s.regs[i].pool);
	if (s.regs)
		explicit_bzero(s.regs, s.nregs * sizeof(*s.regs));
	free(s.regs);
	vgpu_info("stopped");
	return 0;
}
