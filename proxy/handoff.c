/* SPDX-License-Identifier: MIT */
/* handoff.c — records with file descriptors between the proxy's processes: a zone's channel (hello + socket + memfd) from the supervisor to its worker, a worker's state to a new supervisor. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxyd.h"

int vgpu_record_recv(int sock, void *buf, size_t len, int *fds, unsigned maxfds, unsigned *nfds, int nonblock)
{
	ssize_t n = vgpu_fds_recv(sock, buf, len, fds, maxfds, nfds, nonblock ? MSG_DONTWAIT : 0);

	if (n < 0)
		return (int)n;
	if (n == 0 && *nfds == 0)
		return -EPIPE;
	/* a record of another length, or more fds than asked for: refused, nothing left open */
	if (n != (ssize_t)len || *nfds > maxfds) {
		vgpu_fds_close_kept(fds, *nfds, maxfds);
		*nfds = 0;
		return -EPROTO;
	}
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
	int rc = vgpu_record_recv(sock, h, sizeof(*h), fds, 2, &n, nonblock);

	*fd0 = *fd1 = -1;
	if (rc < 0)
		return rc;
	if (n != (h->transport == VGPU_TRANSPORT_XEN ? 0u : 2u)) {
		vgpu_fds_close(fds, n);
		return -EPROTO;
	}
	if (n) {
		*fd0 = fds[0];
		*fd1 = fds[1];
	}
	return 0;
}

void vgpu_rejoin_answer(int sock, int status, const char *msg)
{
	struct vgpu_rejoin_answer a = { .magic = VGPU_REJOIN_ANSWER_MAGIC, .status = status };
	snprintf(a.msg, sizeof(a.msg), "%s", msg);
	if (send(sock, &a, sizeof(a), MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(a))
		vgpu_warn("cannot answer a rejoining channel: %s", strerror(errno));
}
