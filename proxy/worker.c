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
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);   /* no orphaned workers if the supervisor dies */
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
	for (;;) {
		struct pollfd p[2] = { { a->ctrl_fd, POLLIN, 0 }, { w.wake_fd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			vgpu_err("poll: %s", strerror(errno));
			break;
		}
		if (p[0].revents) {
			struct vgpu_handoff h;
			int sock, memfd;
			rc = vgpu_handoff_recv(a->ctrl_fd, &h, &sock, &memfd, 1);
			if (rc == 0) {
				handoffs++;
				channel_open(&w, &h, sock, memfd);
			} else if (rc != -EAGAIN) {
				/* The supervisor is gone: nothing can join any more; finish what is open. */
				vgpu_warn("lost the supervisor (%s); the worker exits", strerror(-rc));
				_exit(0);
			}
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
			struct pollfd q = { a->ctrl_fd, POLLIN, 0 };
			if (poll(&q, 1, 0) > 0 && !(q.revents & (POLLHUP | POLLERR)))
				continue;
			break;
		}
	}
	shutdown(a->ctrl_fd, SHUT_RDWR);
	vgpu_info("last channel closed; freeing the zone");
	if (w.be_ok)
		zone_release(&w);
	vgpu_zone_destroy(&w.zone);
	close(w.wake_fd);
	/* Device state goes with the process; skip the driver's own atexit teardown ordering. */
	fflush(NULL);
	_exit(0);
}
