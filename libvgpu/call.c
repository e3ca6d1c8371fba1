/* SPDX-License-Identifier: MIT */
/* call.c — the one generic call path of libvgpu: encode, send, stream bulk, await and decode the reply. */
#include "client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuerr.h"
#include "custom_wire.h"
#include "library.h"
#include "session.h"
#include "trace.h"
#include "vgpu_client.h"
#include "vgpu_ops.h"

/* Mark the channel dead after a transport failure; later calls on it fail fast. */
static CUresult conn_fail(struct vgpu_conn *c, const char *what, int rc)
{
	if (!c->broken)
		vgpu_client_log(0, "lost the channel to vgpu-proxy while %s: %s%s%s", what, strerror(-rc),
				*vgpu_chan_strerror(c->chan) ? ": " : "", vgpu_chan_strerror(c->chan));
	c->broken = 1;
	return CUDA_ERROR_DEVICE_UNAVAILABLE;
}

/* Keep the local device-allocation map in step with successful allocations and frees. */
static void track_allocations(const struct vgpu_call_desc *d, void *const *argv)
{
	for (unsigned i = 0; i < d->nargs; i++) {
		const struct vgpu_arg_desc *a = &d->args[i];
		uint64_t len;

		if (a->kind == VGPU_ARG_OUT_DPTR && (a->flags & VGPU_ARGF_ALLOC)) {
			CUdeviceptr *p = *(CUdeviceptr **)argv[i];
			if (p && vgpu_arg_length(d, i, argv, &len) == 0)
				vgpu_dmap_add(*p, len);
		} else if (a->kind == VGPU_ARG_DPTR && (a->flags & VGPU_ARGF_FREES)) {
			vgpu_dmap_del(*(CUdeviceptr *)argv[i]);
		}
	}
}

/*
 * What the zone's kernels printed (device printf), after a reply said there is some: taken
 * in steps and written to this process's stdout, where the program's own printf goes (in
 * order with it), as the driver would have written it. A failure here loses only output.
 */
static void take_output(struct vgpu_conn *c)
{
	static __thread char *buf;
	uint32_t cap = VGPU_OUTPUT_STEP, len = 0;
	if (!buf && !(buf = malloc(VGPU_OUTPUT_STEP)))
		return;
	/* stdout (printf) then stderr (failed assertions), each until it is empty, at most the
	 * worker's whole buffer of each */
	for (uint32_t stream = 0; stream < 2; stream++) {
		for (unsigned steps = 0; steps < 64; steps++) {
			char *bp = buf;
			uint32_t *lp = &len;
			void *argv[VGPU_OW_NARGS] = { [VGPU_OW_BYTES] = &bp, [VGPU_OW_CAP] = &cap,
						      [VGPU_OW_STREAM] = &stream, [VGPU_OW_LEN] = &lp };
			len = 0;
			if (vgpu_call_on(c, &vgpu_wire_output, argv) != CUDA_SUCCESS || len > cap)
				return;
			if (!len)
				break;
			fwrite(buf, 1, len, stream ? stderr : stdout);
		}
		if (!c->output_more)
			return;
	}
}

static CUresult call_on(struct vgpu_conn *c, const struct vgpu_call_desc *d, void *const *argv,
			const struct vgpu_rows *rows);

/* call_on, its answer recorded by the zone's query cache */
static CUresult call_noted(struct vgpu_conn *c, const struct vgpu_call_desc *d, void *const *argv,
			   const struct vgpu_rows *rows)
{
	uint64_t g = vgpu_qcache_gen();
	CUresult res = call_on(c, d, argv, rows);
	vgpu_qcache_after(d, argv, res, g);
	return res;
}

CUresult vgpu_call_on(struct vgpu_conn *c, const struct vgpu_call_desc *d, void *const *argv)
{
	CUresult res;

	if (vgpu_qcache_lookup(d, argv, &res))
		return res;
	return call_noted(c, d, argv, NULL);
}

CUresult vgpu_client_call_rows(const struct vgpu_call_desc *d, void *const *argv, const struct vgpu_rows *rows)
{
	CUresult err;
	struct vgpu_conn *c = vgpu_conn_get(&err);

	return c ? call_noted(c, d, argv, rows) : err;
}

/* rows (a 2D/3D copy's host rows, vgpu_client_call_rows) or NULL */
static CUresult call_on(struct vgpu_conn *c, const struct vgpu_call_desc *d, void *const *argv,
			const struct vgpu_rows *rows)
{
	struct vgpu_bulk_list bulk;
	struct vgpu_msg_hdr h;
	uint16_t flags = (d->flags & VGPU_CALLF_ASYNC) ? VGPU_MSG_F_ASYNC : 0;
	CUresult res;
	int rc;

	/* A CUkernel stands for its function in the current context wherever a CUfunction goes. */
	for (unsigned i = 0; i < d->nargs; i++)
		if (d->args[i].kind == VGPU_ARG_HANDLE && d->args[i].htype == VGPU_H_FUNCTION &&
		    (res = vgpu_library_resolve((CUfunction *)argv[i])) != CUDA_SUCCESS)
			return res;
	if (__builtin_expect(__atomic_load_n(&vgpu_mglobal_active, __ATOMIC_RELAXED), 0))
		vgpu_mglobal_before(d);
	vgpu_wbuf_reset(&c->wbuf);
	rc = vgpu_encode_request(d, argv, &c->wbuf, &bulk);
	if (rc < 0) {
		vgpu_client_log(2, "%s: arguments cannot be sent (%s)", d->name, strerror(-rc));
		return rc == -ENOMEM ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_ERROR_INVALID_VALUE;
	}
	/* A synchronous copy: its answer comes after the bytes are moved, so the waits for it
	 * spin on through that time (vgpu_chan_expect). */
	struct vgpu_copy_shape shape;
	int sync = !(flags & VGPU_MSG_F_ASYNC);
	int out = sync && vgpu_copy_shape(d, 1, &shape) == 0;
	uint64_t expect = out || (sync && vgpu_copy_shape(d, 0, &shape) == 0) ? *(const uint64_t *)argv[shape.len] :
			  sync && d->opcode == VGPU_OP_PINNED_COPY ? *(const uint64_t *)argv[VGPU_PCW_BYTES] : 0;
	/* A device-to-host copy through the bulk area: its bytes come before its reply, read
	 * straight into the destination while the proxy's driver copies the next chunk. So do a
	 * 2D/3D copy's rows (memcpy.c: dense, in place or to be spread by the caller). */
	void *df_dst = out ? *(void **)argv[shape.buf] : NULL;
	uint64_t df_len = expect;
	if (d->args == vgpu_wire_copy_args && !*(const void *const *)argv[VGPU_CW_HOST_IN]) {
		out = 1;
		df_dst = *(void **)argv[VGPU_CW_HOST_OUT];
		expect = df_len = df_dst ? *(const uint64_t *)argv[VGPU_CW_HOST_OUT_BYTES] : 0;
	}
	int data_first = out && bulk.n == 0 && df_dst && df_len > VGPU_INLINE_MAX;
	if (data_first)
		flags |= VGPU_MSG_F_DATA_FIRST;
	rc = vgpu_chan_send(c->chan, d->opcode, flags, ++c->seq, c->wbuf.data, (uint32_t)c->wbuf.len);
	if (rc < 0)
		return conn_fail(c, "sending a request", rc);
	if (__builtin_expect(vgpu_trace_enabled, 0))
		vgpu_trace_msg(c, d->opcode, flags, c->seq, c->wbuf.data, (uint32_t)c->wbuf.len);
	if (expect)
		vgpu_chan_expect(c->chan, expect);
	for (unsigned i = 0; i < bulk.n; i++) {
		if (!bulk.seg[i].in)
			continue;
		/* The proxy is waiting for these bytes: make sure it has seen the message first. */
		vgpu_chan_flush(c->chan);
		rc = rows && !rows->out ? vgpu_chan_bulk_write_cb(c->chan, bulk.seg[i].len, vgpu_rows_piece, (void *)rows)
					: vgpu_pcopy_write(c->chan, bulk.seg[i].ptr, bulk.seg[i].len);
		if (rc < 0)
			return conn_fail(c, "streaming call data", rc);
		if (__builtin_expect(vgpu_trace_enabled, 0))
			vgpu_trace_bulk(c, d->opcode, c->seq, bulk.seg[i].ptr, bulk.seg[i].len);
	}
	if (flags & VGPU_MSG_F_ASYNC) {
		/*
		 * Posted. The proxy must start on it now (the application may compute for a long
		 * time before its next CUDA call), but a busy proxy is not signalled per message:
		 * flush wakes it only when it said it is going to sleep (notify suppression).
		 */
		rc = vgpu_chan_flush(c->chan);
		return rc < 0 ? conn_fail(c, "posting a request", rc) : CUDA_SUCCESS;
	}

	if (data_first) {
		vgpu_chan_flush(c->chan);
		rc = rows && rows->out ? vgpu_chan_bulk_read_cb(c->chan, df_len, vgpu_rows_piece, (void *)rows)
				       : vgpu_pcopy_read(c->chan, df_dst, df_len);
		if (rc < 0)
			return conn_fail(c, "receiving call data", rc);
	}
	for (;;) {
		rc = vgpu_chan_recv(c->chan, &h, c->rbuf, VGPU_CLIENT_MAX_MSG);
		if (rc < 0)
			return conn_fail(c, "waiting for a reply", rc);
		if ((h.flags & VGPU_MSG_F_REPLY) && h.seq == c->seq && h.opcode == d->opcode)
			break;
		/* Only replies to our own synchronous requests ever arrive; anything else is a broken peer. */
		vgpu_client_log(0, "%s: unexpected message from vgpu-proxy (opcode 0x%x seq %u, expected seq %u)",
				d->name, h.opcode, h.seq, c->seq);
		c->broken = 1;
		return CUDA_ERROR_DEVICE_UNAVAILABLE;
	}
	if (__builtin_expect(vgpu_trace_enabled, 0))
		vgpu_trace_reply(c, d->opcode, c->seq, c->rbuf, (uint32_t)rc);
	if (vgpu_decode_reply(d, argv, c->rbuf, (uint32_t)rc, &res, &bulk) < 0) {
		vgpu_client_log(0, "%s: malformed reply from vgpu-proxy (%d bytes)", d->name, rc);
		c->broken = 1;
		return CUDA_ERROR_DEVICE_UNAVAILABLE;
	}
	for (unsigned i = 0; i < bulk.n && !data_first; i++) {
		if (!bulk.seg[i].out)
			continue;
		rc = vgpu_pcopy_read(c->chan, bulk.seg[i].ptr, bulk.seg[i].len);
		if (rc < 0)
			return conn_fail(c, "receiving call data", rc);
	}
	if (res == CUDA_SUCCESS) {
		track_allocations(d, argv);
		vgpu_modules_after_call(d, argv);
	}
	vgpu_cudart_after_call(d, argv, res);
	if (__builtin_expect(__atomic_load_n(&vgpu_mglobal_active, __ATOMIC_RELAXED), 0))
		vgpu_mglobal_after(d, res);
	c->output_more = (h.flags & VGPU_MSG_F_OUTPUT) != 0;
	if (c->output_more && d != &vgpu_wire_output)
		take_output(c);
	return res;
}

/*
 * cuDriverGetVersion is valid before cuInit (cudart asks first, to decide whether the driver
 * is new enough), so libvgpu answers it itself, always the same: the CUDA version of the
 * driver API it implements. The proxy refuses a backend older than that, so the answer
 * holds whatever driver serves the zone. (The call keeps its opcode: the proxy still serves
 * it, as the cheapest round trip for tests and benchmarks that speak the wire directly.)
 */
static CUresult driver_version(void *const *argv)
{
	int *v = *(int **)argv[0];

	if (!v)
		return CUDA_ERROR_INVALID_VALUE;
	*v = CUDA_VERSION;
	return CUDA_SUCCESS;
}

CUresult vgpu_pinned_call(const struct vgpu_call_desc *d, void *const *argv, int fd)
{
	CUresult err;
	struct vgpu_conn *c = vgpu_conn_get(&err);
	int rc;

	if (!c)
		return err;
	/* the region's memfd travels beside the ring, just before the message that names it */
	if (fd >= 0 && (rc = vgpu_chan_send_fd(c->chan, fd)) < 0)
		return rc == -EOPNOTSUPP ? CUDA_ERROR_NOT_SUPPORTED : conn_fail(c, "passing a region", rc);
	return vgpu_call_on(c, d, argv);
}

/*
 * A copy between device memory and pinned memory shared with the worker (hostmem.c) goes as
 * VGPU_OP_PINNED_COPY: the worker copies on its own mapping, no byte crosses the ring. Other
 * copies take the generic path. Returns -1 when the call is not such a copy.
 */
static int pinned_copy(const struct vgpu_call_desc *d, void *const *argv, CUresult *res /* out */)
{
	/* The copies that may name pinned memory: direction and form of each. (The generated
	 * DtoHAsync is not a posted call, its bytes come back in the reply; as a pinned copy it is.) */
	static const struct { uint16_t op; uint8_t dir, flags; } copies[] = {
		{ VGPU_OP_cuMemcpyHtoD_v2, VGPU_PINNED_HTOD, 0 },
		{ VGPU_OP_cuMemcpyHtoD_v2_ptds, VGPU_PINNED_HTOD, VGPU_PINNED_F_PTDS },
		{ VGPU_OP_cuMemcpyHtoDAsync_v2, VGPU_PINNED_HTOD, VGPU_PINNED_F_ASYNC },
		{ VGPU_OP_cuMemcpyHtoDAsync_v2_ptsz, VGPU_PINNED_HTOD, VGPU_PINNED_F_ASYNC | VGPU_PINNED_F_PTDS },
		{ VGPU_OP_cuMemcpyDtoH_v2, VGPU_PINNED_DTOH, 0 },
		{ VGPU_OP_cuMemcpyDtoH_v2_ptds, VGPU_PINNED_DTOH, VGPU_PINNED_F_PTDS },
		{ VGPU_OP_cuMemcpyDtoHAsync_v2, VGPU_PINNED_DTOH, VGPU_PINNED_F_ASYNC },
		{ VGPU_OP_cuMemcpyDtoHAsync_v2_ptsz, VGPU_PINNED_DTOH, VGPU_PINNED_F_ASYNC | VGPU_PINNED_F_PTDS },
	};
	unsigned k = 0;

	while (k < sizeof(copies) / sizeof(copies[0]) && copies[k].op != d->opcode)
		k++;
	if (k == sizeof(copies) / sizeof(copies[0]))
		return -1;
	uint32_t dir = copies[k].dir, flags = copies[k].flags;
	/* HtoD (dst device, src host, n[, stream]); DtoH (dst host, src device, n[, stream]) */
	int htod = dir == VGPU_PINNED_HTOD;
	const void *host = *(const void *const *)argv[htod ? 1 : 0];
	uint64_t dptr = *(const CUdeviceptr *)argv[htod ? 0 : 1], bytes = *(const size_t *)argv[2], id, off;
	CUstream stream = (flags & VGPU_PINNED_F_ASYNC) ? *(const CUstream *)argv[3] : NULL;

	if (!bytes || !host || vgpu_hostmem_pinned(host, bytes, &id, &off) < 0)
		return -1;
	void *av[VGPU_PCW_NARGS] = {
		[VGPU_PCW_ID] = &id, [VGPU_PCW_DIR] = &dir, [VGPU_PCW_FLAGS] = &flags, [VGPU_PCW_OFFSET] = &off,
		[VGPU_PCW_BYTES] = &bytes, [VGPU_PCW_DPTR] = &dptr, [VGPU_PCW_STREAM] = &stream,
	};
	/* posted like the async call it stands for; the synchronous form waits for the answer */
	*res = vgpu_pinned_call((flags & VGPU_PINNED_F_ASYNC) ? &vgpu_wire_pinned_copy_async : &vgpu_wire_pinned_copy,
				av, -1);
	return 0;
}

/*
 * Graph launches are posted, as kernel launches are, unless the program may have made graph
 * memory: the driver refuses a launch of a graph whose memory nodes' allocations from its last
 * launch are still live, and the program must hear that at the call. Memory nodes only come
 * from stream-ordered allocations made while a capture is under way (a captured
 * cuMemAllocAsync, or the one cuGraphAddMemAllocNode captures, graphmem.c): once one is seen,
 * every later graph launch of the process waits for its answer. So does the launch of an
 * executable graph this process did not instantiate, or has destroyed since (or whose
 * context may have gone): its refusal too comes at the call, as the driver gives it.
 */
static int captures_open;   /* begun and not yet ended, any thread */
static int graph_memory;    /* a stream-ordered allocation was asked for during a capture */
static struct {
	pthread_mutex_t lock;
	uint64_t *v;            /* executable graphs instantiated here and live, sorted */
	size_t n, cap;
} execs = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Under execs.lock: the index of the first entry >= h. */
static size_t exec_at(uint64_t h)
{
	size_t lo = 0, hi = execs.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (execs.v[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int exec_known(uint64_t h)
{
	pthread_mutex_lock(&execs.lock);
	size_t i = exec_at(h);
	int known = i < execs.n && execs.v[i] == h;
	pthread_mutex_unlock(&execs.lock);
	return known;
}

static void exec_forget_all(void)
{
	pthread_mutex_lock(&execs.lock);
	execs.n = 0;
	pthread_mutex_unlock(&execs.lock);
}

/* add (made) or forget (destroyed) h */
static void exec_note(uint64_t h, int add)
{
	pthread_mutex_lock(&execs.lock);
	size_t i = exec_at(h);
	int here = i < execs.n && execs.v[i] == h;
	if (!add && here) {
		memmove(&execs.v[i], &execs.v[i + 1], (execs.n - i - 1) * sizeof(*execs.v));
		execs.n--;
	} else if (add && !here) {
		if (execs.n == execs.cap) {
			size_t cap = execs.cap ? execs.cap * 2 : 16;
			uint64_t *v = realloc(execs.v, cap * sizeof(*v));
			if (!v) {   /* unknown then: its launches wait for their answer */
				pthread_mutex_unlock(&execs.lock);
				return;
			}
			execs.v = v;
			execs.cap = cap;
		}
		memmove(&execs.v[i + 1], &execs.v[i], (execs.n - i) * sizeof(*execs.v));
		execs.v[i] = h;
		execs.n++;
	}
	pthread_mutex_unlock(&execs.lock);
}

static struct vgpu_call_desc launch_posted[2];
static pthread_once_t launch_posted_once = PTHREAD_ONCE_INIT;

static void launch_posted_init(void)
{
	launch_posted[0] = vgpu_call_cuGraphLaunch;
	launch_posted[1] = vgpu_call_cuGraphLaunch_ptsz;
	launch_posted[0].flags |= VGPU_CALLF_ASYNC;
	launch_posted[1].flags |= VGPU_CALLF_ASYNC;
}

int vgpu_client_captures_open(void)
{
	return __atomic_load_n(&captures_open, __ATOMIC_ACQUIRE) > 0;
}

/* What d is sent as (a graph launch may be posted); notes captures and allocations in them. */
static const struct vgpu_call_desc *graph_watch(const struct vgpu_call_desc *d, void *const *argv)
{
	switch (d->opcode) {
	case VGPU_OP_cuGraphLaunch:
	case VGPU_OP_cuGraphLaunch_ptsz:
		if (__atomic_load_n(&graph_memory, __ATOMIC_ACQUIRE) ||
		    !exec_known((uint64_t)(uintptr_t)*(const CUgraphExec *)argv[0]))
			return d;
		pthread_once(&launch_posted_once, launch_posted_init);
		return &launch_posted[d->opcode == VGPU_OP_cuGraphLaunch_ptsz];
	case VGPU_OP_cuMemAllocAsync:
	case VGPU_OP_cuMemAllocAsync_ptsz:
	case VGPU_OP_cuMemAllocFromPoolAsync:
	case VGPU_OP_cuMemAllocFromPoolAsync_ptsz:
		if (__atomic_load_n(&captures_open, __ATOMIC_ACQUIRE) > 0)
			__atomic_store_n(&graph_memory, 1, __ATOMIC_RELEASE);
		return d;
	default:
		return d;
	}
}

/* After a call: captures begun and ended, executable graphs made and gone. */
static void graph_after(uint16_t op, void *const *argv, CUresult res)
{
	int n;
	switch (op) {
	case VGPU_OP_cuGraphInstantiateWithFlags: {   /* every instantiation comes here (composite.c, legacy.c) */
		CUgraphExec *pe = *(CUgraphExec *const *)argv[0];
		if (res == CUDA_SUCCESS && pe && *pe)
			exec_note((uint64_t)(uintptr_t)*pe, 1);
		break;
	}
	case VGPU_OP_cuGraphExecDestroy:
		exec_note((uint64_t)(uintptr_t)*(const CUgraphExec *)argv[0], 0);
		break;
	case VGPU_OP_cuCtxDestroy:
	case VGPU_OP_cuCtxDestroy_v2:
	case VGPU_OP_cuDevicePrimaryCtxReset:
	case VGPU_OP_cuDevicePrimaryCtxReset_v2:
	case VGPU_OP_cuDevicePrimaryCtxRelease:
	case VGPU_OP_cuDevicePrimaryCtxRelease_v2:
		exec_forget_all();   /* its graphs may have gone with a context: none is known any more */
		break;
	case VGPU_OP_cuStreamBeginCapture_v2:
	case VGPU_OP_cuStreamBeginCapture_v2_ptsz:
	case VGPU_OP_cuStreamBeginCaptureToGraph:
	case VGPU_OP_cuStreamBeginCaptureToGraph_ptsz:
		if (res == CUDA_SUCCESS)
			__atomic_add_fetch(&captures_open, 1, __ATOMIC_ACQ_REL);
		break;
	case VGPU_OP_cuStreamEndCapture:
	case VGPU_OP_cuStreamEndCapture_ptsz:
		/* a capture ends when its end succeeds or finds it invalidated; other errors (not the
		 * capturing stream, the wrong thread, no place for the graph) leave it under way, and
		 * one that might have ended it is counted as open still: a count too high costs round
		 * trips only, one too low would answer a capturing stream as not capturing (qcache.c).
		 * (One that failed to begin never counted: a stray end leaves the count at 0.) */
		if (res != CUDA_SUCCESS && res != CUDA_ERROR_STREAM_CAPTURE_INVALIDATED)
			break;
		n = __atomic_load_n(&captures_open, __ATOMIC_ACQUIRE);
		while (n > 0 && !__atomic_compare_exchange_n(&captures_open, &n, n - 1, 0, __ATOMIC_ACQ_REL,
							      __ATOMIC_ACQUIRE))
			;
		break;
	default:
		break;
	}
}

CUresult vgpu_client_call(const struct vgpu_call_desc *d, void *const *argv)
{
	CUresult err;
	struct vgpu_conn *c;

	if (d->opcode == VGPU_OP_cuDriverGetVersion)
		return driver_version(argv);
	if (pinned_copy(d, argv, &err) == 0 || vgpu_gcopy_call(d, argv, &err))
		return err;
	if (d == &vgpu_call_cuMemFree_v2 && vgpu_hostmem_free_managed(*(const CUdeviceptr *)argv[0]) == 0)
		return CUDA_SUCCESS;   /* managed memory is a region shared with the worker (hostmem.c) */

	/* cuInit is where the zone comes into being: connect first, then forward the call
	 * (unless CUDA_VISIBLE_DEVICES hides every device: then there is no zone to make) */
	if (d->opcode == VGPU_OP_cuInit && vgpu_devices_none())
		return CUDA_ERROR_NO_DEVICE;
	if (d->opcode == VGPU_OP_cuInit && (err = vgpu_zone_open()) != CUDA_SUCCESS)
		return err;
	c = vgpu_conn_get(&err);
	if (!c)
		return err;
	err = vgpu_call_on(c, graph_watch(d, argv), argv);
	graph_after(d->opcode, argv, err);
	return err;
}

CUresult vgpu_client_unsupported(const char *name)
{
	/* One line per function name, not per call: a tight loop must not flood stderr. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static const char *logged[64];
	static unsigned nlogged;
	int seen = 0;

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nlogged && !seen; i++)
		seen = logged[i] == name;
	if (!seen && nlogged < sizeof(logged) / sizeof(logged[0]))
		logged[nlogged++] = name;
	pthread_mutex_unlock(&lock);
	if (!seen)
		vgpu_client_log(1, "%s is not supported by vgpu; returning CUDA_ERROR_NOT_SUPPORTED", name);
	return CUDA_ERROR_NOT_SUPPORTED;
}
