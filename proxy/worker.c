/* SPDX-License-Identifier: MIT */
/* worker.c — one zone's worker process: attaches its channels, one thread each, frees the zone at the end. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xengnttab.h>
#include <xenstore.h>

#include "chan.h"
#include "log.h"
#include "output.h"
#include "proxy.h"
#include "proxyd.h"
#include "wire.h"

struct chan_thread_arg;

struct worker {
	const struct vgpu_worker_args *a;
	struct vgpu_zone zone;
	struct vgpu_backend be;
	int be_ok;
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* a channel parked or left; the zone goes on or is handed over */
	unsigned live;         /* channel threads running */
	unsigned parked;       /* of them, stopped between two requests (stop set) */
	unsigned next_no;      /* channel numbers for logs */
	int wake_fd;           /* eventfd: a channel thread ended */
	atomic_int stop;       /* channels stop at their next message boundary (checkpoint) */
	int handed;            /* the channels were handed to another worker: end without a trace */
	struct chan_thread_arg *chans; /* live channel threads, under lock */
	char state_path[256];  /* our state socket ("" without --state-dir) */
	char moved_to[108];    /* handed over: the proxy socket the zone moved to */
	uint64_t rejoin_until; /* restored without its source: its channels may rejoin until then
				  (CLOCK_MONOTONIC ns; 0: none expected) */
};

struct chan_thread_arg {
	struct worker *w;
	struct vgpu_chan *ch;
	unsigned no;
	char xs_dir[64];       /* Xen channels: the zone's xenstore directory, removed at the end */
	int sock, memfd;       /* shm channels: our copies, to hand the channel over (-1: none) */
	uint64_t xen_id;       /* Xen channels: what names the ring in a checkpoint (xen_chan_id) */
	void *stack[VGPU_CKPT_CTX_MAX];  /* parked: the thread's contexts, bottom first, the last current */
	unsigned nstack;       /* how many (VGPU_CKPT_CTX_MAX + 1: more than a checkpoint carries) */
	void *initial[VGPU_CKPT_CTX_MAX]; /* taken over or rejoined: the stack made first */
	unsigned ninitial;
	struct chan_thread_arg *next, **pprev;
};

/* In a channel thread stopped between two requests: wait until the zone goes on (0) or
 * its channels were handed over (1). */
static int chan_park(void *p, void *const *stack, unsigned n)
{
	struct chan_thread_arg *t = p;
	struct worker *w = t->w;
	pthread_mutex_lock(&w->lock);
	t->nstack = n;
	for (unsigned i = 0; i < n && i < VGPU_CKPT_CTX_MAX; i++)
		t->stack[i] = stack[i];
	w->parked++;
	pthread_cond_broadcast(&w->cond);
	while (atomic_load(&w->stop) && !w->handed)
		pthread_cond_wait(&w->cond, &w->lock);
	w->parked--;
	int handed = w->handed;
	pthread_mutex_unlock(&w->lock);
	return handed;
}

/*
 * Xen channels: answer in the channel's xenstore directory (state, and error when refused),
 * or remove it (state NULL) when the channel has ended. A short-lived connection each time:
 * this happens once or twice per channel.
 */
static void xs_answer(const char *dir, const char *state, const char *error)
{
	char path[96];
	struct xs_handle *xs = xs_open(0);
	if (!xs) {
		vgpu_warn("cannot open xenstore to answer in %s: %s", dir, strerror(errno));
		return;
	}
	if (!state) {
		xs_rm(xs, XBT_NULL, dir);
	} else {
		if (error) {
			snprintf(path, sizeof(path), "%s/error", dir);
			xs_write(xs, XBT_NULL, path, error, strlen(error));
		}
		snprintf(path, sizeof(path), "%s/state", dir);
		if (!xs_write(xs, XBT_NULL, path, state, strlen(state)))
			vgpu_warn("cannot write %s in xenstore: %s", path, strerror(errno));
	}
	xs_close(xs);
}

static void *chan_thread(void *p)
{
	struct chan_thread_arg *t = p;
	struct worker *w = t->w;
	uint64_t one = 1;

	struct vgpu_serve_opts o = { .stop = &w->stop, .park = chan_park, .arg = t, .initial_stack = t->initial,
				     .initial_n = t->ninitial };
	vgpu_chan_set_saved(t->ch, 0);   /* a ring taken over or rejoined: this worker serves it now */
	int handed = vgpu_chan_serve(&w->zone, &w->be, t->ch, t->no, &o);
	pthread_mutex_lock(&w->lock);
	*t->pprev = t->next;          /* out of the list before the channel goes (vgpu_chan_interrupt) */
	if (t->next)
		t->next->pprev = t->pprev;
	w->live--;
	vgpu_stat_set(&w->zone.stats->channels, w->live);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (handed) {
		vgpu_chan_forget(t->ch);  /* the other worker serves it now: no goodbye */
	} else {
		vgpu_chan_close(t->ch);
		if (t->xs_dir[0])
			xs_answer(t->xs_dir, NULL, NULL);
	}
	if (t->sock >= 0)
		close(t->sock);
	if (t->memfd >= 0)
		close(t->memfd);
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		vgpu_err("cannot wake the worker's main thread: %s", strerror(errno));
	free(t);
	return NULL;
}

/*
 * A Xen guest's pinned host memory: the pages it granted to Dom0 (chanloop.c,
 * VGPU_OP_PINNED_GRANT), mapped here through gntdev from the zone's own domain only (the
 * hypervisor refuses references that domain did not grant to us).
 */
static struct {
	pthread_mutex_t lock;
	xengnttab_handle *gt;
	uint32_t domid;
} grants = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *grant_map(void *ctx, uint32_t n, const uint32_t *refs)
{
	(void)ctx;
	pthread_mutex_lock(&grants.lock);
	if (!grants.gt && !(grants.gt = xengnttab_open(NULL, 0)))
		vgpu_warn("cannot open gntdev for the zone's granted pinned memory: %s", strerror(errno));
	xengnttab_handle *gt = grants.gt;
	pthread_mutex_unlock(&grants.lock);
	return gt ? xengnttab_map_domain_grant_refs(gt, n, grants.domid, (uint32_t *)refs, PROT_READ | PROT_WRITE) : NULL;
}

static void grant_unmap(void *ctx, void *base, uint64_t bytes)
{
	(void)ctx;
	if (grants.gt)
		xengnttab_unmap(grants.gt, base, (uint32_t)(bytes / 4096u));
}

static const struct vgpu_grant_mapper grant_mapper = { grant_map, grant_unmap, NULL };

static uint64_t mono_ns(void);

/*
 * One of the zone's live contexts made current on this thread (NULL when it has none): the
 * driver registers a pinned region (mapped, so that kernels reach it) in the context current
 * when the worker maps it, as a channel's thread does for a new region.
 */
static void some_ctx_current(struct worker *w)
{
	const struct vgpu_backend_fns *f = &w->be.fn;
	struct vgpu_zone *z = &w->zone;
	void *ctx = NULL;
	pthread_mutex_lock(&z->lock);
	for (uint32_t i = 0; !ctx; i++) {
		unsigned t;
		void *real;
		const void *own;
		uint32_t gen;
		int rc = vgpu_htab_slot(&z->htab, i, &t, &real, &own, &gen);
		if (rc == -ENOENT)
			break;
		if (rc == 1 && t == VGPU_H_CONTEXT &&
		    vgpu_zone_primary_idle(z, f->cuDevicePrimaryCtxGetState, real, NULL, NULL) == 0)
			ctx = real;
	}
	pthread_mutex_unlock(&z->lock);
	if (ctx && f->cuCtxSetCurrent)
		f->cuCtxSetCurrent(ctx);
}

/*
 * The pinned regions a rejoining program offers (vgpu_rejoin_pinned records after its
 * hello): each the zone had when it was saved (same inode and size) and not mapped here yet
 * is mapped at its old slot, so its id names it again. 0, or -errno with why.
 */
static int rejoin_regions(struct worker *w, int sock, char *why, size_t cap)
{
	const struct vgpu_pinned_drv pd = vgpu_pinned_drv_of(&w->be);
	struct vgpu_ckpt_zone *ck = &w->zone.ck;
	struct timeval tv = { 5, 0 };
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (unsigned n = 0;; n++) {
		struct vgpu_rejoin_pinned r;
		int fd = -1;
		unsigned nfds = 0;
		int rc = vgpu_record_recv(sock, &r, sizeof(r), &fd, 1, &nfds, 0);
		if (rc < 0 || r.magic != VGPU_REJOIN_PINNED_MAGIC || r.reserved || n > VGPU_REJOIN_MAX_PINNED ||
		    nfds != (r.id ? 1u : 0u)) {
			vgpu_fds_close_kept(&fd, nfds, 1);
			snprintf(why, cap, "the pinned region records after the hello are malformed or cut short (%s)",
				 rc < 0 ? strerror(-rc) : "bad record");
			return -EPROTO;
		}
		if (!r.id)
			return 0;
		struct stat st;
		struct vgpu_ckpt_pin *p = NULL;
		if (fstat(fd, &st) == 0)
			for (uint32_t i = 0; i < ck->npin && !p; i++)
				if (ck->pin[i].ino == (uint64_t)st.st_ino && ck->pin[i].bytes == r.bytes &&
				    r.id == (ck->pin_key ^ ((uint64_t)ck->pin[i].slot + 1)))
					p = &ck->pin[i];
		if (!p || p->mapped) {
			close(fd);   /* a region the zone did not have when saved, or mapped already */
			continue;
		}
		const char *pwhy = "";
		some_ctx_current(w);
		if (vgpu_pinned_map_at(&w->zone.pinned, ck->pin_key, p->slot, fd, p->bytes, p->addr, &pd, &pwhy) !=
		    CUDA_SUCCESS) {
			snprintf(why, cap, "the zone's pinned region %u (%llu bytes) cannot be mapped here: %s", p->slot,
				 (unsigned long long)p->bytes, pwhy);
			return -ENOMEM;
		}
		p->mapped = 1;
		vgpu_stat_set(&w->zone.stats->pinned_bytes, w->zone.pinned.bytes);
		vgpu_info("pinned region %u (%llu bytes) offered again and mapped at its old id", p->slot,
			  (unsigned long long)p->bytes);
	}
}

/* A Xen channel's name in a checkpoint (where a shm channel has its ring memfd's inode,
 * which never has the top bit set): its domain and the first directory page's grant. */
static uint64_t xen_chan_id(const struct vgpu_xen_info *x)
{
	return 1ull << 63 | (uint64_t)x->domid << 32 | x->dir_gref;
}

/*
 * A channel rejoining a zone restored without its source worker (hello kind REJOIN): the
 * ring must be one the checkpoint lists (by its memfd's inode, or a Xen channel's domain
 * and grant), at exactly the position it was saved at (a ring served after the checkpoint
 * belongs to a zone that went on: its state is not this one), and rejoin once. Answered on
 * the socket (shm) or in xenstore (Xen); served from where it stopped.
 */
static int channel_start(struct worker *w, struct vgpu_chan *ch, unsigned no, const char *xs_dir, int sock,
			 int memfd, const void *const *stack, unsigned nstack, uint64_t xen_id);

/* The restored checkpoint's record of the ring named id (a memfd's inode, xen_chan_id), or NULL. */
static struct vgpu_ckpt_chan *chan_record(struct worker *w, uint64_t id)
{
	struct vgpu_ckpt_zone *ck = &w->zone.ck;
	for (uint32_t i = 0; i < ck->nchan; i++)
		if (ck->chan[i].ino == id)
			return &ck->chan[i];
	return NULL;
}

static struct vgpu_ckpt_chan *rejoin_entry(struct worker *w, uint64_t id, char *why, size_t cap)
{
	struct vgpu_ckpt_chan *c = chan_record(w, id);
	if (!w->rejoin_until || !c || c->rejoined) {
		snprintf(why, cap, "%s", !w->rejoin_until ? "this zone was not restored without its source" :
			 !c ? "the zone's checkpoint does not list this channel (opened after it was taken?)" :
			 "this channel rejoined already");
		return NULL;
	}
	return c;
}

static int rejoin_position(struct vgpu_chan *ch, const struct vgpu_ckpt_chan *c, char *why, size_t cap)
{
	uint32_t pos[4];
	vgpu_chan_position(ch, pos);
	if (memcmp(pos, c->pos, sizeof(pos)) == 0)
		return 0;
	snprintf(why, cap, "the ring moved on after the checkpoint (consumed 0x%x, checkpoint 0x%x): the zone went on "
		 "after it was saved", pos[0], c->pos[0]);
	return -ESTALE;
}

static void rejoin_done(struct worker *w, struct vgpu_ckpt_chan *c)
{
	struct vgpu_ckpt_zone *ck = &w->zone.ck;
	uint32_t left = 0;
	c->rejoined = 1;
	for (uint32_t i = 0; i < ck->nchan; i++)
		left += !ck->chan[i].rejoined;
	if (!left)
		w->rejoin_until = 0;   /* all back: the zone ends with its last channel again */
	__atomic_store_n(&w->zone.stats->rejoin_wait, left, __ATOMIC_RELAXED);
}

static void channel_rejoin(struct worker *w, const struct vgpu_handoff *h, int sock, int memfd)
{
	struct vgpu_ckpt_chan *c = NULL;
	struct vgpu_chan *ch = NULL;
	struct stat st;
	char why[120] = "";
	int rc = -ESTALE, sock2 = -1, memfd2 = -1;
	unsigned no = ++w->next_no;

	if (fstat(memfd, &st) < 0)
		snprintf(why, sizeof(why), "the ring's descriptor cannot be examined");
	else if ((c = rejoin_entry(w, (uint64_t)st.st_ino, why, sizeof(why)))) {
		sock2 = fcntl(sock, F_DUPFD_CLOEXEC, 0);
		memfd2 = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
		int asock = fcntl(sock, F_DUPFD_CLOEXEC, 0);   /* records and the answer: attach owns sock */
		rc = sock2 < 0 || memfd2 < 0 || asock < 0 ? -EMFILE : vgpu_shm_attach(sock, memfd, &ch);
		if (rc == -EMFILE) {
			close(sock);
			close(memfd);
		}
		sock = asock;
		memfd = -1;
		if (rc < 0)
			snprintf(why, sizeof(why), "cannot attach the ring: %s", rc == -EMFILE ? strerror(EMFILE) :
				 vgpu_chan_setup_error());
		else if ((rc = rejoin_position(ch, c, why, sizeof(why))) == 0)
			rc = rejoin_regions(w, sock, why, sizeof(why));
	}
	if (rc < 0) {
		vgpu_warn("channel %u from pid %u cannot rejoin: %s", no, h->hello.pid, why);
		if (sock >= 0)
			vgpu_rejoin_answer(sock, rc, why);
		if (ch)
			vgpu_chan_forget(ch);   /* not ours to close: the program keeps its ring */
		int fds[4] = { sock, memfd, sock2, memfd2 };
		for (unsigned i = 0; i < 4; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return;
	}
	rejoin_done(w, c);
	snprintf(why, sizeof(why), "zone %u serves it again", w->a->zone_id);
	vgpu_rejoin_answer(sock, 0, why);
	close(sock);
	if (channel_start(w, ch, no, "", sock2, memfd2, c->ctx, c->nctx, 0) == 0)
		vgpu_info("channel %u rejoined (client pid %u), served from where the checkpoint left it", no,
			  h->hello.pid);
}

/* The same for a Xen guest's channel: its grants and port, published again. */
static void channel_rejoin_xen(struct worker *w, const struct vgpu_handoff *h)
{
	struct vgpu_ckpt_chan *c;
	struct vgpu_chan *ch = NULL;
	char why[160] = "";
	int rc = -ESTALE;
	unsigned no = ++w->next_no;

	if ((c = rejoin_entry(w, xen_chan_id(&h->xen), why, sizeof(why)))) {
		if ((rc = vgpu_xen_attach(&h->xen, &ch)) < 0)
			snprintf(why, sizeof(why), "cannot attach the ring: %s", vgpu_chan_setup_error());
		else
			rc = rejoin_position(ch, c, why, sizeof(why));
	}
	if (rc < 0) {
		vgpu_warn("channel %u of domain %u cannot rejoin: %s", no, h->xen.domid, why);
		if (ch)
			vgpu_chan_forget(ch);   /* the guest keeps its ring */
		xs_answer(h->xs_dir, "refused", why);
		return;
	}
	if (!vgpu_grant_mapper) {
		grants.domid = h->xen.domid;   /* a worker serves one zone: one domain */
		vgpu_grant_mapper = &grant_mapper;
	}
	rejoin_done(w, c);
	xs_answer(h->xs_dir, "connected", NULL);
	if (channel_start(w, ch, no, h->xs_dir, -1, -1, c->ctx, c->nctx, xen_chan_id(&h->xen)) == 0)
		vgpu_info("channel %u of domain %u rejoined, served from where the checkpoint left it", no, h->xen.domid);
}

/* Attach a handed-over channel, welcome it and start its thread (fds are owned here). */
static void channel_open(struct worker *w, const struct vgpu_handoff *h, int sock, int memfd)
{
	struct vgpu_chan *ch = NULL;
	struct vgpu_welcome wel;
	int rc, sock2 = -1, memfd2 = -1;

	if (h->hello.kind == VGPU_HELLO_REJOIN) {
		if (h->transport == VGPU_TRANSPORT_XEN)
			channel_rejoin_xen(w, h);
		else
			channel_rejoin(w, h, sock, memfd);
		return;
	}
	unsigned no = ++w->next_no;
	if (h->transport == VGPU_TRANSPORT_XEN) {
		rc = vgpu_xen_attach(&h->xen, &ch);
		if (rc == 0 && !vgpu_grant_mapper) {
			grants.domid = h->xen.domid;   /* a worker serves one zone: one domain */
			vgpu_grant_mapper = &grant_mapper;
		}
	} else {
		/* our own copies, should the channel move to another worker (migration) */
		sock2 = fcntl(sock, F_DUPFD_CLOEXEC, 0);
		memfd2 = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
		rc = vgpu_shm_attach(sock, memfd, &ch);
	}
	if (rc < 0) {
		if (sock2 >= 0)
			close(sock2);
		if (memfd2 >= 0)
			close(memfd2);
	}
	if (rc < 0) {
		if (h->transport == VGPU_TRANSPORT_XEN) {
			vgpu_warn("channel %u: cannot attach the Xen channel of domain %u (port %u, gref %u): %s (%s)",
				  no, h->xen.domid, h->xen.evtchn_port, h->xen.dir_gref, strerror(-rc),
				  vgpu_chan_setup_error());
			xs_answer(h->xs_dir, "refused", vgpu_chan_setup_error());
		} else
			vgpu_warn("channel %u from pid %u: cannot attach its shared region: %s (%s)", no,
				  h->hello.pid, strerror(-rc), vgpu_chan_setup_error());
		vgpu_stat_add(&w->zone.stats->errors, 1);
		return;
	}
	memset(&wel, 0, sizeof(wel));
	wel.status = w->be_ok ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE;
	wel.zone_id = w->a->zone_id;
	memcpy(wel.token, w->a->token, sizeof(wel.token));
	wel.backend = w->be_ok ? (uint32_t)w->be.kind : 0;
	/* the zone's devices among the proxy's (for its NVML), when the list fits */
	if (strlen(w->zone.devices) < sizeof(wel.moved_to)) {
		wel.ndev = (uint32_t)w->a->cfg->ndev;
		memcpy(wel.moved_to, w->zone.devices, strlen(w->zone.devices) + 1);
	}
	rc = vgpu_chan_send(ch, VGPU_OP_WELCOME, 0, 0, &wel, sizeof(wel));
	if (rc == 0)
		rc = vgpu_chan_flush(ch);
	if (rc < 0 || !w->be_ok) {
		if (rc < 0)
			vgpu_warn("channel %u: cannot send the welcome: %s", no, strerror(-rc));
		else
			vgpu_warn("channel %u refused: no driver backend in this worker", no);
		if (h->transport == VGPU_TRANSPORT_XEN)
			xs_answer(h->xs_dir, "refused", rc < 0 ? "cannot send the welcome" : "no driver backend");
		vgpu_chan_close(ch);
		if (sock2 >= 0)
			close(sock2);
		if (memfd2 >= 0)
			close(memfd2);
		return;
	}
	if (h->transport == VGPU_TRANSPORT_XEN)
		xs_answer(h->xs_dir, "connected", NULL);
	void *bulk;
	size_t bulk_len;
	vgpu_chan_bulk_areas(ch, &bulk, &bulk_len); /* before the channel's thread owns ch */
	if (channel_start(w, ch, no, h->transport == VGPU_TRANSPORT_XEN ? h->xs_dir : "", sock2, memfd2, NULL, 0,
			  h->transport == VGPU_TRANSPORT_XEN ? xen_chan_id(&h->xen) : 0) < 0)
		return;
	if (h->transport == VGPU_TRANSPORT_XEN)
		vgpu_info("channel %u opened (Xen domain %u, bulk area %zu KiB)", no, h->xen.domid, bulk_len / 2 >> 10);
	else
		vgpu_info("channel %u opened (%s, client pid %u, bulk area %zu KiB)", no,
			  h->hello.kind == VGPU_HELLO_NEW_ZONE ? "new zone" : "join", h->hello.pid, bulk_len / 2 >> 10);
}

/* Start a channel's thread (ch and the fds are owned here from now on). */
static int channel_start(struct worker *w, struct vgpu_chan *ch, unsigned no, const char *xs_dir, int sock,
			 int memfd, const void *const *stack, unsigned nstack, uint64_t xen_id)
{
	pthread_attr_t attr;
	pthread_t th;
	struct chan_thread_arg *t = malloc(sizeof(*t));
	if (!t) {
		vgpu_err("channel %u: out of memory; closing it", no);
		vgpu_chan_close(ch);
		if (sock >= 0)
			close(sock);
		if (memfd >= 0)
			close(memfd);
		return -ENOMEM;
	}
	*t = (struct chan_thread_arg){ .w = w, .ch = ch, .no = no, .sock = sock, .memfd = memfd,
				       .ninitial = nstack < VGPU_CKPT_CTX_MAX ? nstack : VGPU_CKPT_CTX_MAX, .xen_id = xen_id };
	for (unsigned i = 0; i < t->ninitial; i++)
		t->initial[i] = (void *)stack[i];
	snprintf(t->xs_dir, sizeof(t->xs_dir), "%s", xs_dir);
	pthread_mutex_lock(&w->lock);
	w->live++;
	t->next = w->chans;
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = &w->chans;
	w->chans = t;
	vgpu_stat_set(&w->zone.stats->channels, w->live);
	pthread_mutex_unlock(&w->lock);
	vgpu_stat_add(&w->zone.stats->channels_total, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&th, &attr, chan_thread, t);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		vgpu_err("channel %u: cannot start its thread: %s; closing it", no, strerror(rc));
		pthread_mutex_lock(&w->lock);
		w->live--;
		*t->pprev = t->next;
		if (t->next)
			t->next->pprev = t->pprev;
		vgpu_stat_set(&w->zone.stats->channels, w->live);
		pthread_mutex_unlock(&w->lock);
		vgpu_chan_close(ch);
		if (sock >= 0)
			close(sock);
		if (memfd >= 0)
			close(memfd);
		free(t);
		return -rc;
	}
	return 0;
}

/*
 * Free everything the zone still holds, in dependency order: events and streams, then
 * modules (their functions go with them), then device memory, then contexts. Runs when
 * no channel thread is left, on the main thread.
 */
static void zone_release(struct worker *w)
{
	const struct vgpu_backend_fns *f = &w->be.fn;
	struct vgpu_zone *z = &w->zone;
	unsigned n_ctx = 0, n_other = 0, n_mem = 0, failed = 0;
	uint64_t bytes = 0;
	CUcontext ctxs[256];
	void *real;
	struct vgpu_alloc a;

	/* Host functions the driver is running wait for the zone no longer: nothing would run them. */
	if (z->hostfn)
		vgpu_hostfn_kill(z->hostfn);
	/* Contexts first out of the table (kept aside), one of them made current for the rest. */
	while (n_ctx < 256 && vgpu_zone_pop_handle(z, VGPU_H_CONTEXT, &real) == 0)
		if (!vgpu_green_is_alias(z, real))   /* (a green context's CUcontext goes with it, below) */
			ctxs[n_ctx++] = real;
	if (n_ctx && f->cuCtxSetCurrent)
		f->cuCtxSetCurrent(ctxs[0]);
	/* IPC: no zone can open what this one exported any more; what it opened is closed */
	unsigned closed = vgpu_ipc_zone_end(z, f);
	if (closed)
		vgpu_info("zone closed %u IPC mapping%s of other zones' memory", closed, closed == 1 ? "" : "s");
	while (vgpu_zone_pop_handle(z, VGPU_H_EVENT, &real) == 0) {
		n_other++;
		if (f->cuEventDestroy_v2 && f->cuEventDestroy_v2(real) != CUDA_SUCCESS)
			failed++;
	}
	while (vgpu_zone_pop_handle(z, VGPU_H_STREAM, &real) == 0) {
		n_other++;
		if (f->cuStreamDestroy_v2 && f->cuStreamDestroy_v2(real) != CUDA_SUCCESS)
			failed++;
	}
	/* green contexts after their streams (the driver does not destroy those), before the
	 * primary contexts they hold retained are released */
	n_other += vgpu_green_zone_end(z, f);
	/* Executable graphs, then graphs (their nodes go with them, and the graphs those nodes
	 * own: conditional nodes' bodies, child graph nodes' graphs): they use modules and memory. */
	n_other += vgpu_proxy_forget_node_graphs(z);
	while (vgpu_zone_pop_handle(z, VGPU_H_GRAPH_EXEC, &real) == 0) {
		n_other++;
		if (f->cuGraphExecDestroy && f->cuGraphExecDestroy(real) != CUDA_SUCCESS)
			failed++;
	}
	while (vgpu_zone_pop_handle(z, VGPU_H_GRAPH, &real) == 0) {
		n_other++;
		if (f->cuGraphDestroy && f->cuGraphDestroy(real) != CUDA_SUCCESS)
			failed++;
	}
	while (vgpu_zone_pop_handle(z, VGPU_H_GRAPH_NODE, &real) == 0)
		n_other++;                      /* owned by their graph */
	while (vgpu_zone_pop_handle(z, VGPU_H_FUNCTION, &real) == 0)
		n_other++;                      /* owned by their module */
	while (vgpu_zone_pop_handle(z, VGPU_H_KERNEL, &real) == 0)
		n_other++;                      /* owned by their library */
	while (vgpu_zone_pop_handle(z, VGPU_H_MODULE, &real) == 0) {
		n_other++;
		if (f->cuModuleUnload && f->cuModuleUnload(real) != CUDA_SUCCESS)
			failed++;
	}
	while (vgpu_zone_pop_handle(z, VGPU_H_LIBRARY, &real) == 0) {
		n_other++;
		if (f->cuLibraryUnload && f->cuLibraryUnload(real) != CUDA_SUCCESS)
			failed++;
	}
	/* Mapped ranges, then physical allocations (virtual memory management): unmap, release. */
	uint64_t vp, vsz, vh;
	while (vgpu_vmm_pop_range(z, &vp, &vsz) == 0) {
		n_mem++;
		if (f->cuMemUnmap && f->cuMemUnmap((CUdeviceptr)vp, (size_t)vsz) != CUDA_SUCCESS)
			failed++;
	}
	while (vgpu_vmm_pop_handle(z, &vh) == 0) {
		n_other++;
		if (f->cuMemRelease && f->cuMemRelease((CUmemGenericAllocationHandle)vh) != CUDA_SUCCESS)
			failed++;
	}
	/* and the address ranges reserved for them, now that nothing is mapped there */
	while (vgpu_vmm_pop_reservation(z, &vp, &vsz) == 0) {
		n_other++;
		if (f->cuMemAddressFree && f->cuMemAddressFree((CUdeviceptr)vp, (size_t)vsz) != CUDA_SUCCESS)
			failed++;
	}
	/* the fixed window's memory: out of the map before the driver's allocations are freed */
	uint64_t wb;
	n_mem += vgpu_proxy_fixed_va_end(z, f, ctxs, n_ctx, &wb);
	bytes += wb;
	while (vgpu_zone_pop_alloc(z, &a) == 0) {
		n_mem++;
		bytes += a.size;
		CUresult r = f->cuMemFree_v2 ? f->cuMemFree_v2((CUdeviceptr)a.base) : CUDA_ERROR_NOT_SUPPORTED;
		/* An allocation belongs to one context: try the others when the current one is wrong. */
		for (unsigned i = 1; r != CUDA_SUCCESS && i < n_ctx && f->cuCtxSetCurrent; i++) {
			f->cuCtxSetCurrent(ctxs[i]);
			r = f->cuMemFree_v2((CUdeviceptr)a.base);
		}
		if (r != CUDA_SUCCESS)
			failed++;
	}
	/* Pools after their allocations; a device's default pool cannot be destroyed (nor needs it). */
	while (vgpu_zone_pop_handle(z, VGPU_H_MEMORY_POOL, &real) == 0) {
		n_other++;
		if (f->cuMemPoolDestroy)
			f->cuMemPoolDestroy(real);
	}
	/* JIT link states: the driver's, and the logs it writes into, go together. */
	vgpu_proxy_links_gone(z, &w->be, NULL, 1);
	/* Whatever other handle types remain have no destroy call of their own here. */
	for (unsigned t = 0; t < VGPU_H_COUNT; t++)
		while (vgpu_zone_pop_handle(z, t, &real) == 0)
			n_other++;
	/* Pinned regions while a context is current (the driver's registrations go with them):
	 * the copies queued on them are finished first. */
	uint64_t pinned = z->pinned.bytes;
	for (unsigned i = 0; i < n_ctx && pinned && f->cuCtxSetCurrent && f->cuCtxSynchronize; i++)
		if (f->cuCtxSetCurrent(ctxs[i]) == CUDA_SUCCESS)
			f->cuCtxSynchronize();
	vgpu_pinned_fini(&z->pinned, &(struct vgpu_pinned_drv){ .host_unregister = f->cuMemHostUnregister });
	if (f->cuCtxSetCurrent)
		f->cuCtxSetCurrent(NULL);
	for (unsigned i = 0; i < n_ctx; i++) {
		if (f->cuCtxDestroy_v2 && f->cuCtxDestroy_v2(ctxs[i]) == CUDA_SUCCESS)
			continue;
		/* A primary context cannot be destroyed, only released (once per retain). */
		CUdevice dev;
		int released = 0;
		if (f->cuCtxSetCurrent && f->cuCtxGetDevice && f->cuDevicePrimaryCtxRelease_v2 &&
		    f->cuCtxSetCurrent(ctxs[i]) == CUDA_SUCCESS && f->cuCtxGetDevice(&dev) == CUDA_SUCCESS) {
			f->cuCtxSetCurrent(NULL);
			while (released < 1024 && f->cuDevicePrimaryCtxRelease_v2(dev) == CUDA_SUCCESS)
				released++;
		}
		/* (an idle primary context holds nothing) */
		if (!released && vgpu_zone_primary_idle(z, f->cuDevicePrimaryCtxGetState, ctxs[i], NULL, NULL) != 1)
			failed++;
	}
	vgpu_zone_limits_drop(z);   /* the contexts' stacks, heaps and printf buffers went with them */
	vgpu_tex_zone_drop(z);      /* and their arrays and texture objects */
	if (pinned)
		vgpu_info("zone unmapped %llu bytes of pinned host memory", (unsigned long long)pinned);
	uint64_t moved = vgpu_stat_get(&z->stats->pinned_copied);
	if (moved)
		vgpu_info("zone moved %llu bytes between pinned host memory and the device without the ring",
			  (unsigned long long)moved);
	uint64_t dropped = vgpu_output_dropped();
	if (dropped)
		vgpu_warn("%llu bytes of device output (printf) were dropped: the zone did not take them before "
			  "%u more were waiting", (unsigned long long)dropped, VGPU_OUTPUT_MAX);
	vgpu_info("zone handled %llu calls (%llu asynchronous), %llu answered with an error",
		  (unsigned long long)vgpu_stat_get(&z->stats->calls), (unsigned long long)vgpu_stat_get(&z->stats->async_calls),
		  (unsigned long long)vgpu_stat_get(&z->stats->errors));
	vgpu_info("zone freed %llu bytes in %u allocations, %u contexts, %u other handles%s",
		  (unsigned long long)bytes, n_mem, n_ctx, n_other,
		  failed ? " (some driver calls failed; the worker's exit releases the rest)" : "");
}

/*
 * On the simulator (a test double), after zone_release: the graphs, executable graphs, memory
 * pools, libraries, stream-ordered allocations, virtual memory and events it still holds. The zone
 * made every one of them, and the release destroyed or freed all the zone still had handles
 * or ranges of, so one left was forgotten on the way (its handle dropped, the object kept)
 * and would have stayed until this process ends. Said in the log either way; the
 * adversarial tests read it.
 */
static void zone_leak_check(const struct vgpu_backend *be)
{
	if (!be->fn.vgpu_sim_live_objects || !be->fn.vgpu_sim_live_vmm || !be->fn.vgpu_sim_live_events)
		return;
	long g = 0, x = 0, p = 0, l = 0, o = 0, vp = 0, vm = 0, vr = 0, ev = 0;
	be->fn.vgpu_sim_live_objects(&g, &x, &p, &l, &o);
	be->fn.vgpu_sim_live_vmm(&vp, &vm, &vr);
	be->fn.vgpu_sim_live_events(&ev);
	if (g || x || p || l || o || vp || vm || vr || ev)
		vgpu_warn("zone freed, but the simulator still holds %ld graphs, %ld executable graphs, %ld memory pools, "
			  "%ld libraries, %ld stream-ordered allocations, %ld physical allocations, %ld mappings, %ld "
			  "address reservations and %ld events of it: forgotten by the worker, not destroyed or freed", g, x,
			  p, l, o, vp, vm, vr, ev);
	else
		vgpu_debug("zone freed: the simulator holds no graph, executable graph, memory pool, library, "
			   "stream-ordered allocation, virtual memory or event of it");
}

/*
 * Make this zone's addresses its own (handle ids are already keyed per zone by
 * vgpu_zone_init). Every worker is forked from the same supervisor, so
 * without help a backend that places device memory with mmap (the simulator) would hand
 * every zone the same addresses; a random-sized PROT_NONE reservation (address space only,
 * never touched) before the backend loads moves its mappings, so another zone's device
 * pointer is almost never one of this zone's. (A real GPU has its own address layout.)
 */
static void zone_randomise(void)
{
	uint64_t r[2] = { 0, 0 };
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		vgpu_warn("getrandom failed (%s); handle ids and addresses less distinct across zones", strerror(errno));
	size_t len = (size_t)(1 + r[1] % 8192) << 21;   /* 2 MiB .. 16 GiB, 2 MiB steps */
	if (mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED)
		vgpu_debug("address-space shift of %zu bytes not reserved: %s", len, strerror(errno));
	/*
	 * The simulator's device addresses are addresses in this worker, and a zone tells its
	 * own host pointers from them by address (unified cuMemcpy, libvgpu/dmap.c). Where the
	 * kernel would put the simulator's arena (beside the libraries, where a zone's large
	 * mallocs land too) the two could coincide and a host buffer be taken for device memory;
	 * from 0x300000000000 (far below the mmap area, far above the heap) they cannot. A
	 * distinct offset per zone keeps zones' device addresses apart, as above.
	 */
	if (!getenv("VGPU_SIM_ARENA_BASE")) {
		char base[32];
		snprintf(base, sizeof(base), "0x%llx", 0x300000000000ull + ((unsigned long long)(r[0] % 8192) << 21));
		setenv("VGPU_SIM_ARENA_BASE", base, 0);
	}
}

/* Start the driver with the devices the zone's process chose (ordinals of the proxy's). */
static int zone_devices(struct worker *w, const char *devices, char *why, size_t cap)
{
	char env[4096];
	int rc = vgpu_devsel_env(w->a->cfg, devices, env, sizeof(env), why, cap);
	if (rc < 0)
		return rc;
	if (setenv("CUDA_VISIBLE_DEVICES", env, 1) < 0) {
		snprintf(why, cap, "setenv CUDA_VISIBLE_DEVICES: %s", strerror(errno));
		return -errno;
	}
	snprintf(w->zone.devices, sizeof(w->zone.devices), "%s", devices);
	vgpu_info("the zone's process sees the proxy's devices %s: its driver starts with CUDA_VISIBLE_DEVICES=%s",
		  devices, env);
	return 0;
}

/* ---------------------------------------------------------------- outliving the supervisor */

/* STATE_DIR/zone-ID.sock: where a new supervisor finds this worker (--state-dir). -1 if off. */
static int adopt_listen(const struct vgpu_worker_args *a, char *path, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (!a->cfg->state_dir[0])
		return -1;
	snprintf(path, cap, "%s/zone-%u.sock", a->cfg->state_dir, a->zone_id);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		vgpu_warn("state socket path %s is too long; this zone cannot outlive the supervisor", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 4) < 0) {
		vgpu_warn("cannot listen on %s (%s); this zone cannot outlive the supervisor", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

/*
 * A new supervisor asked for the zone on the state socket (c, its request read). Only an
 * orphaned worker answers (two supervisors never share a zone); the answer is the zone's
 * description with its stats page and budget, and the connection becomes the control socket.
 * Returns the new control socket, or -1 (connection closed).
 */
static int adopt_answer(const struct vgpu_worker_args *a, int c, int have_supervisor)
{
	struct vgpu_adopt_info info;
	int fds[2] = { a->stats_fd, a->pool_fd };

	if (have_supervisor) {
		vgpu_warn("state socket: a second supervisor asked for the zone; closed");
		close(c);
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.magic = VGPU_ADOPT_MAGIC;
	info.version = VGPU_PROTO_VERSION;
	info.zone_id = a->zone_id;
	info.pid = (int32_t)getpid();
	info.client_pid = a->client_pid;
	info.domid = a->domid;
	info.pool_slot = a->pool_fd >= 0 ? a->pool_slot : -1;
	memcpy(info.token, a->token, sizeof(info.token));
	snprintf(info.name, sizeof(info.name), "%s", a->name);
	snprintf(info.reg, sizeof(info.reg), "%s", a->reg);
	if (vgpu_fds_send(c, &info, sizeof(info), fds, a->pool_fd >= 0 ? 2 : 1) < 0) {
		close(c);
		return -1;
	}
	vgpu_info("adopted by a new supervisor");
	return c;
}

/* ---------------------------------------------------------------- checkpoint and migration */

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Stop every channel at its next message boundary (new ones park at once). 0, or -ETIMEDOUT
 * when one stays busy in a request for timeout_ms (the zone then goes on). */
static int zone_stop(struct worker *w, int timeout_ms, char *why, size_t cap)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	atomic_store(&w->stop, 1);
	for (struct chan_thread_arg *t = w->chans; t; t = t->next)
		vgpu_chan_interrupt(t->ch);
	int rc = 0;
	while (w->parked < w->live && rc == 0)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &dl);
	unsigned parked = w->parked, live = w->live;
	pthread_mutex_unlock(&w->lock);
	if (parked < live) {
		snprintf(why, cap, "%u of the zone's %u channels stayed busy in a request for %d ms; the zone goes on",
			 live - parked, live, timeout_ms);
		return -ETIMEDOUT;
	}
	return 0;
}

static void zone_go_on(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	for (struct chan_thread_arg *t = w->chans; t; t = t->next)
		vgpu_chan_set_saved(t->ch, 0);   /* from here on the checkpoint is behind the zone */
	atomic_store(&w->stop, 0);
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void state_reply(int c, struct vgpu_state_reply *r, uint32_t magic)
{
	r->magic = magic;
	r->version = VGPU_PROTO_VERSION;
	if (send(c, r, sizeof(*r), MSG_NOSIGNAL) != (ssize_t)sizeof(*r))
		vgpu_warn("state socket: cannot send the answer: %s", strerror(errno));
}

/* CKPT: stop, write the checkpoint to fd, go on unless asked to stay stopped. */
static void do_checkpoint(struct worker *w, int c, const struct vgpu_state_req *q, int fd)
{
	struct vgpu_state_reply r = { .zone_id = w->a->zone_id };
	struct vgpu_ckpt_sum sum;
	uint64_t t0 = mono_ns();

	if (!w->be_ok) {
		r.status = -ENODEV;
		snprintf(r.msg, sizeof(r.msg), "the zone has no driver backend");
	} else if (w->handed) {
		r.status = -ESRCH;
		snprintf(r.msg, sizeof(r.msg), "the zone was handed over to another worker");
	} else if ((r.status = zone_stop(w, 10000, r.msg, sizeof(r.msg))) == 0) {
		uint64_t t1 = mono_ns();
		r.stop_ns = t1 - t0;
		/* every channel's ring (shm: its memfd's inode), its thread's current context and
		 * position: what a program rejoining a restore of the zone is checked against */
		struct vgpu_ckpt_chan *chans = calloc(VGPU_CKPT_MAX_CHANS + 1, sizeof(*chans));
		uint32_t nchan = 0;
		pthread_mutex_lock(&w->lock);
		for (struct chan_thread_arg *t = w->chans; t && chans; t = t->next) {
			struct stat st;
			uint64_t id = t->xen_id;
			if (!id && (t->memfd < 0 || fstat(t->memfd, &st) < 0))
				continue;
			if (!id)
				id = (uint64_t)st.st_ino;
			if (nchan <= VGPU_CKPT_MAX_CHANS) {
				chans[nchan] = (struct vgpu_ckpt_chan){ .ino = id, .nctx = t->nstack };
				for (unsigned k = 0; k < t->nstack && k < VGPU_CKPT_CTX_MAX; k++)
					chans[nchan].ctx[k] = t->stack[k];
				vgpu_chan_position(t->ch, chans[nchan].pos);
			}
			nchan++;
		}
		pthread_mutex_unlock(&w->lock);
		if (!chans) {
			r.status = -ENOMEM;
			snprintf(r.msg, sizeof(r.msg), "out of memory listing the zone's channels");
		} else {
			r.status = vgpu_ckpt_write(fd, &w->zone, &w->be, (uint32_t)w->be.kind, w->a->reg, w->state_path,
						   chans, nchan, &sum, r.msg, sizeof(r.msg));
		}
		free(chans);
		r.work_ns = mono_ns() - t1;
		if (r.status == 0) {
			r.handles = sum.handles;
			r.allocs = sum.allocs;
			r.mem_bytes = sum.mem_bytes;
			r.file_bytes = sum.file_bytes;
			pthread_mutex_lock(&w->lock);
			r.channels = w->live;
			pthread_mutex_unlock(&w->lock);
		}
	}
	int stay = r.status == 0 && (q->flags & VGPU_STATE_F_STAY_STOPPED);
	if (!stay) {
		zone_go_on(w);
	} else {
		/* saved and stopped: should this worker vanish now, the programs' channels wait for a
		 * restore of the zone to rejoin (libvgpu, VGPU_REJOIN_MS) instead of failing */
		pthread_mutex_lock(&w->lock);
		for (struct chan_thread_arg *t = w->chans; t; t = t->next)
			if (t->memfd >= 0 || t->xen_id)
				vgpu_chan_set_saved(t->ch, 1);
		pthread_mutex_unlock(&w->lock);
	}
	if (r.status == 0)
		vgpu_info("checkpoint written: %u handles, %u allocations (%llu bytes), %llu-byte file; channels stopped "
			  "in %.1f ms, written in %.1f ms; %s", r.handles, r.allocs, (unsigned long long)r.mem_bytes,
			  (unsigned long long)r.file_bytes, r.stop_ns / 1e6, r.work_ns / 1e6,
			  stay ? "the zone stays stopped until it is taken over or thawed" : "the zone goes on");
	else
		vgpu_warn("checkpoint refused: %s", r.msg);
	state_reply(c, &r, VGPU_STATE_CKPT);
}

static int token_equal(const uint8_t *x, const uint8_t *y)
{
	volatile uint8_t d = 0;
	for (unsigned i = 0; i < 16; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* TAKE: hand every channel of the stopped zone to the asking worker; this worker then ends. */
static void do_take(struct worker *w, int c, const struct vgpu_state_req *q)
{
	struct vgpu_state_reply r = { .zone_id = w->a->zone_id };
	uint64_t t0 = mono_ns();

	pthread_mutex_lock(&w->lock);
	if (!token_equal(q->token, w->a->token)) {
		r.status = -EACCES;
		snprintf(r.msg, sizeof(r.msg), "not this zone's token");
	} else if (!atomic_load(&w->stop) || w->parked < w->live) {
		r.status = -EBUSY;
		snprintf(r.msg, sizeof(r.msg), "the zone is running (take it after vgpuctl checkpoint --stop)");
	} else {
		for (struct chan_thread_arg *t = w->chans; t; t = t->next)
			if (t->sock < 0 || t->memfd < 0) {
				r.status = -EOPNOTSUPP;
				snprintf(r.msg, sizeof(r.msg), "channel %u cannot move to another worker (Xen channel)", t->no);
			}
	}
	/* pinned regions first: the taker maps them before it serves any channel */
	for (uint32_t i = 0; r.status == 0; i++) {
		struct vgpu_state_pinned pr = { .magic = VGPU_STATE_PINR, .version = VGPU_PROTO_VERSION,
						.key = w->zone.pinned.key, .slot = i };
		int fd, e = vgpu_pinned_export(&w->zone.pinned, i, &fd, &pr.bytes, &pr.addr);
		if (e < 0)
			break;
		if (e == 0)
			continue;
		if (vgpu_fds_send(c, &pr, sizeof(pr), &fd, 1) < 0) {
			r.status = -EPIPE;
			snprintf(r.msg, sizeof(r.msg), "sending pinned region %u failed: %s", i, strerror(errno));
		}
	}
	for (struct chan_thread_arg *t = w->chans; t && r.status == 0; t = t->next) {
		struct vgpu_state_chan m = { .magic = VGPU_STATE_CHAN, .version = VGPU_PROTO_VERSION, .no = t->no };
		uint64_t id;
		void *cur = t->nstack && t->nstack <= VGPU_CKPT_CTX_MAX ? t->stack[t->nstack - 1] : NULL;
		if (cur && vgpu_htab_find(&w->zone.htab, VGPU_H_CONTEXT, cur, &id) == 0)
			m.ctx_id = id;
		int fds[2] = { t->sock, t->memfd };
		if (vgpu_fds_send(c, &m, sizeof(m), fds, 2) < 0) {
			r.status = -EPIPE;
			snprintf(r.msg, sizeof(r.msg), "sending channel %u failed: %s", t->no, strerror(errno));
		} else {
			r.channels++;
		}
	}
	if (r.status == 0) {
		w->handed = 1;   /* the other worker has the channels' fds: ours only go away */
		memcpy(w->moved_to, q->dest, sizeof(w->moved_to));
		w->moved_to[sizeof(w->moved_to) - 1] = '\0';
	}
	pthread_mutex_unlock(&w->lock);
	r.work_ns = mono_ns() - t0;
	state_reply(c, &r, VGPU_STATE_DONE);
	if (r.status == 0) {
		vgpu_info("zone handed over to another worker: %u channels", r.channels);
		pthread_mutex_lock(&w->lock);
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
	} else {
		vgpu_warn("take-over refused: %s", r.msg);
	}
}

/* A restored zone takes its channels from the worker that wrote the checkpoint. They are
 * served only once the whole take-over succeeded: until then the source keeps them. */
#define TAKE_MAX 1024
static int take_channels(struct worker *w, const char *path, uint32_t *taken, char *why, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vgpu_state_req q = { .magic = VGPU_STATE_TAKE, .version = VGPU_PROTO_VERSION };
	struct timeval tv = { 30, 0 };
	struct got { struct vgpu_chan *ch; int sock, memfd; uint64_t ctx_id; } *got = NULL;
	unsigned n = 0;
	int rc = -EPROTO;

	*taken = 0;
	if (!strcmp(path, w->state_path)) {
		/* the source's socket path is ours now (a new proxy numbered this zone as the old
		 * one did): the source is gone */
		snprintf(why, cap, "the zone's worker at %s is gone (this worker listens there now)", path);
		return -ECONNREFUSED;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(why, cap, "source state socket path too long");
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(why, cap, "cannot reach the zone's worker at %s to take its channels over: %s", path, strerror(errno));
		if (c >= 0)
			close(c);
		return -ECONNREFUSED;
	}
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memcpy(q.token, w->a->token, sizeof(q.token));
	if (w->a->cfg->transport == VGPU_TRANSPORT_SHM)
		snprintf(q.dest, sizeof(q.dest), "%.107s", w->a->cfg->listen_path);
	got = calloc(TAKE_MAX, sizeof(*got));
	if (!got || send(c, &q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		snprintf(why, cap, "cannot ask the zone's worker: %s", got ? strerror(errno) : "out of memory");
		close(c);
		free(got);
		return -EPIPE;
	}
	const struct vgpu_pinned_drv pd = vgpu_pinned_drv_of(&w->be);
	for (;;) {
		union { struct vgpu_state_chan ch; struct vgpu_state_reply r; struct vgpu_state_pinned p; } u;
		int fds[2];
		unsigned nfds = 0;
		ssize_t len = vgpu_fds_recv(c, &u, sizeof(u), fds, 2, &nfds, 0);
		if (len == (ssize_t)sizeof(u.p) && u.p.magic == VGPU_STATE_PINR && nfds == 1) {
			const char *pwhy = "";
			some_ctx_current(w);
			if (vgpu_pinned_map_at(&w->zone.pinned, u.p.key, u.p.slot, fds[0], u.p.bytes, u.p.addr, &pd, &pwhy) !=
			    CUDA_SUCCESS) {
				snprintf(why, cap, "the zone's pinned region %u (%llu bytes) cannot be mapped here: %s", u.p.slot,
					 (unsigned long long)u.p.bytes, pwhy);
				break;
			}
			vgpu_stat_set(&w->zone.stats->pinned_bytes, w->zone.pinned.bytes);
			continue;
		}
		if (len == (ssize_t)sizeof(u.ch) && u.ch.magic == VGPU_STATE_CHAN && nfds == 2 && n < TAKE_MAX) {
			struct got *g = &got[n];
			g->sock = fcntl(fds[0], F_DUPFD_CLOEXEC, 0);
			g->memfd = fcntl(fds[1], F_DUPFD_CLOEXEC, 0);
			g->ctx_id = u.ch.ctx_id;
			if (g->sock < 0 || g->memfd < 0 || vgpu_shm_attach(fds[0], fds[1], &g->ch) < 0) {
				snprintf(why, cap, "a channel taken over cannot be attached: %s", vgpu_chan_setup_error());
				if (g->sock >= 0)
					close(g->sock);
				if (g->memfd >= 0)
					close(g->memfd);
				break;
			}
			n++;
			continue;
		}
		vgpu_fds_close_kept(fds, nfds, 2);
		if (len == (ssize_t)sizeof(u.r) && u.r.magic == VGPU_STATE_DONE) {
			u.r.msg[sizeof(u.r.msg) - 1] = '\0';
			if (u.r.status < 0)
				snprintf(why, cap, "the zone's worker refused to hand its channels over: %.150s", u.r.msg);
			else if (u.r.channels != n)
				snprintf(why, cap, "the zone's worker sent %u channels but says %u", n, u.r.channels);
			else
				rc = 0;
			if (u.r.status < 0)
				rc = u.r.status;
			break;
		}
		snprintf(why, cap, "the zone's worker's answer was cut short (%s)", len < 0 ? strerror((int)-len) : "bad record");
		break;
	}
	close(c);
	for (unsigned i = 0; i < n; i++) {
		if (rc < 0) {
			/* not ours: forget the mapping without a word to the program */
			vgpu_chan_forget(got[i].ch);
			close(got[i].sock);
			close(got[i].memfd);
			continue;
		}
		/* the thread's stack from the checkpoint's record of its ring, whose top must be
		 * the context the source says it had current; else that context alone */
		void *ctx = NULL;
		const void *const *stack = (const void *const *)&ctx;
		unsigned nstack = 0;
		struct stat st;
		if (got[i].ctx_id && vgpu_htab_lookup(&w->zone.htab, VGPU_H_CONTEXT, got[i].ctx_id, &ctx) == 0 && ctx)
			nstack = 1;
		const struct vgpu_ckpt_chan *c = ctx && fstat(got[i].memfd, &st) == 0 ? chan_record(w, (uint64_t)st.st_ino)
										      : NULL;
		if (c && c->nctx && c->ctx[c->nctx - 1] == ctx) {
			stack = c->ctx;
			nstack = c->nctx;
		}
		if (channel_start(w, got[i].ch, ++w->next_no, "", got[i].sock, got[i].memfd, stack, nstack, 0) == 0)
			(*taken)++;
	}
	free(got);
	return rc;
}

/*
 * A connection on the state socket: a new supervisor asking for the zone (ADPT; returns the
 * new control socket), or a checkpoint, thaw or take-over request (answered here, -1).
 */
static int state_accept(struct worker *w, int lfd, int have_supervisor)
{
	const struct vgpu_worker_args *a = w->a;
	struct timeval tv = { 1, 0 };
	struct vgpu_state_req q;
	int fds[1];
	unsigned n = 0;
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return -1;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&q, 0, sizeof(q));
	ssize_t len = vgpu_fds_recv(c, &q, sizeof(q), fds, 1, &n, 0);
	if (len == (ssize_t)sizeof(struct vgpu_adopt_req) && q.magic == VGPU_ADOPT_MAGIC &&
	    q.version == VGPU_PROTO_VERSION && n == 0)
		return adopt_answer(a, c, have_supervisor);
	if (len != (ssize_t)sizeof(q) || q.version != VGPU_PROTO_VERSION ||
	    !((q.magic == VGPU_STATE_CKPT && n == 1) || ((q.magic == VGPU_STATE_THAW || q.magic == VGPU_STATE_TAKE) && n == 0))) {
		if (len < 0)
			vgpu_warn("state socket: %s; closed", len == -EAGAIN || len == -EWOULDBLOCK ? "no request within 1 s" :
				  len == -EPROTO ? "a request longer than any this worker knows" : strerror((int)-len));
		else
			vgpu_warn("state socket: not a request this worker knows (%zd bytes, %u fds, magic 0x%08x); closed",
				  len, n, len >= 4 ? q.magic : 0);
		vgpu_fds_close_kept(fds, n, 1);
		close(c);
		return -1;
	}
	if (q.magic == VGPU_STATE_CKPT) {
		do_checkpoint(w, c, &q, fds[0]);
		close(fds[0]);
	} else if (q.magic == VGPU_STATE_THAW) {
		struct vgpu_state_reply r = { .zone_id = a->zone_id };
		if (w->handed) {
			r.status = -ESRCH;
			snprintf(r.msg, sizeof(r.msg), "the zone was handed over to another worker");
		} else {
			zone_go_on(w);
			vgpu_info("the zone goes on (thawed)");
		}
		state_reply(c, &r, VGPU_STATE_THAW);
	} else {
		do_take(w, c, &q);
	}
	close(c);
	return -1;
}

/* Recreate the zone from a checkpoint (opened as ck) before serving; 0 or -errno (reported). */
static int zone_restore(struct worker *w, struct vgpu_ckpt_reader *ck, const struct vgpu_ckpt_meta *meta,
			struct vgpu_state_reply *r)
{
	struct vgpu_ckpt_sum sum;
	uint64_t t0 = mono_ns();
	int rc = vgpu_ckpt_restore(ck, &w->zone, &w->be, &sum, r->msg, sizeof(r->msg));
	if (rc < 0)
		return rc;
	r->handles = sum.handles;
	r->allocs = sum.allocs;
	r->mem_bytes = sum.mem_bytes;
	r->file_bytes = sum.file_bytes;
	/* The zone's programs reach it through their channels: taken over from the worker that
	 * wrote the checkpoint if it is still there, else offered again by the programs
	 * themselves (rejoining, when their server vanished with the zone saved). */
	rc = meta->source[0] ? take_channels(w, meta->source, &r->channels, r->msg, sizeof(r->msg)) : -ECONNREFUSED;
	/* (a worker of another zone at the source's path refuses our token: the source is gone too) */
	if ((rc == -ECONNREFUSED || rc == -EACCES) && w->zone.ck.nchan) {
		w->rejoin_until = mono_ns() + (uint64_t)w->a->cfg->rejoin_timeout_s * 1000000000ull;
		__atomic_store_n(&w->zone.stats->rejoin_wait, w->zone.ck.nchan, __ATOMIC_RELAXED);
		r->work_ns = mono_ns() - t0;
		vgpu_info("zone restored from a checkpoint of zone %u: %u handles, %u allocations (%llu bytes), in %.1f ms; "
			  "its worker is gone (%s), so its %u channels and %u pinned regions are waited for as their "
			  "programs rejoin, up to %u s (--rejoin-timeout)", meta->zone_id, r->handles, r->allocs,
			  (unsigned long long)r->mem_bytes, r->work_ns / 1e6, meta->source[0] ? "not reachable" :
			  "the checkpoint names none", w->zone.ck.nchan, w->zone.ck.npin, w->a->cfg->rejoin_timeout_s);
		snprintf(r->msg, sizeof(r->msg), "its worker is gone: its programs' %u channels rejoin as they notice "
			 "(waited for up to %u s)", w->zone.ck.nchan, w->a->cfg->rejoin_timeout_s);
		return 0;
	}
	if (rc == -ECONNREFUSED && !meta->source[0])
		snprintf(r->msg, sizeof(r->msg), "the checkpoint names no worker to take the zone's channels from "
			 "and no channel to wait for");
	if (rc < 0)
		return rc;
	r->work_ns = mono_ns() - t0;
	vgpu_info("zone restored from a checkpoint of zone %u: %u handles, %u allocations (%llu bytes), "
		  "%u channels taken over, in %.1f ms", meta->zone_id, r->handles, r->allocs,
		  (unsigned long long)r->mem_bytes, r->channels, r->work_ns / 1e6);
	return 0;
}

void vgpu_worker_main(const struct vgpu_worker_args *a)
{
	struct worker w;
	char prefix[96], why[512], desc[600];
	int rc;

	memset(&w, 0, sizeof(w));
	w.a = a;
	snprintf(prefix, sizeof(prefix), "[zone %u %s]", a->zone_id, a->name);
	vgpu_log_set_prefix(prefix);
	snprintf(desc, sizeof(desc), "vgpu-zone-%u", a->zone_id);
	prctl(PR_SET_NAME, desc, 0, 0, 0);
	/* No orphaned workers if the supervisor dies, unless zones are to outlive it (--state-dir). */
	if (!a->cfg->state_dir[0])
		prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	/* each pinned region keeps its memfd and each channel two descriptors (migration) */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.wake_fd = eventfd(0, EFD_CLOEXEC);
	if (w.wake_fd < 0 || vgpu_zone_init(&w.zone, a->zone_id, a->name, &a->limits, a->stats) < 0) {
		vgpu_err("cannot set the zone up (out of memory or file descriptors); worker exits");
		_exit(1);
	}
	memcpy(w.zone.token, a->token, sizeof(w.zone.token));
	w.zone.mem_view_device = a->cfg->mem_view_device;
	if (a->pool)
		vgpu_zone_set_pool(&w.zone, a->pool, a->pool_slot);
	/* A restore: hold the zone's device addresses before anything else maps memory (the
	 * address-space shift below, the driver); the rest is read once the driver is up. */
	struct vgpu_ckpt_reader *ck = NULL;
	struct vgpu_ckpt_meta ck_meta;
	struct vgpu_state_reply rr = { .magic = VGPU_STATE_RSTR, .version = VGPU_PROTO_VERSION, .zone_id = a->zone_id };
	uint64_t t_start = mono_ns(), t_checked = 0, t_driver = 0;
	if (a->restore_fd >= 0) {
		rc = vgpu_ckpt_open(a->restore_fd, &ck, &ck_meta, rr.msg, sizeof(rr.msg));
		if (rc < 0) {
			close(a->restore_fd);
			rr.status = rc;
			vgpu_err("cannot restore the zone: %s", rr.msg);
			send(a->ctrl_fd, &rr, sizeof(rr), MSG_NOSIGNAL);
			_exit(1);
		}
		t_checked = mono_ns();
	}
	zone_randomise();
	/* device printf: the driver writes it to stdout, which is the zone's from here on */
	if ((rc = vgpu_output_capture()) < 0)
		vgpu_warn("device output cannot be kept for the zone (%s): kernels' printf goes to the worker's stdout",
			  strerror(-rc));
	/* the devices the zone's process chose (its first hello, or the checkpoint): the driver
	 * starts with them, numbered from 0 as the process numbers them (devsel.c) */
	const char *devices = a->restore_fd >= 0 ? ck_meta.devices : a->devices;
	rc = devices[0] ? zone_devices(&w, devices, why, sizeof(why)) : 0;
	/* and with the driver settings its process gave (drvenv.h), checked by the supervisor
	 * or the checkpoint's reader */
	const char *env = a->restore_fd >= 0 ? ck_meta.env : a->env;
	if (rc == 0 && env[0]) {
		if ((rc = vgpu_drvenv_apply(env)) < 0) {
			snprintf(why, sizeof(why), "the zone's driver settings \"%.200s\" cannot be set: %s", env,
				 strerror(-rc));
		} else {
			snprintf(w.zone.env, sizeof(w.zone.env), "%s", env);
			vgpu_info("the zone's driver starts with its process's settings %s", env);
		}
	}
	int chosen_bad = rc < 0;   /* what the zone's process chose cannot be: no backend is loaded */
	if (rc == 0)
		rc = vgpu_backend_load(a->cfg->backend_resolved, a->cfg->sim_path, &w.be, why, sizeof(why));
	t_driver = mono_ns();
	if (rc == 0 && a->cfg->ckpt_globals_copy) {
		/* as a GPU driver: no module global can be put at a given address */
		w.be.fn.vgpu_sim_module_place_global = NULL;
		w.be.fn.vgpu_sim_module_global_at = NULL;
	}
	if (rc == 0 && a->cfg->devva_size && vgpu_devva_enable(&w.zone.devva, a->cfg->devva_base, a->cfg->devva_size) == 0)
		vgpu_devva_set_idle(&w.zone.devva, w.zone.mem.limit);
	if (w.zone.devva.size)
		vgpu_debug("device memory of the zone at fixed addresses [0x%llx, +0x%llx)",
			   (unsigned long long)a->cfg->devva_base, (unsigned long long)a->cfg->devva_size);
	if (rc == 0) {
		w.be_ok = 1;
		if ((rc = vgpu_dispatch_load(&w.be)) < 0)
			vgpu_warn("driver table not loaded (%s): every generated call will be refused", strerror(-rc));
		/* failed device assertions: the driver reports them on stderr, the zone's too from here */
		int erc = vgpu_output_capture_stderr();
		if (erc < 0)
			vgpu_warn("the driver's stderr cannot be kept for the zone (%s): it goes to this log only",
				  strerror(-erc));
		vgpu_backend_describe(&w.be, desc, sizeof(desc));
		vgpu_info("zone created, backend: %s", desc);
	} else {
		vgpu_err("%s%s; the zone's channels are refused", chosen_bad ? "" : "no driver backend: ", why);
	}
	vgpu_stat_set(&w.zone.stats->channels, 0);
	__atomic_store_n(&w.zone.stats->ready, 1, __ATOMIC_RELEASE);

	unsigned handoffs = 0;
	char *state_path = w.state_path;
	int ctrl = a->ctrl_fd, alfd = adopt_listen(a, w.state_path, sizeof(w.state_path));
	if (a->restore_fd >= 0) {
		if (!w.be_ok) {
			rr.status = -ENODEV;
			snprintf(rr.msg, sizeof(rr.msg), "%s%.200s", chosen_bad ? "" : "no driver backend: ", why);
		} else if (ck_meta.backend != (uint32_t)w.be.kind) {
			rr.status = -EPROTO;
			snprintf(rr.msg, sizeof(rr.msg), "the checkpoint was taken on the %s, this proxy runs on the %s",
				 ck_meta.backend == VGPU_BACKEND_SIM ? "simulator" : "NVIDIA driver",
				 w.be.kind == VGPU_BACKEND_SIM ? "simulator" : "NVIDIA driver");
		} else {
			rr.status = zone_restore(&w, ck, &ck_meta, &rr);
			ck = NULL;
			vgpu_info("restore timeline: addresses held %.1f ms, driver loaded %.1f ms, zone read, rebuilt "
				  "and channels taken over %.1f ms", (t_checked - t_start) / 1e6, (t_driver - t_checked) / 1e6,
				  rr.work_ns / 1e6);
			rr.work_ns = mono_ns() - t_start;
		}
		vgpu_ckpt_close(ck);
		close(a->restore_fd);
		if (rr.status < 0)
			vgpu_err("cannot restore the zone: %s", rr.msg);
		send(ctrl, &rr, sizeof(rr), MSG_NOSIGNAL);
		if (rr.status < 0) {
			if (alfd >= 0)
				unlink(state_path);
			_exit(1);
		}
		/* no channel to serve (the source was gone): the zone has nothing to wait for */
		handoffs = rr.channels ? rr.channels : 1;
	}
	struct timespec orphaned = { 0, 0 };   /* when the supervisor went away (ctrl < 0) */
	int timed_out = 0;
	for (;;) {
		struct pollfd p[3] = { { ctrl, POLLIN, 0 }, { w.wake_fd, POLLIN, 0 }, { alfd, POLLIN, 0 } };
		int timeout = -1;
		uint64_t now_ns = mono_ns();
		if (w.rejoin_until && now_ns >= w.rejoin_until) {
			uint32_t left = 0;
			for (uint32_t i = 0; i < w.zone.ck.nchan; i++)
				left += !w.zone.ck.chan[i].rejoined;
			if (left)
				vgpu_info("%u of the zone's %u saved channels did not rejoin within %u s (--rejoin-timeout)",
					  left, w.zone.ck.nchan, a->cfg->rejoin_timeout_s);
			w.rejoin_until = 0;
			__atomic_store_n(&w.zone.stats->rejoin_wait, 0, __ATOMIC_RELAXED);
			pthread_mutex_lock(&w.lock);
			unsigned live = w.live;
			pthread_mutex_unlock(&w.lock);
			if (!live)
				break;
		}
		if (w.rejoin_until)
			timeout = (int)((w.rejoin_until - now_ns) / 1000000u) + 1;
		if (ctrl < 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			long left = (long)a->cfg->adopt_timeout_s * 1000 -
				    ((now.tv_sec - orphaned.tv_sec) * 1000 + (now.tv_nsec - orphaned.tv_nsec) / 1000000);
			if (left <= 0) {
				vgpu_warn("no supervisor adopted the zone within %u s (--adopt-timeout); ending it",
					  a->cfg->adopt_timeout_s);
				timed_out = 1;
				break;
			}
			if (timeout < 0 || left < timeout)
				timeout = (int)left;
		}
		if (poll(p, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			vgpu_err("poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents) {
			struct vgpu_handoff h;
			int sock, memfd;
			rc = vgpu_handoff_recv(ctrl, &h, &sock, &memfd, 1);
			if (rc == 0) {
				handoffs++;
				channel_open(&w, &h, sock, memfd);
			} else if (rc != -EAGAIN && alfd < 0) {
				/* The supervisor is gone: nothing can join any more; finish what is open. */
				vgpu_warn("lost the supervisor (%s); the worker exits", strerror(-rc));
				_exit(0);
			} else if (rc != -EAGAIN) {
				/* Its channels go on; a supervisor started with the same --state-dir adopts it. */
				vgpu_warn("lost the supervisor (%s); the zone's channels go on, waiting up to %u s for a "
					  "new supervisor to adopt it", strerror(-rc), a->cfg->adopt_timeout_s);
				close(ctrl);
				ctrl = -1;
				clock_gettime(CLOCK_MONOTONIC, &orphaned);
			}
		}
		if (p[2].revents) {
			int c = state_accept(&w, alfd, ctrl >= 0);
			if (c >= 0)
				ctrl = c;
		}
		if (p[1].revents) {
			uint64_t v;
			if (read(w.wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				vgpu_err("eventfd read: %s", strerror(errno));
		}
		pthread_mutex_lock(&w.lock);
		unsigned live = w.live;
		pthread_mutex_unlock(&w.lock);
		if (live == 0 && handoffs > 0 && !w.rejoin_until) {
			/* Last channel closed; a JOIN already queued keeps the zone alive. */
			struct pollfd q = { ctrl, POLLIN, 0 };
			if (ctrl >= 0 && poll(&q, 1, 0) > 0 && !(q.revents & (POLLHUP | POLLERR)))
				continue;
			break;
		}
	}
	if (alfd >= 0) {
		close(alfd);
		unlink(state_path);
	}
	if (w.handed && w.moved_to[0] && ctrl >= 0) {
		struct vgpu_state_moved m = { .magic = VGPU_STATE_MOVD, .version = VGPU_PROTO_VERSION };
		memcpy(m.dest, w.moved_to, sizeof(m.dest));
		send(ctrl, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (ctrl >= 0)
		shutdown(ctrl, SHUT_RDWR);
	if (w.handed) {
		/* the zone lives on in another worker: its device state here is a stale copy */
		vgpu_info("zone handed over%s%s; worker exits", w.moved_to[0] ? " to " : "", w.moved_to);
		fflush(NULL);
		_exit(0);
	}
	if (timed_out) {
		/* channel threads still run: the process's end closes their channels and releases
		 * what the zone held in the driver */
		fflush(NULL);
		_exit(0);
	}
	vgpu_info("last channel closed; freeing the zone");
	if (w.be_ok) {
		vgpu_ckpt_release_all(&w.zone, &w.be);
		zone_release(&w);
		zone_leak_check(&w.be);
	}
	vgpu_zone_destroy(&w.zone);
	close(w.wake_fd);
	/* Device state goes with the process; skip the driver's own atexit teardown ordering. */
	fflush(NULL);
	_exit(0);
}
