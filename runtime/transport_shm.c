/* SPDX-License-Identifier: MIT */
/* transport_shm.c — shm transport: a sealed memfd region passed over a unix socket, futex wakeups, socket EOF as liveness. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ring.h"

#define SHM_MAX_HELLO 4096u

/* Map a region with an inaccessible page on each side: any access just outside the region
 * (a bug) faults at once instead of silently touching a neighbouring mapping. */
static void *map_guarded(int fd, size_t bytes)
{
	uint8_t *base = mmap(NULL, bytes + 2 * VGPU_RING_PAGE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *p;

	if (base == MAP_FAILED)
		return MAP_FAILED;
	p = mmap(base + VGPU_RING_PAGE, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;

		munmap(base, bytes + 2 * VGPU_RING_PAGE);
		errno = e;
	}
	return p;
}

static void unmap_guarded(void *p, size_t bytes)
{
	munmap((uint8_t *)p - VGPU_RING_PAGE, bytes + 2 * VGPU_RING_PAGE);
}

struct shm_transport {
	struct vgpu_transport base;
	int sock;       /* liveness: EOF when the peer's end is closed */
	int memfd;      /* client: the region's memfd, to offer it again when rejoining (-1: none) */
	void *region;
	size_t bytes;
	int dead;
};

static int shm_notify(struct vgpu_transport *t, atomic_uint *word)
{
	(void)t;
	/* Not FUTEX_PRIVATE: the word lives in a MAP_SHARED mapping used by two processes. */
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0) < 0)
		return -errno;
	return 0;
}

static int shm_wait(struct vgpu_transport *t, atomic_uint *word, uint32_t expected, int timeout_ms)
{
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };

	(void)t;
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &ts, NULL, 0) < 0) {
		if (errno == ETIMEDOUT)
			return -ETIMEDOUT;
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return -errno;
	}
	return 0;
}

static int shm_alive(struct vgpu_transport *t)
{
	struct shm_transport *s = (struct shm_transport *)t;
	struct pollfd p = { .fd = s->sock, .events = POLLIN | POLLRDHUP };

	if (s->dead)
		return 0;
	if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)))
		s->dead = 1;
	return !s->dead;
}

static void shm_close(struct vgpu_transport *t)
{
	struct shm_transport *s = (struct shm_transport *)t;

	if (s->region)
		unmap_guarded(s->region, s->bytes);
	if (s->sock >= 0)
		close(s->sock);
	if (s->memfd >= 0)
		close(s->memfd);
	free(s);
}

int vgpu_fds_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union { char buf[CMSG_SPACE(VGPU_FDS_MAX * sizeof(int))]; struct cmsghdr align; } cm;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > VGPU_FDS_MAX)
		return -EINVAL;
	if (nfds) {
		memset(cm.buf, 0, sizeof(cm.buf));
		m.msg_control = cm.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *ch = CMSG_FIRSTHDR(&m);
		ch->cmsg_level = SOL_SOCKET;
		ch->cmsg_type = SCM_RIGHTS;
		ch->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(ch), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

ssize_t vgpu_fds_recv(int sock, void *buf, size_t cap, int *fds /* out */, unsigned maxfds, unsigned *nfds /* out */,
		      int flags)
{
	union { char buf[CMSG_SPACE((VGPU_FDS_MAX + 4) * sizeof(int))]; struct cmsghdr align; } cm;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			    .msg_controllen = sizeof(cm.buf) };
	unsigned kept = 0;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* every fd the peer passed is either kept or closed: none leaks, whatever it sent */
	for (struct cmsghdr *ch = CMSG_FIRSTHDR(&m); ch; ch = CMSG_NXTHDR(&m, ch)) {
		if (ch->cmsg_level != SOL_SOCKET || ch->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (ch->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(ch) + i * sizeof(int), sizeof(int));
			if (kept < maxfds)
				fds[kept++] = f;
			else
				close(f);
			(*nfds)++;
		}
	}
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		vgpu_fds_close(fds, kept);
		*nfds = 0;
		return -EPROTO;
	}
	return n;
}

void vgpu_fds_close(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

void vgpu_fds_close_kept(const int *fds, unsigned nfds, unsigned maxfds)
{
	vgpu_fds_close(fds, nfds < maxfds ? nfds : maxfds);
}

/* Pass a file descriptor to the peer on the channel's socket (a one-byte record). */
static int shm_send_fd(struct vgpu_transport *t, int fd)
{
	struct shm_transport *s = (struct shm_transport *)t;
	uint8_t tag = 'F';

	return vgpu_fds_send(s->sock, &tag, 1, &fd, 1);
}

/* Take the next record from the socket, without waiting: it must be one byte and one fd. */
static int shm_recv_fd(struct vgpu_transport *t, int *fd /* out */)
{
	struct shm_transport *s = (struct shm_transport *)t;
	uint8_t tag[2];
	unsigned nfds;
	ssize_t n = vgpu_fds_recv(s->sock, tag, sizeof(tag), fd, 1, &nfds, MSG_DONTWAIT);

	if (n < 0) {
		*fd = -1;
		return n == -EWOULDBLOCK ? -ENOENT : (int)n;
	}
	if (n != 1 || nfds != 1) {
		vgpu_fds_close_kept(fd, nfds, 1);
		*fd = -1;
		return n == 0 ? -EPIPE : -EPROTO;
	}
	return 0;
}

static const struct vgpu_transport_ops shm_ops = {
	.notify = shm_notify,
	.wait = shm_wait,
	.alive = shm_alive,
	.close = shm_close,
	.forget = shm_close, /* closing our fd copy and mapping never affects the other process */
	.send_fd = shm_send_fd,
	.recv_fd = shm_recv_fd,
	.shares_cpus = 1,
};

/* Wrap sock + mapping into an endpoint. Takes ownership of sock and the mapping. */
static int shm_endpoint(int sock, void *region, size_t bytes, const struct vgpu_chan_geom *g,
			int side, struct vgpu_chan **out)
{
	struct shm_transport *s = calloc(1, sizeof(*s));

	if (!s) {
		unmap_guarded(region, bytes);
		close(sock);
		vgpu_chan_set_setup_error("out of memory allocating the shm transport");
		return -ENOMEM;
	}
	s->base.ops = &shm_ops;
	s->sock = sock;
	s->memfd = -1;
	s->region = region;
	s->bytes = bytes;
	return vgpu_chan_create(region, bytes, g, side, &s->base, out);
}

/* Create, size, seal and map a fresh region; *fd gets the memfd. */
static int shm_region_create(const struct vgpu_chan_geom *g, uint32_t start, int *fd /* out */,
			     void **region /* out */, size_t *bytes /* out */)
{
	size_t n;
	void *p;
	int f, rc;

	if (vgpu_chan_geom_check(g)) {
		vgpu_chan_set_setup_error("bad channel geometry msg_ring_bytes=%u bulk_bytes=%u: each must be "
					  "a power of two (ring %u..%u, bulk %u..%u)", g ? g->msg_ring_bytes : 0,
					  g ? g->bulk_bytes : 0, VGPU_CHAN_MIN_RING, VGPU_CHAN_MAX_RING,
					  VGPU_CHAN_MIN_BULK, VGPU_CHAN_MAX_BULK);
		return -EINVAL;
	}
	n = (size_t)vgpu_ring_region_bytes(g);
	f = memfd_create("vgpu-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("memfd_create failed: %s", strerror(errno));
		return rc;
	}
	if (ftruncate(f, (off_t)n) < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("sizing the ring memfd to %zu bytes failed: %s", n, strerror(errno));
		goto err_fd;
	}
	/* Sealed size: the peer checks the seals, so it can trust that we cannot shrink the
	 * file under its mapping (which would SIGBUS it). */
	if (fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("sealing the ring memfd failed: %s", strerror(errno));
		goto err_fd;
	}
	p = map_guarded(f, n);
	if (p == MAP_FAILED) {
		rc = -errno;
		vgpu_chan_set_setup_error("mapping the %zu-byte ring region failed: %s", n, strerror(errno));
		goto err_fd;
	}
	vgpu_ring_init_region(p, g, start);
	*fd = f;
	*region = p;
	*bytes = n;
	return 0;
err_fd:
	close(f);
	return rc;
}

int vgpu_shm_listen(const char *path, int *lfd /* out */)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(a.sun_path)) {
		vgpu_chan_set_setup_error("socket path '%s' is longer than %zu bytes", path, sizeof(a.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("socket(AF_UNIX) failed: %s", strerror(errno));
		return rc;
	}
	unlink(path); /* a stale socket from a previous run */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("cannot listen on '%s': %s (does its directory exist and is it writable?)",
					  path, strerror(errno));
		close(fd);
		return rc;
	}
	*lfd = fd;
	return 0;
}

/* A connected socket to path, or -errno (the setup error says why). */
static int shm_dial(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(a.sun_path)) {
		vgpu_chan_set_setup_error("socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("socket(AF_UNIX) failed: %s", strerror(errno));
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("cannot connect to vgpu-proxy at '%s': %s (is vgpu-proxy running? "
					  "set VGPU_PROXY to its socket)", path, strerror(errno));
		close(fd);
		return rc;
	}
	return fd;
}

int vgpu_shm_connect(const char *path, const void *hello, uint32_t hello_len,
		     const struct vgpu_chan_geom *g, struct vgpu_chan **out /* out */)
{
	void *region;
	size_t bytes;
	int fd, mfd, rc;

	if (!hello_len || hello_len > SHM_MAX_HELLO) {
		vgpu_chan_set_setup_error("hello of %u bytes: must be 1..%u", hello_len, SHM_MAX_HELLO);
		return -EINVAL;
	}
	rc = shm_region_create(g, 0, &mfd, &region, &bytes);
	if (rc)
		return rc;
	fd = shm_dial(path);
	if (fd < 0) {
		rc = fd;
		goto err_map;
	}
	if ((rc = vgpu_fds_send(fd, hello, hello_len, &mfd, 1)) < 0) {
		vgpu_chan_set_setup_error("sending hello + region to '%s' failed: %s", path, strerror(-rc));
		close(fd);
		goto err_map;
	}
	rc = shm_endpoint(fd, region, bytes, g, 0, out);
	if (rc < 0) {
		close(mfd);
		return rc;
	}
	/* kept, should the channel have to rejoin a restored zone (vgpu_shm_redial) */
	((struct shm_transport *)(*out)->t)->memfd = mfd;
	return 0;
err_map:
	unmap_guarded(region, bytes);
	close(mfd);
	return rc;
}

int vgpu_shm_redial(struct vgpu_chan *c, const char *path, const void *hello, uint32_t hello_len, int *sock)
{
	struct shm_transport *s = (struct shm_transport *)c->t;
	int fd, rc;

	if (c->t->ops != &shm_ops || s->memfd < 0) {
		vgpu_chan_set_setup_error("the channel is not a client's shared-memory channel");
		return -ENOTSUP;
	}
	if (!hello_len || hello_len > SHM_MAX_HELLO) {
		vgpu_chan_set_setup_error("hello of %u bytes: must be 1..%u", hello_len, SHM_MAX_HELLO);
		return -EINVAL;
	}
	fd = shm_dial(path);
	if (fd < 0)
		return fd;
	if ((rc = vgpu_fds_send(fd, hello, hello_len, &s->memfd, 1)) < 0) {
		vgpu_chan_set_setup_error("sending hello + region to '%s' failed: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	*sock = fd;
	return 0;
}

void vgpu_shm_resocket(struct vgpu_chan *c, int sock)
{
	struct shm_transport *s = (struct shm_transport *)c->t;

	if (s->sock >= 0)
		close(s->sock);
	s->sock = sock;
	s->dead = 0;
}

int vgpu_shm_recv_hello(int sock, void *hello, uint32_t cap, uint32_t *len /* out */, int *memfd /* out */)
{
	int fd = -1, rc = 0;
	unsigned nfds;
	ssize_t n = vgpu_fds_recv(sock, hello, cap, &fd, 1, &nfds, 0);

	if (n == -EPROTO) {
		vgpu_chan_set_setup_error("hello truncated (more than %u bytes or too many fds)", cap);
		return -EPROTO;
	}
	if (n < 0) {
		vgpu_chan_set_setup_error("reading the hello failed: %s", strerror((int)-n));
		return (int)n;
	}
	if (n == 0) {
		rc = -EPIPE;
		vgpu_chan_set_setup_error("peer closed the socket before sending its hello");
	} else if (nfds != 1) {
		rc = -EPROTO;
		vgpu_chan_set_setup_error("hello carried %u file descriptors, expected exactly 1 (the region)", nfds);
	}
	if (rc) {
		vgpu_fds_close_kept(&fd, nfds, 1);
		return rc;
	}
	*len = (uint32_t)n;
	*memfd = fd;
	return 0;
}

int vgpu_shm_attach(int sock, int memfd, struct vgpu_chan **out /* out */)
{
	struct vgpu_chan_geom g;
	struct stat st;
	char why[200];
	void *p;
	int seals, rc;

	if (fstat(memfd, &st) < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("fstat of the region fd failed: %s", strerror(errno));
		goto err;
	}
	seals = fcntl(memfd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK)) {
		rc = -EPROTO;
		vgpu_chan_set_setup_error("region fd is not a memfd sealed against shrinking (seals 0x%x): "
					  "refused, it could be truncated under our mapping", seals);
		goto err;
	}
	if (st.st_size < VGPU_RING_PAGE || (uint64_t)st.st_size > vgpu_ring_region_bytes(
		    &(struct vgpu_chan_geom){ VGPU_CHAN_MAX_RING, VGPU_CHAN_MAX_BULK })) {
		rc = -EPROTO;
		vgpu_chan_set_setup_error("region of %lld bytes is outside the possible channel sizes",
					  (long long)st.st_size);
		goto err;
	}
	p = map_guarded(memfd, (size_t)st.st_size);
	if (p == MAP_FAILED) {
		rc = -errno;
		vgpu_chan_set_setup_error("mapping the %lld-byte region failed: %s", (long long)st.st_size,
					  strerror(errno));
		goto err;
	}
	close(memfd);
	rc = vgpu_ring_check_region(p, (uint64_t)st.st_size, &g, why, sizeof(why));
	if (rc) {
		vgpu_chan_set_setup_error("refusing channel: %s", why);
		unmap_guarded(p, (size_t)st.st_size);
		close(sock);
		return rc;
	}
	return shm_endpoint(sock, p, (size_t)st.st_size, &g, 1, out);
err:
	close(memfd);
	close(sock);
	return rc;
}

int vgpu_shm_pair_at(const struct vgpu_chan_geom *g, uint32_t start_index,
		     struct vgpu_chan **client /* out */, struct vgpu_chan **server /* out */)
{
	void *region, *region2;
	size_t bytes;
	int sv[2], mfd, rc;

	rc = shm_region_create(g, start_index, &mfd, &region, &bytes);
	if (rc)
		return rc;
	/* The server gets its own mapping of the same memfd, as a separate process would. */
	region2 = map_guarded(mfd, bytes);
	if (region2 == MAP_FAILED) {
		rc = -errno;
		vgpu_chan_set_setup_error("second mapping of the region failed: %s", strerror(errno));
		goto err_map;
	}
	close(mfd);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		vgpu_chan_set_setup_error("socketpair failed: %s", strerror(errno));
		unmap_guarded(region2, bytes);
		unmap_guarded(region, bytes);
		return rc;
	}
	rc = shm_endpoint(sv[0], region, bytes, g, 0, client);
	if (rc) {
		unmap_guarded(region2, bytes);
		close(sv[1]);
		return rc;
	}
	rc = shm_endpoint(sv[1], region2, bytes, g, 1, server);
	if (rc) {
		vgpu_chan_close(*client);
		*client = NULL;
	}
	return rc;
err_map:
	unmap_guarded(region, bytes);
	close(mfd);
	return rc;
}

int vgpu_shm_pair(const struct vgpu_chan_geom *g, struct vgpu_chan **client /* out */,
		  struct vgpu_chan **server /* out */)
{
	return vgpu_shm_pair_at(g, 0, client, server);
}
