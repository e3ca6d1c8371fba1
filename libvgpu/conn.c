/* SPDX-License-Identifier: MIT */
/* conn.c — libvgpu's connection to vgpu-proxy: the zone (opened by cuInit) and one channel per thread. */
#include "client.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "session.h"
#include "visible.h"
#include "xenbus.h"

/*
 * Process-wide zone state. The token identifies this process's zone to the proxy; every
 * thread's channel JOINs it. generation changes in a forked child, so channels inherited
 * from the parent are never used by the child (they belong to the parent's zone).
 */
static struct {
	pthread_mutex_t lock;
	int initialized;          /* cuInit succeeded in this generation */
	uint8_t token[16];
	uint32_t zone_id;
	uint32_t backend;
	uint64_t generation;
	pid_t pid;
	int log_level;
	CUresult refused;         /* the last cuInit's refusal by the proxy (its welcome status), 0 if none */
	uint32_t ndev_all;        /* the proxy's devices before the zone's list (0: not said) */
	char devices[108];        /* the zone's devices as the proxy's ordinals ("": all) */
} zone = { .lock = PTHREAD_MUTEX_INITIALIZER, .log_level = -1 };

static pthread_key_t conn_key;
static pthread_once_t conn_key_once = PTHREAD_ONCE_INIT;
static __thread struct vgpu_conn *tls_conn;

void vgpu_client_log(int level, const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	if (zone.log_level < 0) {
		const char *e = getenv("VGPU_LOG");
		zone.log_level = e ? atoi(e) : 1;
	}
	if (level > zone.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vgpu: %s\n", buf);
}

/* VGPU_TRANSPORT=xen: this process runs in a Xen guest and reaches the proxy through
 * grant tables + event channels (bootstrapped through xenstore); default shm. */
static int use_xen(void)
{
	const char *t = getenv("VGPU_TRANSPORT");
	return t && !strcmp(t, "xen");
}

/*
 * The registration token this process's zone is opened with: VGPU_ZONE_TOKEN (32 hex
 * digits), else the first line of the file VGPU_ZONE_TOKEN_FILE, else (Xen guests) the key
 * vgpu/token Dom0 wrote under the guest's xenstore home, else none (all zero; the proxy
 * accepts that unless it runs with --require-registration). -EINVAL when set but bad.
 */
static int zone_token_load(uint8_t tok[16])
{
	char buf[80];
	const char *src = getenv("VGPU_ZONE_TOKEN"), *what = "VGPU_ZONE_TOKEN";
	const char *file = getenv("VGPU_ZONE_TOKEN_FILE");

	memset(tok, 0, 16);
	if ((!src || !*src) && file && *file) {
		FILE *f = fopen(file, "re");
		if (!f) {
			vgpu_client_log(0, "VGPU_ZONE_TOKEN_FILE=%s: %s", file, strerror(errno));
			return -EINVAL;
		}
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		buf[strcspn(buf, "\r\n")] = '\0';
		src = buf;
		what = "VGPU_ZONE_TOKEN_FILE";
	}
	if ((!src || !*src) && use_xen()) {
		/* A Xen guest: the token Dom0 left in xenstore for this domain, if any. */
		int rc = vgpu_xs_zone_token(buf, sizeof(buf));
		if (rc == 0) {
			src = buf;
			what = "xenstore " VGPU_XS_TOKEN_KEY;
		} else if (rc != -ENOENT) {
			vgpu_client_log(1, "cannot read %s from xenstore: %s; opening the zone without a token",
					VGPU_XS_TOKEN_KEY, strerror(-rc));
		}
	}
	if (!src || !*src)
		return 0;
	if (vgpu_token_parse(src, 1, tok) < 0) {
		vgpu_client_log(0, "%s: expected 32 hexadecimal digits (a zone token from vgpuctl register)", what);
		explicit_bzero(buf, sizeof(buf));
		return -EINVAL;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* Where the zone went when it was migrated to another proxy ("" if it was not): its new
 * channels are opened there (the old proxy's welcome said so). */
static pthread_mutex_t moved_lock = PTHREAD_MUTEX_INITIALIZER;
static char moved_path[108];

/* The proxy socket a channel of kind opens on, copied into buf. */
static const char *proxy_path(uint16_t kind, char *buf, size_t cap)
{
	const char *p = getenv("VGPU_PROXY");
	snprintf(buf, cap, "%s", (p && *p) ? p : VGPU_DEFAULT_SOCKET);
	if (kind == VGPU_HELLO_JOIN) {
		pthread_mutex_lock(&moved_lock);
		if (moved_path[0])
			snprintf(buf, cap, "%s", moved_path);
		pthread_mutex_unlock(&moved_lock);
	}
	return buf;
}

static void conn_free(struct vgpu_conn *c)
{
	if (!c)
		return;
	if (c->chan && !c->broken && c->generation == zone.generation) {
		/* Orderly goodbye; the proxy also copes with the channel just vanishing. */
		vgpu_chan_send(c->chan, VGPU_OP_BYE, VGPU_MSG_F_ASYNC, ++c->seq, NULL, 0);
		vgpu_chan_flush(c->chan);
	}
	vgpu_chan_close(c->chan);
	vgpu_wbuf_free(&c->wbuf);
	free(c->rbuf);
	free(c);
}

static void conn_key_destroy(void *p)
{
	conn_free(p);
}

static void conn_key_make(void)
{
	pthread_key_create(&conn_key, conn_key_destroy);
}

/* In the child of fork(): forget the parent's zone; cuInit in the child opens a new one. */
static void atfork_child(void)
{
	pthread_mutex_init(&zone.lock, NULL);
	zone.initialized = 0;
	zone.generation++;
	pthread_mutex_init(&moved_lock, NULL);
	moved_path[0] = '\0';   /* the child's zone will be a new one, where VGPU_PROXY says */
	zone.pid = getpid();
	vgpu_qcache_reset();
	/*
	 * The inherited channel belongs to the parent's zone: release this process's mapping
	 * without telling the proxy (the parent keeps using it). Other threads' channels did
	 * not survive fork() as threads; their memory is reclaimed with the process.
	 */
	if (tls_conn) {
		struct vgpu_conn *c = tls_conn;
		vgpu_chan_forget(c->chan);
		c->chan = NULL;
		tls_conn = NULL;
		pthread_setspecific(conn_key, NULL); /* installed with tls_conn, so the key exists */
		c->broken = 1; /* no BYE: the channel is the parent's */
		conn_free(c);
	}
}

__attribute__((constructor)) static void client_ctor(void)
{
	pthread_atfork(NULL, NULL, atfork_child);
	zone.pid = getpid();
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long a channel whose server vanished with the zone saved waits for the zone's restore
 * (VGPU_REJOIN_MS; default 5 minutes, 0: never). */
static int rejoin_wait_ms(void)
{
	const char *e = getenv("VGPU_REJOIN_MS");
	return e && *e ? atoi(e) : 300000;
}

/*
 * The bulk area per direction a new channel asks for: VGPU_BULK_KIB (a power of two from 64
 * to 65536), else VGPU_CLIENT_BULK_BYTES. A bad value is said once and the default used: a
 * tuning knob should not stop the program.
 */
static uint32_t bulk_bytes(void)
{
	static int warned;
	const char *e = getenv("VGPU_BULK_KIB");
	char *end;

	if (!e || !*e)
		return VGPU_CLIENT_BULK_BYTES;
	errno = 0;
	unsigned long k = strtoul(e, &end, 10);
	if (errno || *end || k < 64 || k > 65536 || (k & (k - 1))) {
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			vgpu_client_log(0, "VGPU_BULK_KIB=%s: expected a power of two from 64 to 65536 (KiB); using %u",
					e, VGPU_CLIENT_BULK_BYTES >> 10);
		return VGPU_CLIENT_BULK_BYTES;
	}
	return (uint32_t)k << 10;
}

/*
 * One attempt to offer this thread's ring to a restore of the zone at path: the REJOIN
 * hello with the ring's memfd, every pinned region's memfd, then the proxy's answer on the
 * socket. 0: served again (the socket is the channel's now); VGPU_REJOIN_LATER: not there
 * (yet); else refused for good (why says so).
 */
static int rejoin_once(struct vgpu_chan *ch, const char *path, char *why, size_t cap)
{
	struct vgpu_hello hello = { .magic = VGPU_HELLO_MAGIC, .version = VGPU_PROTO_VERSION,
				    .kind = VGPU_HELLO_REJOIN, .pid = (uint32_t)getpid() };
	struct vgpu_rejoin_answer a;
	struct timeval tv = { 30, 0 };
	int sock, rc;
	unsigned nfds = 0;
	int fd;

	memcpy(hello.token, zone.token, sizeof(hello.token));
	snprintf(hello.name, sizeof(hello.name), "%s", program_invocation_short_name);
	rc = vgpu_shm_redial(ch, path, &hello, sizeof(hello), &sock);
	explicit_bzero(hello.token, sizeof(hello.token));
	if (rc < 0) {
		snprintf(why, cap, "%s", vgpu_chan_setup_error());
		return rc == -ENOTSUP ? rc : VGPU_REJOIN_LATER;
	}
	if ((rc = vgpu_hostmem_offer(sock)) < 0) {
		snprintf(why, cap, "sending the pinned regions failed: %s", strerror(-rc));
		close(sock);
		return VGPU_REJOIN_LATER;
	}
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = vgpu_fds_recv(sock, &a, sizeof(a), &fd, 1, &nfds, 0);
	vgpu_fds_close_kept(&fd, nfds, 1);
	if (n != (ssize_t)sizeof(a) || a.magic != VGPU_REJOIN_ANSWER_MAGIC) {
		snprintf(why, cap, "the proxy closed the connection without an answer");
		close(sock);
		return VGPU_REJOIN_LATER;
	}
	a.msg[sizeof(a.msg) - 1] = '\0';
	snprintf(why, cap, "%s", a.msg);
	if (a.status != 0) {
		close(sock);
		return a.status == VGPU_REJOIN_LATER ? VGPU_REJOIN_LATER : (a.status < 0 ? a.status : -EPROTO);
	}
	vgpu_shm_resocket(ch, sock);
	return 0;
}

/* The same for a Xen guest's channel: its grants and port published again in xenstore. */
static int rejoin_xen(struct vgpu_chan *ch, char *why, size_t cap)
{
	struct vgpu_hello hello = { .magic = VGPU_HELLO_MAGIC, .version = VGPU_PROTO_VERSION,
				    .kind = VGPU_HELLO_REJOIN, .pid = (uint32_t)getpid() };
	memcpy(hello.token, zone.token, sizeof(hello.token));
	snprintf(hello.name, sizeof(hello.name), "%s", program_invocation_short_name);
	int rc = vgpu_xs_rejoin(ch, &hello, 5000);
	explicit_bzero(hello.token, sizeof(hello.token));
	snprintf(why, cap, "%s", rc == 0 ? "Dom0 attached it" : vgpu_chan_setup_error());
	return rc == -ETIMEDOUT ? VGPU_REJOIN_LATER : rc;
}

/*
 * The channel's server vanished while the zone was saved in a checkpoint (chan.c calls this
 * from inside the wait): offer the ring to the zone's restore, where new channels of the
 * zone open, until it answers or VGPU_REJOIN_MS passes. 0: the wait goes on, served again.
 */
static int rejoin(struct vgpu_chan *ch, void *arg)
{
	char path[sizeof(moved_path) + 8], why[160] = "";
	int wait_ms = rejoin_wait_ms();
	int64_t deadline = mono_ms() + (wait_ms > 0 ? wait_ms : 0);
	(void)arg;

	if (wait_ms <= 0)
		return -1;
	if (use_xen())
		snprintf(path, sizeof(path), "Dom0 (Xen transport)");
	else
		proxy_path(VGPU_HELLO_JOIN, path, sizeof(path));
	vgpu_client_log(1, "zone %u: its worker is gone with the zone saved in a checkpoint; waiting up to %d s "
			"for the zone to be restored at %s (VGPU_REJOIN_MS)", zone.zone_id, wait_ms / 1000, path);
	for (unsigned tries = 1;; tries++) {
		int rc = use_xen() ? rejoin_xen(ch, why, sizeof(why)) : rejoin_once(ch, path, why, sizeof(why));
		if (rc == 0) {
			vgpu_qcache_reset();   /* possibly another node's device */
			vgpu_client_log(1, "zone %u: channel served again by the restored zone at %s (%s)", zone.zone_id,
					path, why);
			return 0;
		}
		if (rc != VGPU_REJOIN_LATER) {
			vgpu_client_log(0, "zone %u: the restored zone at %s refused this channel: %s", zone.zone_id, path, why);
			return -1;
		}
		if (mono_ms() >= deadline) {
			vgpu_client_log(0, "zone %u: not restored within %d ms (%u tries; last: %s); the channel fails",
					zone.zone_id, wait_ms, tries, why);
			return -1;
		}
		struct timespec nap = { 0, 100 * 1000000L };
		nanosleep(&nap, NULL);
	}
}

/*
 * Open a channel to the proxy. kind = NEW_ZONE (cuInit) or JOIN (later threads). On success
 * the welcome has been received and, for NEW_ZONE, the zone's token recorded.
 */
static int conn_open_hop(uint16_t kind, struct vgpu_conn **out /* out */, unsigned hops)
{
	struct vgpu_hello_ext hv;
	struct vgpu_hello hello;
	struct vgpu_welcome w;
	struct vgpu_msg_hdr h;
	struct vgpu_conn *c;
	struct vgpu_chan_geom g = { VGPU_CLIENT_RING_BYTES, bulk_bytes() };
	char pathbuf[sizeof(moved_path) + 8];
	const char *path = proxy_path(kind, pathbuf, sizeof(pathbuf));
	const char *name;
	int rc;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->rbuf = malloc(VGPU_CLIENT_MAX_MSG);
	if (!c->rbuf) {
		rc = -ENOMEM;
		goto fail;
	}

	memset(&hello, 0, sizeof(hello));
	hello.magic = VGPU_HELLO_MAGIC;
	hello.version = VGPU_PROTO_VERSION;
	hello.kind = kind;
	hello.pid = (uint32_t)getpid();
	if (kind == VGPU_HELLO_JOIN) {
		memcpy(hello.token, zone.token, sizeof(hello.token));
	} else if ((rc = zone_token_load(hello.token)) < 0) {
		zone.refused = CUDA_ERROR_NOT_PERMITTED;
		goto fail;
	}
	name = getenv("VGPU_ZONE_NAME");
	snprintf(hello.name, sizeof(hello.name), "%s", name && *name ? name : program_invocation_short_name);
	/* The process's CUDA_VISIBLE_DEVICES: the zone's driver starts with it (devices.c). */
	const char *visible = NULL;
	if (kind == VGPU_HELLO_NEW_ZONE && (rc = vgpu_devices_list(&visible)) < 0) {
		zone.refused = CUDA_ERROR_INVALID_VALUE;
		goto fail;
	}
	memset(&hv, 0, sizeof(hv));
	if (visible) {
		hello.flags |= VGPU_HELLO_F_VISIBLE;
		snprintf(hv.visible, sizeof(hv.visible), "%s", visible);
	}
	if (kind == VGPU_HELLO_NEW_ZONE && vgpu_devices_env(hv.env))
		hello.flags |= VGPU_HELLO_F_DRIVER_ENV;
	hv.hello = hello;

	int xen = use_xen();
	if (xen) {
		/* In a Xen guest: the channel is granted to Dom0 and published in xenstore. */
		const char *t = getenv("VGPU_XEN_TIMEOUT_MS");
		path = "Dom0 (Xen transport)";
		rc = vgpu_xs_connect(&hello, visible, hv.env[0] ? hv.env : NULL, &g, t && atoi(t) > 0 ? atoi(t) : 30000,
				     &c->chan);
	} else {
		rc = vgpu_shm_connect(path, &hv, hello.flags ? sizeof(hv) : sizeof(hello), &g, &c->chan);
	}
	explicit_bzero(hello.token, sizeof(hello.token));
	explicit_bzero(hv.hello.token, sizeof(hv.hello.token));
	if (rc < 0 && xen) {
		vgpu_client_log(0, "cannot open a channel to vgpu-proxy in Dom0: %s (%s)", strerror(-rc),
				vgpu_chan_setup_error());
		if (rc == -EACCES && kind == VGPU_HELLO_NEW_ZONE)
			zone.refused = CUDA_ERROR_NOT_PERMITTED;
		goto fail;
	}
	if (rc < 0) {
		vgpu_client_log(0, "cannot reach vgpu-proxy at %s: %s (%s); start vgpu-proxy or set VGPU_PROXY=/path/to/proxy.sock",
				path, strerror(-rc), vgpu_chan_setup_error());
		goto fail;
	}
	rc = vgpu_chan_recv(c->chan, &h, &w, sizeof(w));
	if (rc < 0) {
		vgpu_client_log(0, "vgpu-proxy at %s closed the channel before welcoming it (%s): %s",
				path, strerror(-rc), vgpu_chan_strerror(c->chan));
		goto fail;
	}
	if (h.opcode != VGPU_OP_WELCOME || rc != (int)sizeof(w)) {
		vgpu_client_log(0, "vgpu-proxy at %s sent opcode 0x%x (%d bytes) instead of a welcome; version mismatch?",
				path, h.opcode, rc);
		rc = -EPROTO;
		goto fail;
	}
	if (w.status == VGPU_STATUS_MOVED && kind == VGPU_HELLO_JOIN && hops < 4 && !xen) {
		/* The zone was migrated to another proxy while this process ran: JOIN it there. */
		w.moved_to[sizeof(w.moved_to) - 1] = '\0';
		vgpu_client_log(2, "zone %u moved from %s to %s; opening the channel there", zone.zone_id, path,
				w.moved_to);
		pthread_mutex_lock(&moved_lock);
		memcpy(moved_path, w.moved_to, sizeof(moved_path));
		pthread_mutex_unlock(&moved_lock);
		conn_free(c);
		return conn_open_hop(kind, out, hops + 1);
	}
	if (w.status != 0) {
		if (w.status == CUDA_ERROR_NOT_PERMITTED)
			vgpu_client_log(0, "vgpu-proxy at %s refused this zone: no valid registration token "
					"(VGPU_ZONE_TOKEN / VGPU_ZONE_TOKEN_FILE; the proxy requires one, or it was unregistered)",
					path);
		else
			vgpu_client_log(0, "vgpu-proxy at %s refused the channel (CUresult %u)", path, w.status);
		if (kind == VGPU_HELLO_NEW_ZONE)
			zone.refused = (CUresult)w.status;
		rc = -EACCES;
		goto fail;
	}
	if (kind == VGPU_HELLO_NEW_ZONE) {
		memcpy(zone.token, w.token, sizeof(zone.token));
		zone.zone_id = w.zone_id;
		zone.backend = w.backend;
		zone.ndev_all = w.ndev;
		w.moved_to[sizeof(w.moved_to) - 1] = '\0';
		memcpy(zone.devices, w.moved_to, sizeof(zone.devices));
		vgpu_client_log(2, "connected to %s as zone %u (backend: %s)", path, w.zone_id,
				w.backend == 2 ? "simulator, a CPU test double" : "GPU driver");
	}
	c->generation = zone.generation;
	vgpu_chan_set_rejoin(c->chan, rejoin, NULL);
	*out = c;
	return 0;
fail:
	conn_free(c);
	return rc;
}

static int conn_open(uint16_t kind, struct vgpu_conn **out /* out */)
{
	return conn_open_hop(kind, out, 0);
}

static void conn_install(struct vgpu_conn *c)
{
	pthread_once(&conn_key_once, conn_key_make);
	pthread_setspecific(conn_key, c);
	tls_conn = c;
}

/* cuInit's connection step: the first call opens the zone; later calls are no-ops. */
CUresult vgpu_zone_open(void)
{
	struct vgpu_conn *c;
	CUresult r = CUDA_SUCCESS;

	pthread_mutex_lock(&zone.lock);
	if (!zone.initialized) {
		zone.refused = CUDA_SUCCESS;
		if (conn_open(VGPU_HELLO_NEW_ZONE, &c) < 0) {
			r = zone.refused ? zone.refused : CUDA_ERROR_NO_DEVICE;
		} else {
			if (tls_conn)
				conn_free(tls_conn);
			conn_install(c);
			zone.initialized = 1;
		}
	}
	pthread_mutex_unlock(&zone.lock);
	return r;
}

struct vgpu_conn *vgpu_conn_get(CUresult *err /* out */)
{
	struct vgpu_conn *c = tls_conn;

	if (c && c->generation == zone.generation && !c->broken)
		return c;
	if (c && c->broken) {
		*err = CUDA_ERROR_DEVICE_UNAVAILABLE;
		return NULL;
	}
	if (!__atomic_load_n(&zone.initialized, __ATOMIC_ACQUIRE)) {
		if (zone.generation > 0)
			vgpu_client_log(1, "CUDA call in a child process after fork() before cuInit(): "
					"the parent's connection is not inherited; call cuInit(0) in the child");
		*err = CUDA_ERROR_NOT_INITIALIZED;
		return NULL;
	}
	if (conn_open(VGPU_HELLO_JOIN, &c) < 0) {
		*err = CUDA_ERROR_DEVICE_UNAVAILABLE;
		return NULL;
	}
	conn_install(c);
	return c;
}

int vgpu_client_xen(void)
{
	return use_xen();
}

uint32_t vgpu_zone_backend(void)
{
	return zone.backend;
}

int vgpu_zone_devices_all(int *all, int *ord, int cap)
{
	int n = 0, k;

	pthread_mutex_lock(&zone.lock);
	int known = zone.initialized && zone.ndev_all > 0;
	uint32_t nall = zone.ndev_all;
	char text[sizeof(zone.devices)];
	memcpy(text, zone.devices, sizeof(text));
	pthread_mutex_unlock(&zone.lock);
	if (!known || cap < VGPU_VISIBLE_MAX || cuDeviceGetCount(&n) != CUDA_SUCCESS)
		return -1;
	if (text[0])
		k = vgpu_visible_ordinals(text, (int)nall, ord);
	else   /* every device of the proxy's, in order */
		for (k = 0; k < n && k < cap; k++)
			ord[k] = k;
	if (k != n)
		return -1;
	*all = (int)nall;
	return k;
}
