/* SPDX-License-Identifier: MIT */
/* vgpuctl_ckpt.c — vgpuctl's checkpoint, thaw, restore and migrate commands. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proxyd.h"
#include "vgpuctl.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One control command; its answer (one line, "ok ..." or "error ...") into ans. 0/1/2 as vgpu_ctl_client. */
static int ctl_ask(const char *ctl, const char *cmd, char *ans, size_t cap)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	if (!m) {
		snprintf(ans, cap, "out of memory");
		return 2;
	}
	int rc = vgpu_ctl_client("vgpuctl", ctl, cmd, m);
	fclose(m);
	snprintf(ans, cap, "%s", buf ? buf : "");
	ans[strcspn(ans, "\n")] = '\0';
	free(buf);
	return rc;
}

/* Connect to zone's worker on its state socket (found through the control socket): 0 with
 * *out the connection, else 1 or 2 as vgpuctl exits (said on stderr). */
static int state_connect(const char *ctl, const char *zone, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char cmd[64], ans[600];
	if (strspn(zone, "0123456789") != strlen(zone) || !*zone || strlen(zone) > 10) {
		fprintf(stderr, "vgpuctl: '%s' is not a zone id (see vgpuctl stats)\n", zone);
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "where %s", zone);
	int rc = ctl_ask(ctl, cmd, ans, sizeof(ans));
	if (rc != 0) {
		if (rc == 1)
			fprintf(stderr, "vgpuctl: %s\n", !strncmp(ans, "error ", 6) ? ans + 6 : ans);
		return rc;
	}
	if (strncmp(ans, "ok ", 3) || strlen(ans + 3) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vgpuctl: unexpected answer to 'where': %s\n", ans);
		return 2;
	}
	strcpy(sa.sun_path, ans + 3);
	int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "vgpuctl: cannot reach zone %s's worker at %s: %s\n", zone, sa.sun_path, strerror(errno));
		if (c >= 0)
			close(c);
		return 2;
	}
	*out = c;
	return 0;
}

/* A request on a zone's state socket; the answer into *r. */
static int state_ask(const char *ctl, const char *zone, const struct vgpu_state_req *q, int fd,
		     struct vgpu_state_reply *r)
{
	int c, rc = state_connect(ctl, zone, &c);
	if (rc != 0)
		return rc;
	if (vgpu_fds_send(c, q, sizeof(*q), &fd, fd >= 0 ? 1 : 0) < 0 ||
	    recv(c, r, sizeof(*r), 0) != (ssize_t)sizeof(*r)) {
		fprintf(stderr, "vgpuctl: zone %s's worker did not answer: %s\n", zone, strerror(errno));
		close(c);
		return 2;
	}
	close(c);
	r->msg[sizeof(r->msg) - 1] = '\0';
	return r->status < 0 ? 1 : 0;
}

static int checkpoint(const char *ctl, const char *zone, const char *file, int stay, struct vgpu_state_reply *r)
{
	struct vgpu_state_req q = { .magic = VGPU_STATE_CKPT, .version = VGPU_PROTO_VERSION,
				    .flags = stay ? VGPU_STATE_F_STAY_STOPPED : 0 };
	/* the file is ours (the caller's permissions), and it holds the zone's token: 0600 */
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "vgpuctl: cannot create %s: %s\n", file, strerror(errno));
		return 2;
	}
	int rc = state_ask(ctl, zone, &q, fd, r);
	close(fd);
	if (rc != 0) {
		unlink(file);
		if (rc == 1)
			fprintf(stderr, "vgpuctl: checkpoint of zone %s refused: %s\n", zone, r->msg);
	}
	return rc;
}

int vgpuctl_checkpoint(const char *ctl, const char *zone, const char *file, int stay)
{
	struct vgpu_state_reply r;
	int rc = checkpoint(ctl, zone, file, stay, &r);
	if (rc == 0)
		printf("checkpoint of zone %s: %u handles, %u allocations (%llu bytes), %u channels; %llu-byte file %s; "
		       "stopped in %.1f ms, written in %.1f ms; zone %s\n", zone, r.handles, r.allocs,
		       (unsigned long long)r.mem_bytes, r.channels, (unsigned long long)r.file_bytes, file,
		       r.stop_ns / 1e6, r.work_ns / 1e6, stay ? "stays stopped (vgpuctl thaw, or restore it elsewhere)" : "goes on");
	return rc;
}

int vgpuctl_thaw(const char *ctl, const char *zone)
{
	struct vgpu_state_req q = { .magic = VGPU_STATE_THAW, .version = VGPU_PROTO_VERSION };
	struct vgpu_state_reply r;
	int rc = state_ask(ctl, zone, &q, -1, &r);
	if (rc == 0)
		printf("zone %s goes on\n", zone);
	else if (rc == 1)
		fprintf(stderr, "vgpuctl: thaw of zone %s refused: %s\n", zone, r.msg);
	return rc;
}

static int restore(const char *ctl, const char *file, char *ans, size_t cap)
{
	char abs[PATH_MAX], cmd[PATH_MAX + 16];
	if (!realpath(file, abs)) {
		snprintf(ans, cap, "error %s: %s", file, strerror(errno));
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "restore %s", abs);
	if (strpbrk(cmd, "\n\r")) {
		snprintf(ans, cap, "error a path cannot contain a line break");
		return 2;
	}
	return ctl_ask(ctl, cmd, ans, cap);
}

int vgpuctl_restore(const char *ctl, const char *file)
{
	char ans[700];
	int rc = restore(ctl, file, ans, sizeof(ans));
	if (rc == 0)
		printf("%s\n", !strncmp(ans, "ok ", 3) ? ans + 3 : ans);
	else
		fprintf(stderr, "vgpuctl: %s\n", !strncmp(ans, "error ", 6) ? ans + 6 : ans);
	return rc;
}

/* Connect to a control socket and send one command line with fd beside it: the connection,
 * whose answer is read later (ctl_answer), or -1 (said on stderr). */
static int ctl_send_fd(const char *ctl, const char *cmd, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(ctl) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "vgpuctl: %s: path too long\n", ctl);
		return -1;
	}
	strcpy(sa.sun_path, ctl);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    vgpu_fds_send(c, cmd, strlen(cmd), &fd, 1) < 0) {
		fprintf(stderr, "vgpuctl: cannot reach the proxy at %s: %s\n", ctl, strerror(errno));
		if (c >= 0)
			close(c);
		return -1;
	}
	return c;
}

/* The one-line answer on a control connection (closed here): 0 "ok ...", 1 otherwise. */
static int ctl_answer(int c, char *ans, size_t cap)
{
	size_t n = 0;
	while (n < cap - 1) {
		ssize_t r = recv(c, ans + n, cap - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(ans, '\n', n))
			break;
	}
	ans[n] = '\0';
	ans[strcspn(ans, "\n")] = '\0';
	close(c);
	if (!n)
		snprintf(ans, cap, "error the proxy closed the connection without an answer");
	return strncmp(ans, "ok ", 3) ? 1 : 0;
}

/*
 * migrate: the checkpoint goes straight from the zone's worker into the restoring worker on
 * the other proxy through a socket pair, read as it is written (no file): the new proxy is
 * asked first (it waits for the stream), then the zone is stopped and written.
 */
int vgpuctl_migrate(const char *ctl, const char *zone, const char *to_ctl)
{
	char ans[700];
	struct vgpu_state_req q = { .magic = VGPU_STATE_CKPT, .version = VGPU_PROTO_VERSION,
				    .flags = VGPU_STATE_F_STAY_STOPPED };
	struct vgpu_state_reply r;
	int sv[2], a;

	int rc = state_connect(ctl, zone, &a);   /* before the other proxy waits for a stream */
	if (rc != 0)
		return rc;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("vgpuctl: socketpair");
		close(a);
		return 2;
	}
	int big = 16 << 20;   /* room for a few write steps in flight (root may exceed the default cap) */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	/* To the proxy the zone is on: the zone moves into a new worker of it (an upgraded
	 * binary's, after a supervisor upgrade), replacing itself there. */
	char cmd[64] = "restore-fd\n", ra_path[PATH_MAX], rb_path[PATH_MAX];
	if (realpath(ctl, ra_path) && realpath(to_ctl, rb_path) && !strcmp(ra_path, rb_path))
		snprintf(cmd, sizeof(cmd), "restore-fd replace=%lu\n", strtoul(zone, NULL, 10));
	int b = ctl_send_fd(to_ctl, cmd, sv[1]);
	close(sv[1]);
	if (b < 0) {
		close(a);
		close(sv[0]);
		return 2;
	}
	double t0 = now_ms();
	if (vgpu_fds_send(a, &q, sizeof(q), &sv[0], 1) < 0) {
		fprintf(stderr, "vgpuctl: cannot ask zone %s's worker: %s\n", zone, strerror(errno));
		close(a);
		close(sv[0]);
		ctl_answer(b, ans, sizeof(ans));   /* the new proxy sees the stream end: nothing restored */
		return 2;
	}
	close(sv[0]);
	int ra = recv(a, &r, sizeof(r), 0) == (ssize_t)sizeof(r) ? 0 : -1;
	close(a);
	double t1 = now_ms();
	int rb = ctl_answer(b, ans, sizeof(ans));
	double t2 = now_ms();
	if (ra < 0 || r.status < 0) {
		r.msg[sizeof(r.msg) - 1] = '\0';
		fprintf(stderr, "vgpuctl: checkpoint of zone %s failed: %s\n", zone, ra < 0 ? "no answer from its worker" : r.msg);
		if (rb)
			fprintf(stderr, "vgpuctl: (the other proxy: %s)\n", !strncmp(ans, "error ", 6) ? ans + 6 : ans);
		fprintf(stderr, "vgpuctl: zone %s goes on where it was\n", zone);
		return 1;
	}
	if (rb) {
		fprintf(stderr, "vgpuctl: restore on %s failed: %s\n", to_ctl, !strncmp(ans, "error ", 6) ? ans + 6 : ans);
		if (vgpuctl_thaw(ctl, zone) != 0)
			fprintf(stderr, "vgpuctl: zone %s stays stopped on %s: thaw it by hand\n", zone, ctl);
		else
			fprintf(stderr, "vgpuctl: zone %s goes on where it was\n", zone);
		return 1;
	}
	printf("zone %s migrated: %s\n", zone, ans + 3);
	printf("paused at most %.1f ms (channels stopped in %.1f ms; %llu bytes streamed, written in %.1f ms; "
	       "restored and channels taken over %.1f ms after the last byte)\n", t2 - t0, r.stop_ns / 1e6,
	       (unsigned long long)r.file_bytes, r.work_ns / 1e6, t2 - t1);
	return 0;
}
