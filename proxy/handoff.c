/* SPDX-License-Identifier: MIT */
/* handoff.c — passing a zone's channel (hello + socket + memfd) from the supervisor to its worker. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxyd.h"

int vgpu_handoff_send(int sock, const struct vgpu_handoff *h, int fd0, int fd1)
{
	if (h->transport == VGPU_TRANSPORT_XEN) {   /* nothing to pass but the bootstrap info */
		ssize_t n;
		do
			n = send(sock, h, sizeof(*h), MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		return n < 0 ? -errno : n == (ssize_t)sizeof(*h) ? 0 : -EIO;
	}
	union { char buf[CMSG_SPACE(2 * sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { .iov_base = (void *)h, .iov_len = sizeof(*h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fds[2] = { fd0, fd1 };
	ssize_t n;

	memset(u.buf, 0, sizeof(u.buf));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	do
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*h) ? 0 : -EIO;
}

int vgpu_handoff_recv(int sock, struct vgpu_handoff *h, int *fd0, int *fd1, int nonblock)
{
	union { char buf[CMSG_SPACE(4 * sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { .iov_base = h, .iov_len = sizeof(*h) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	int got[4], ngot = 0;
	ssize_t n;

	*fd0 = *fd1 = -1;
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | (nonblock ? MSG_DONTWAIT : 0));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && ngot < 4; i++)
			memcpy(&got[ngot++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (n == 0 && ngot == 0)
		return -EPIPE;
	int want = (n == (ssize_t)sizeof(*h) && h->transport == VGPU_TRANSPORT_XEN) ? 0 : 2;
	if (n != (ssize_t)sizeof(*h) || ngot != want || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < ngot; i++)
			close(got[i]);
		return -EPROTO;
	}
	if (want) {
		*fd0 = got[0];
		*fd1 = got[1];
	}
	return 0;
}
