/* SPDX-License-Identifier: MIT */
/* state_poke.c — sends one malformed or unauthorised request to a worker's state socket and prints what came back (tests/migrate/run.sh). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "proxyd.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: state_poke SOCKET KIND\n"
		"       state_poke --ctl CTL KIND\n"
		"Connects to a vgpu-proxy worker's state socket (STATE_DIR/zone-ID.sock) and sends one\n"
		"request of KIND, then prints 'closed after N ms' (the worker hung up without an answer)\n"
		"or 'answer magic=... status=N msg=...'. Exit 0 when it got either, 1 otherwise.\n"
		"KIND: short, oversize, version, magic, ckpt-nofd, ckpt-2fds, thaw-fds, take-token,\n"
		"      ckpt-rdonly, adopt, silent\n"
		"--ctl: one restore command on a supervisor's control socket CTL, its answer printed.\n"
		"KIND: restore-pipe, restore-garbage, restore-empty, restore-2fds, restore-replace-bad, restore-nofd,\n"
		"      restore-relative, restore-dir\n");
}

/* --ctl: one hostile restore command on a supervisor's control socket; prints its answer. */
static int ctl_poke(const char *path, const char *kind)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "state_poke: %s: path too long\n", path);
		return 2;
	}
	strcpy(sa.sun_path, path);
	int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "state_poke: cannot connect to %s: %s\n", path, strerror(errno));
		return 1;
	}
	int sv[2] = { -1, -1 }, fds[2], nfds = 0, rc;
	const char *cmd = "restore-fd\n";
	if (!strcmp(kind, "restore-pipe")) {
		if (pipe2(sv, O_CLOEXEC) < 0 || write(sv[1], "VGPUCKPT", 8) != 8)
			return 1;
		fds[nfds++] = sv[0];
	} else if (!strcmp(kind, "restore-garbage") || !strcmp(kind, "restore-empty") ||
		   !strcmp(kind, "restore-2fds")) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return 1;
		if (!strcmp(kind, "restore-garbage")) {
			char junk[200];
			memset(junk, 0xa5, sizeof(junk));
			if (write(sv[1], junk, sizeof(junk)) != (ssize_t)sizeof(junk))
				return 1;
		}
		fds[nfds++] = sv[0];
		if (!strcmp(kind, "restore-2fds"))
			fds[nfds++] = sv[0];
	} else if (!strcmp(kind, "restore-replace-bad")) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return 1;
		fds[nfds++] = sv[0];
		cmd = "restore-fd replace=1x\n";
	} else if (!strcmp(kind, "restore-nofd")) {
	} else if (!strcmp(kind, "restore-relative")) {
		cmd = "restore snap.ckpt\n";
	} else if (!strcmp(kind, "restore-dir")) {
		cmd = "restore /\n";
	} else {
		fprintf(stderr, "state_poke: unknown --ctl KIND '%s'\n", kind);
		return 2;
	}
	if ((rc = vgpu_fds_send(c, cmd, strlen(cmd), fds, (unsigned)nfds)) < 0) {
		fprintf(stderr, "state_poke: sending the command failed: %s\n", strerror(-rc));
		return 1;
	}
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);   /* the writer ends: the stream holds what was written */
	char ans[512];
	size_t n = 0;
	while (n < sizeof(ans) - 1) {
		ssize_t r = recv(c, ans + n, sizeof(ans) - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	ans[n] = '\0';
	printf("%s%s", n ? ans : "no answer", n && ans[n - 1] == '\n' ? "" : "\n");
	return n ? 0 : 1;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

int main(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "--ctl"))
		return ctl_poke(argv[2], argv[3]);
	if (argc != 3) {
		usage(stderr);
		return 2;
	}
	const char *kind = argv[2];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "state_poke: %s: path too long\n", argv[1]);
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "state_poke: cannot connect to %s: %s\n", argv[1], strerror(errno));
		return 1;
	}

	struct vgpu_state_req q = { .magic = VGPU_STATE_CKPT, .version = VGPU_PROTO_VERSION };
	int p[2], fds[3], nfds = 0, rc = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return 1;
	fds[0] = p[1];
	fds[1] = p[0];
	fds[2] = p[1];
	char big[sizeof(q) + 128];
	memset(big, 0x41, sizeof(big));
	struct timespec t0;

	if (!strcmp(kind, "short")) {
		rc = vgpu_fds_send(c, "CKPT\0\0\0", 7, NULL, 0);
	} else if (!strcmp(kind, "oversize")) {
		memcpy(big, &q, sizeof(q));
		rc = vgpu_fds_send(c, big, sizeof(big), fds, 1);
	} else if (!strcmp(kind, "version")) {
		q.version = VGPU_PROTO_VERSION + 1;
		rc = vgpu_fds_send(c, &q, sizeof(q), fds, 1);
	} else if (!strcmp(kind, "magic")) {
		q.magic = 0x4b4f4f50u;
		rc = vgpu_fds_send(c, &q, sizeof(q), NULL, 0);
	} else if (!strcmp(kind, "ckpt-nofd")) {
		rc = vgpu_fds_send(c, &q, sizeof(q), NULL, 0);
	} else if (!strcmp(kind, "ckpt-2fds")) {
		nfds = 2;
	} else if (!strcmp(kind, "thaw-fds")) {
		q.magic = VGPU_STATE_THAW;
		nfds = 3;
	} else if (!strcmp(kind, "take-token")) {
		q.magic = VGPU_STATE_TAKE;
		memset(q.token, 0x5a, sizeof(q.token));
		memset(q.dest, 'x', sizeof(q.dest));   /* not terminated */
		rc = vgpu_fds_send(c, &q, sizeof(q), NULL, 0);
	} else if (!strcmp(kind, "ckpt-rdonly")) {
		int ro = open("/dev/null", O_RDONLY | O_CLOEXEC);
		rc = ro < 0 ? -errno : vgpu_fds_send(c, &q, sizeof(q), &ro, 1);
		if (ro >= 0)
			close(ro);
	} else if (!strcmp(kind, "adopt")) {
		struct vgpu_adopt_req a = { .magic = VGPU_ADOPT_MAGIC, .version = VGPU_PROTO_VERSION };
		rc = vgpu_fds_send(c, &a, sizeof(a), NULL, 0);
	} else if (strcmp(kind, "silent")) {
		fprintf(stderr, "state_poke: unknown KIND '%s'\n", kind);
		usage(stderr);
		return 2;
	}
	if (nfds)
		rc = vgpu_fds_send(c, &q, sizeof(q), fds, (unsigned)nfds);
	if (rc < 0) {
		fprintf(stderr, "state_poke: sending the request failed: %s\n", strerror(-rc));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);

	/* The answer, or the worker hanging up: at most 10 s. */
	struct pollfd pf = { .fd = c, .events = POLLIN };
	if (poll(&pf, 1, 10000) != 1) {
		printf("no answer and still connected after 10 s\n");
		return 1;
	}
	union { struct vgpu_state_reply r; struct vgpu_adopt_info i; char raw[4096]; } u;
	int got[4];
	unsigned ngot = 0;
	ssize_t n = vgpu_fds_recv(c, &u, sizeof(u), got, 4, &ngot, 0);
	vgpu_fds_close_kept(got, ngot, 4);
	if (n == 0 || n == -ECONNRESET) {
		printf("closed after %.0f ms\n", ms_since(&t0));
		return 0;
	}
	if (n == (ssize_t)sizeof(u.r)) {
		u.r.msg[sizeof(u.r.msg) - 1] = '\0';
		printf("answer magic=0x%08x status=%d msg=%s\n", u.r.magic, u.r.status, u.r.msg);
		return 0;
	}
	printf("unexpected %zd-byte answer with %u fds\n", n, ngot);
	return 1;
}
