/* SPDX-License-Identifier: MIT */
/* handoff.c — records with file descriptors between the proxy's processes: a zone's channel (hello + socket + memfd) from the supervisor to its worker, a worker's state to a new supervisor. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxyd.h"

int vgpu_fds_send(int sock, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union { char buf[CMSG_SPACE(VGPU_FDS_MAX * sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > VGPU_FDS_MAX)
		return -EINVAL;
	if (nfds) {
		memset(u.buf, 0, sizeof(u.buf));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

int vgpu_fds_recv(int sock, void *buf, size_t len, int *fds, unsigned maxfds, unsigned *nfds, int nonblock)
{
	union { char buf[CMSG_SPACE((VGPU_FDS_MAX + 2) * sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	int got[VGPU_FDS_MAX + 2];
	unsigned ngot = 0;
	ssize_t n;

	*nfds = 0;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (ngot < sizeof(got) / sizeof(got[0]))
				got[ngot++] = f;
			else
				close(f);
		}
	}
	if (n == 0 && ngot == 0)
		return -EPIPE;
	/* a record of another length, or more fds than asked for: refused, nothing left open */
	if (n != (ssize_t)len || ngot > maxfds || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (unsigned i = 0; i < ngot; i++)
			close(got[i]);
		return -EPROTO;
	}
	memcpy(fds, got, ngot * sizeof(int));
	*nfds = ngot;
	return 0;
}

int vgpu_handoff_send(int sock, const struct vgpu_handoff *h, int fd0, int fd1)
{
	int fds[2] = { fd0, fd1 };

	/* Xen: nothing to pass but the bootstrap info */
	return vgpu_fds_send(sock, h, sizeof(*h), fds, h->transport == VGPU_TRANSPORT_XEN ? 0 : 2);
}

int vgpu_handoff_recv(int sock, struct vgpu_handoff *h, int *fd0, int *fd1, int nonblock)
{
	int fds[2];
	unsigned n;
	int rc = vgpu_fds_recv(sock, h, sizeof(*h), fds, 2, &n, nonblock);

	*fd0 = *fd1 = -1;
	if (rc < 0)
		return rc;
	if (n != (h->transport == VGPU_TRANSPORT_XEN ? 0u : 2u)) {
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		return -EPROTO;
	}
	if (n) {
		*fd0 = fds[0];
		*fd1 = fds[1];
	}
	return 0;
}
