/* SPDX-License-Identifier: MIT */
/* worker.c — one zone's worker process: attaches its channels, one thread each, frees the zone at the end. */
#include <errno.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "chan.h"
#include "log.h"
#include "proxyd.h"
#include "wire.h"

struct worker {
	const struct vgpu_worker_args *a;
	struct vgpu_zone zone;
	struct vgpu_backend be;
	int be_ok;
	pthread_mutex_t lock;
	unsigned live;         /* channel threads running */
	unsigned next_no;      /* channel numbers for logs */
	int wake_fd;           /* eventfd: a channel thread ended */
};

struct chan_thread_arg {
	struct worker *w;
	struct vgpu_chan *ch;
	unsigned no;
	char xs_dir[64];       /* Xen channels: the zone's xenstore directory, removed at the end */
};

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

	vgpu_chan_serve(&w->zone, &w->be, t->ch, t->no);
	if (t->xs_dir[0])
		xs_answer(t->xs_dir, NULL, NULL);
	pthread_mutex_lock(&w->lock);
	w->live--;
	vgpu_stat_set(&w->zone.stats->channels, w->live);
	pthread_mutex_unlock(&w->lock);
	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		vgpu_err("cannot wake the worker's main thread: %s", strerror(errno));
	free(t);
	return NULL;
}

/* Attach a handed-over channel, welcome it and start its thread (fds are owned here). */
static void channel_open(struct worker *w, const struct vgpu_handoff *h, int sock, int memfd)
{
	struct vgpu_chan *ch = NULL;
	struct vgpu_welcome wel;
	pthread_attr_t attr;
	pthread_t th;
	int rc;

	unsigned no = ++w->next_no;
	if (h->transport == VGPU_TRANSPORT_XEN)
		rc = vgpu_xen_attach(&h->xen, &ch);
	else
		rc = vgpu_shm_attach(sock, memfd, &ch);
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
		return;
	}
	if (h->transport == VGPU_TRANSPORT_XEN)
		xs_answer(h->xs_dir, "connected", NULL);
	struct chan_thread_arg *t = malloc(sizeof(*t));
	if (!t) {
		vgpu_err("channel %u: out of memory; closing it", no);
		vgpu_chan_close(ch);
		return;
	}
	*t = (struct chan_thread_arg){ w, ch, no, "" };
	if (h->transport == VGPU_TRANSPORT_XEN)
		snprintf(t->xs_dir, sizeof(t->xs_dir), "%s", h->xs_dir);
	pthread_mutex_lock(&w->lock);
	w->live++;
	vgpu_stat_set(&w->zone.stats->channels, w->live);
	pthread_mutex_unlock(&w->lock);
	vgpu_stat_add(&w->zone.stats->channels_total, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, chan_thread, t);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		vgpu_err("channel %u: cannot start its thread: %s; closing it", no, strerror(rc));
		pthread_mutex_lock(&w->lock);
		w->live--;
		vgpu_stat_set(&w->zone.stats->channels, w->live);
		pthread_mutex_unlock(&w->lock);
		vgpu_chan_close(ch);
		free(t);
		return;
	}
	if (h->transport == VGPU_TRANSPORT_XEN)
		vgpu_info("channel %u opened (Xen domain %u)", no, h->xen.domid);
	else
		vgpu_info("channel %u opened (%s, client pid %u)", no,
			  h->hello.kind == VGPU_HELLO_NEW_ZONE ? "new zone" : "join", h->hello.pid);
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

	/* Contexts first out of the table (kept aside), one of them made current for the rest. */
	while (n_ctx < 256 && vgpu_zone_pop_handle(z, VGPU_H_CONTEXT, &real) == 0)
		ctxs[n_ctx++] = real;
	if (n_ctx && f->cuCtxSetCurrent)
		f->cuCtxSetCurrent(ctxs[0]);
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
	/* Executable graphs, then graphs (their nodes go with them): they use modules and memory. */
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
		if (!released)
			failed++;
	}
	if (pinned)
		vgpu_info("zone unmapped %llu bytes of pinned host memory", (unsigned long long)pinned);
	uint64_t moved = vgpu_stat_get(&z->stats->pinned_copied);
	if (moved)
		vgpu_info("zone moved %llu bytes between pinned host memory and the device without the ring",
			  (unsigned long long)moved);
	vgpu_info("zone freed %llu bytes in %u allocations, %u contexts, %u other handles%s",
		  (unsigned long long)bytes, n_mem, n_ctx, n_other,
		  failed ? " (some driver calls failed; the worker's exit releases the rest)" : "");
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
 * A connection on the state socket: a new supervisor asking for the zone. Only an orphaned
 * worker answers (two supervisors never share a zone); the answer is the zone's description
 * with its stats page and budget, and the connection becomes the control socket.
 * Returns the new control socket, or -1 (connection closed).
 */
static int adopt_accept(const struct vgpu_worker_args *a, int lfd, int have_supervisor)
{
	struct timeval tv = { 1, 0 };
	struct vgpu_adopt_req req;
	struct vgpu_adopt_info info;
	int fds[2] = { a->stats_fd, a->pool_fd }, fdsn[1];
	unsigned n;
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return -1;
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (have_supervisor || vgpu_record_recv(c, &req, sizeof(req), fdsn, 0, &n, 0) < 0 ||
	    req.magic != VGPU_ADOPT_MAGIC || req.version != VGPU_PROTO_VERSION) {
		vgpu_warn("state socket: %s; closed", have_supervisor ? "a second supervisor asked for the zone" :
			  "not an adoption request");
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
	pthread_mutex_init(&w.lock, NULL);
	w.wake_fd = eventfd(0, EFD_CLOEXEC);
	if (w.wake_fd < 0 || vgpu_zone_init(&w.zone, a->zone_id, a->name, &a->limits, a->stats) < 0) {
		vgpu_err("cannot set the zone up (out of memory or file descriptors); worker exits");
		_exit(1);
	}
	memcpy(w.zone.token, a->token, sizeof(w.zone.token));
	if (a->pool)
		vgpu_zone_set_pool(&w.zone, a->pool, a->pool_slot);
	zone_randomise();
	rc = vgpu_backend_load(a->cfg->backend_resolved, a->cfg->sim_path, &w.be, why, sizeof(why));
	if (rc == 0) {
		w.be_ok = 1;
		if ((rc = vgpu_dispatch_load(&w.be)) < 0)
			vgpu_warn("driver table not loaded (%s): every generated call will be refused", strerror(-rc));
		vgpu_backend_describe(&w.be, desc, sizeof(desc));
		vgpu_info("zone created, backend: %s", desc);
	} else {
		vgpu_err("no driver backend: %s; the zone's channels are refused", why);
	}
	vgpu_stat_set(&w.zone.stats->channels, 0);
	__atomic_store_n(&w.zone.stats->ready, 1, __ATOMIC_RELEASE);

	unsigned handoffs = 0;
	char state_path[256];
	int ctrl = a->ctrl_fd, alfd = adopt_listen(a, state_path, sizeof(state_path));
	struct timespec orphaned = { 0, 0 };   /* when the supervisor went away (ctrl < 0) */
	int timed_out = 0;
	for (;;) {
		struct pollfd p[3] = { { ctrl, POLLIN, 0 }, { w.wake_fd, POLLIN, 0 }, { alfd, POLLIN, 0 } };
		int timeout = -1;
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
			int c = adopt_accept(a, alfd, ctrl >= 0);
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
		if (live == 0 && handoffs > 0) {
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
	if (ctrl >= 0)
		shutdown(ctrl, SHUT_RDWR);
	if (timed_out) {
		/* channel threads still run: the process's end closes their channels and releases
		 * what the zone held in the driver */
		fflush(NULL);
		_exit(0);
	}
	vgpu_info("last channel closed; freeing the zone");
	if (w.be_ok)
		zone_release(&w);
	vgpu_zone_destroy(&w.zone);
	close(w.wake_fd);
	/* Device state goes with the process; skip the driver's own atexit teardown ordering. */
	fflush(NULL);
	_exit(0);
}
