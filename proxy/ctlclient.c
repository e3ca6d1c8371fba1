/* SPDX-License-Identifier: MIT */
/* ctlclient.c — the client side of vgpu-proxy's control socket (PATH.ctl): one command, its answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proxyd.h"

int vgpu_ctl_client(const char *who, const char *ctl_path, const char *cmd, FILE *out)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char buf[4096], line[600];
	ssize_t n;
	int first = 1, error = 0;

	if (snprintf(a.sun_path, sizeof(a.sun_path), "%s", ctl_path) >= (int)sizeof(a.sun_path)) {
		fprintf(stderr, "%s: path %s is too long for a unix socket\n", who, ctl_path);
		return 2;
	}
	int len = snprintf(line, sizeof(line), "%s\n", cmd);
	if (len >= (int)sizeof(line) || strchr(cmd, '\n')) {
		fprintf(stderr, "%s: command too long or spans lines\n", who);
		return 2;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "%s: cannot connect to the control socket %s: %s; is vgpu-proxy running (--listen, --ctl)?%s\n",
			who, a.sun_path, strerror(errno), errno == EACCES ? " (the control socket is root's only)" : "");
		if (fd >= 0)
			close(fd);
		return 2;
	}
	for (size_t off = 0; off < (size_t)len;) {
		ssize_t w = send(fd, line + off, (size_t)len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "%s: cannot send to %s: %s\n", who, a.sun_path, strerror(errno));
			close(fd);
			return 2;
		}
		off += (size_t)w;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "%s: reading the answer from %s: %s\n", who, a.sun_path, strerror(errno));
			close(fd);
			return 2;
		}
		if (first && n >= 6 && !memcmp(buf, "error ", 6))
			error = 1;
		first = 0;
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			break;
	}
	close(fd);
	if (first) {
		fprintf(stderr, "%s: %s closed without answering\n", who, a.sun_path);
		return 2;
	}
	return error;
}
