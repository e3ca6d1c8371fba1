/* SPDX-License-Identifier: MIT */
/* test_supervisor.c — vgpu-proxy as a process: welcome, refused hellos, JOIN, unknown opcodes, zone death, stats, fd/RSS flatness, SIGTERM. */
#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check.h"
#include "proxytest.h"

static long count_fds(pid_t pid)
{
	char path[64];
	long n = 0;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int token_zero(const uint8_t *t)
{
	for (int i = 0; i < 16; i++)
		if (t[i])
			return 0;
	return 1;
}

/* A refused hello: the channel is closed without a welcome, or with a welcome whose status
 * is not CUDA_SUCCESS (a token that matches no registration: CUDA_ERROR_NOT_PERMITTED). */
static void expect_refused(const struct ptest_proxy *p, const struct vgpu_hello *h, uint32_t len, const char *what)
{
	struct vgpu_chan *ch = NULL;
	struct vgpu_welcome w;
	int rc = ptest_open(p, h, len, &ch, &w);
	if (rc == 0) {
		if (w.status == 0)
			fprintf(stderr, "%s: the proxy accepted it (zone %u)\n", what, w.zone_id);
		vgpu_chan_close(ch);
	}
	CHECK(rc < 0 || w.status != 0);
}

/* The one answer a REJOIN gets on its socket (0), or -1 when none came within 10 s. */
static int rejoin_answer(int s, struct vgpu_rejoin_answer *a)
{
	struct timeval tv = { 10, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(a, 0, sizeof(*a));
	ssize_t n = recv(s, a, sizeof(*a), 0);
	a->msg[sizeof(a->msg) - 1] = '\0';
	return n == (ssize_t)sizeof(*a) && a->magic == VGPU_REJOIN_ANSWER_MAGIC ? 0 : -1;
}

int main(void)
{
	struct ptest_proxy p = { .pid = -1 };
	char drv[256], stats[8192];
	struct vgpu_hello h;
	struct vgpu_welcome w1, w2, w;
	struct vgpu_chan *c1 = NULL, *c2 = NULL, *c = NULL;
	int rc;

	snprintf(drv, sizeof(drv), "%s/tests/proxy/libfakedrv.so", ptest_build());
	if (access(drv, R_OK) != 0) {
		printf("%s not built (make test-proxy builds it)\n", drv);
		return 77;
	}
	rc = ptest_start(&p, drv, NULL);
	if (rc < 0) {
		fprintf(stderr, "vgpu-proxy did not start: %s\n", strerror(-rc));
		ptest_dump_log(&p);
		ptest_cleanup(&p);
		return 1;
	}

	/* 1. A new zone gets a welcome with a zone id, a token and the backend. */
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "alpha");
	CHECK_EQ(ptest_open(&p, &h, sizeof(h), &c1, &w1), 0);
	CHECK_EQ(w1.status, 0);
	CHECK(w1.zone_id > 0);
	CHECK(!token_zero(w1.token));
	CHECK_EQ(w1.backend, 2);

	/* 2. JOIN with the token: same zone. */
	ptest_hello(&h, VGPU_HELLO_JOIN, w1.token, "alpha-t2");
	CHECK_EQ(ptest_open(&p, &h, sizeof(h), &c2, &w2), 0);
	CHECK_EQ(w2.zone_id, w1.zone_id);
	CHECK(memcmp(w2.token, w1.token, 16) == 0);

	/* 3. Bad hellos are refused; the proxy keeps serving. */
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "bad");
	h.magic ^= 1;
	expect_refused(&p, &h, sizeof(h), "wrong magic");
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "bad");
	h.version = VGPU_PROTO_VERSION + 1;
	expect_refused(&p, &h, sizeof(h), "wrong version");
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "bad");
	h.kind = 7;
	expect_refused(&p, &h, sizeof(h), "wrong kind");
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "bad");
	h.flags = 2;
	expect_refused(&p, &h, sizeof(h), "unknown flags");
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "bad");
	h.flags = VGPU_HELLO_F_VISIBLE;
	expect_refused(&p, &h, sizeof(h), "CUDA_VISIBLE_DEVICES announced, not sent");
	{
		/* 3d. A new zone's CUDA_VISIBLE_DEVICES (after the hello): read over the proxy's
		 * devices (the fake driver has one); a list naming none of them is refused with
		 * CUDA_ERROR_NO_DEVICE; malformed ones are refused; the first device is taken. */
		struct vgpu_hello_ext hv;
		memset(&hv, 0, sizeof(hv));
		ptest_hello(&hv.hello, VGPU_HELLO_NEW_ZONE, NULL, "visible");
		hv.hello.flags = VGPU_HELLO_F_VISIBLE;
		memset(hv.visible, '0', sizeof(hv.visible));
		expect_refused(&p, &hv.hello, sizeof(hv), "CUDA_VISIBLE_DEVICES not NUL-terminated");
		expect_refused(&p, &hv.hello, sizeof(hv) - 1, "CUDA_VISIBLE_DEVICES cut short");
		memset(hv.visible, 0, sizeof(hv.visible));
		strcpy(hv.visible, "1");
		CHECK_EQ(ptest_open(&p, &hv.hello, sizeof(hv), &c, &w), 0);
		CHECK_EQ(w.status, 100);   /* CUDA_ERROR_NO_DEVICE */
		if (c)
			vgpu_chan_close(c);
		strcpy(hv.visible, "GPU-ffff");
		CHECK_EQ(ptest_open(&p, &hv.hello, sizeof(hv), &c, &w), 0);
		CHECK_EQ(w.status, 100);   /* CUDA_ERROR_NO_DEVICE */
		if (c)
			vgpu_chan_close(c);
		ptest_hello(&hv.hello, VGPU_HELLO_JOIN, w1.token, "visible-join");
		hv.hello.flags = VGPU_HELLO_F_VISIBLE;
		strcpy(hv.visible, "0");
		expect_refused(&p, &hv.hello, sizeof(hv), "CUDA_VISIBLE_DEVICES with a JOIN");
		ptest_hello(&hv.hello, VGPU_HELLO_NEW_ZONE, NULL, "visible-0");
		hv.hello.flags = VGPU_HELLO_F_VISIBLE;
		strcpy(hv.visible, " 0 ,4");
		CHECK_EQ(ptest_open(&p, &hv.hello, sizeof(hv), &c, &w), 0);
		CHECK_EQ(w.status, 0);
		CHECK(w.zone_id > w1.zone_id);
		if (c)
			vgpu_chan_close(c);
		/* driver settings: only those the proxy passes on, as drvenv.h writes them */
		static const char *const bad_env[] = {
			"", "CUDA_LAUNCH_BLOCKING=2", "CUDA_CACHE_PATH=/tmp", "CUDA_LAUNCH_BLOCKING=1 ",
			"CUDA_MODULE_LOADING=EAGER CUDA_LAUNCH_BLOCKING=1", "LD_PRELOAD=/tmp/x.so",
			"CUDA_DEVICE_MAX_CONNECTIONS=33", "CUDA_LAUNCH_BLOCKING=1 CUDA_LAUNCH_BLOCKING=1",
		};
		memset(&hv, 0, sizeof(hv));
		for (unsigned i = 0; i < sizeof(bad_env) / sizeof(bad_env[0]); i++) {
			ptest_hello(&hv.hello, VGPU_HELLO_NEW_ZONE, NULL, "env-bad");
			hv.hello.flags = VGPU_HELLO_F_DRIVER_ENV;
			snprintf(hv.env, sizeof(hv.env), "%s", bad_env[i]);
			expect_refused(&p, &hv.hello, sizeof(hv), bad_env[i]);
		}
		memset(hv.env, 'A', sizeof(hv.env));
		expect_refused(&p, &hv.hello, sizeof(hv), "driver settings not NUL-terminated");
		memset(hv.env, 0, sizeof(hv.env));
		ptest_hello(&hv.hello, VGPU_HELLO_NEW_ZONE, NULL, "env");
		hv.hello.flags = VGPU_HELLO_F_DRIVER_ENV | VGPU_HELLO_F_VISIBLE;
		strcpy(hv.visible, "0");
		strcpy(hv.env, "CUDA_LAUNCH_BLOCKING=1 CUDA_DEVICE_MAX_CONNECTIONS=1 CUDA_MODULE_LOADING=EAGER");
		CHECK_EQ(ptest_open(&p, &hv.hello, sizeof(hv), &c, &w), 0);
		CHECK_EQ(w.status, 0);
		if (c)
			vgpu_chan_close(c);
	}
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "bad");
	expect_refused(&p, &h, sizeof(h) - 1, "short hello");
	uint8_t wrong[16];
	memcpy(wrong, w1.token, 16);
	wrong[15] ^= 0x80;
	ptest_hello(&h, VGPU_HELLO_JOIN, wrong, "intruder");
	expect_refused(&p, &h, sizeof(h), "unknown JOIN token");
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, w1.token, "bad");
	expect_refused(&p, &h, sizeof(h), "NEW_ZONE with a token");

	/* 3c. A REJOIN is answered on its socket, never in the ring it offers (here the JOINed
	 * channel's own, which goes on below): a token no zone has is told to try again, and a
	 * zone that was not restored from a file takes no ring. */
	{
		struct vgpu_rejoin_answer a;
		int s = -1;
		ptest_hello(&h, VGPU_HELLO_REJOIN, wrong, "rejoin-unknown");
		CHECK_EQ(vgpu_shm_redial(c2, p.sock, &h, sizeof(h), &s), 0);
		CHECK(rejoin_answer(s, &a) == 0 && a.status == VGPU_REJOIN_LATER);
		close(s);
		ptest_hello(&h, VGPU_HELLO_REJOIN, w1.token, "rejoin-live");
		CHECK_EQ(vgpu_shm_redial(c2, p.sock, &h, sizeof(h), &s), 0);
		CHECK(rejoin_answer(s, &a) == 0 && a.status < 0 && strstr(a.msg, "not restored"));
		close(s);
	}

	/* 3b. Clients that connect and say nothing (more than the proxy parks) do not stop it
	 * from serving others, and are closed. */
	{
		int silent[70];
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		CHECK(strlen(p.sock) < sizeof(sa.sun_path));
		memcpy(sa.sun_path, p.sock, strlen(p.sock) + 1 < sizeof(sa.sun_path) ? strlen(p.sock) + 1 : sizeof(sa.sun_path) - 1);
		for (int i = 0; i < 70; i++) {
			silent[i] = socket(AF_UNIX, SOCK_SEQPACKET, 0);   /* the listener's type */
			int crc = connect(silent[i], (struct sockaddr *)&sa, sizeof(sa));
			if (crc < 0)
				fprintf(stderr, "connect %s (pid %d): %s\n", sa.sun_path, (int)p.pid, strerror(errno));
			CHECK(silent[i] >= 0 && crc == 0);
		}
		ptest_hello(&h, VGPU_HELLO_JOIN, w1.token, "after-silent");
		CHECK_EQ(ptest_open(&p, &h, sizeof(h), &c, &w), 0);
		CHECK_EQ(w.zone_id, w1.zone_id);
		if (c)
			vgpu_chan_close(c);
		/* A worker forked while 64 connections are parked holds none of them (a copy would
		 * hide those clients' deaths): its descriptors stay few. */
		ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "fdcheck");
		CHECK_EQ(ptest_open(&p, &h, sizeof(h), &c, &w), 0);
		{
			char buf[8192], *z = NULL;
			unsigned client;
			int wpid = -1;
			if (ptest_stats(&p, buf, sizeof(buf)) == 0 && (z = strstr(buf, "name=fdcheck client=")))
				sscanf(z, "name=fdcheck client=%u worker=%d", &client, &wpid);
			long nfd = wpid > 0 ? count_fds(wpid) : -1;
			printf("worker forked with 64 parked connections holds %ld fds\n", nfd);
			CHECK(nfd > 0 && nfd < 32);
		}
		if (c)
			vgpu_chan_close(c);
		for (int i = 0; i < 70; i++) {
			struct pollfd pf = { silent[i], POLLIN, 0 };
			char b;
			CHECK(poll(&pf, 1, 20000) == 1 && read(silent[i], &b, 1) == 0);   /* EOF from the proxy */
			close(silent[i]);
		}
	}

	/* 4. An opcode no call has: an error reply (NOT_SUPPORTED = 801), the channel stays. */
	{
		struct vgpu_msg_hdr mh;
		uint8_t rep[64];
		CHECK_EQ(vgpu_chan_send(c1, 0xfe00, 0, 77, "\x90", 1), 0);
		CHECK_EQ(vgpu_chan_flush(c1), 0);
		rc = vgpu_chan_recv(c1, &mh, rep, sizeof(rep));
		CHECK_EQ(rc, 4);
		CHECK_EQ(mh.seq, 77);
		CHECK(mh.flags & VGPU_MSG_F_REPLY);
		CHECK_EQ(mh.opcode, 0xfe00);
		CHECK(rc == 4 && rep[0] == 0x91 && rep[1] == 0xcd && rep[2] == 0x03 && rep[3] == 0x21);
		/* Async form: no reply; the next call still works. */
		CHECK_EQ(vgpu_chan_send(c1, 0xfe01, VGPU_MSG_F_ASYNC, 78, "\x90", 1), 0);
		CHECK_EQ(vgpu_chan_send(c1, 0xfe02, 0, 79, "\x90", 1), 0);
		rc = vgpu_chan_recv(c1, &mh, rep, sizeof(rep));
		CHECK_EQ(mh.seq, 79);
	}

	/* 5. A second zone runs beside the first; stats list both. */
	ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "beta");
	CHECK_EQ(ptest_open(&p, &h, sizeof(h), &c, &w), 0);
	CHECK(w.zone_id != w1.zone_id);
	CHECK(memcmp(w.token, w1.token, 16) != 0);
	CHECK_EQ(ptest_stats(&p, stats, sizeof(stats)), 0);
	CHECK(strstr(stats, "zones 2") != NULL);
	CHECK(strstr(stats, "name=alpha ") != NULL && strstr(stats, "channels=2") != NULL);
	CHECK(strstr(stats, "name=beta ") != NULL);
	vgpu_chan_close(c);
	CHECK_EQ(ptest_wait_zones(&p, 1), 0);

	/* 6. A client process killed while connected: its zone is freed and disappears. */
	{
		int pfd[2];
		CHECK_EQ(pipe(pfd), 0);
		pid_t kid = fork();
		if (kid == 0) {
			struct vgpu_chan *kc;
			struct vgpu_welcome kw;
			struct vgpu_hello kh;
			ptest_hello(&kh, VGPU_HELLO_NEW_ZONE, NULL, "victim");
			char ok = ptest_open(&p, &kh, sizeof(kh), &kc, &kw) == 0 ? 'y' : 'n';
			if (write(pfd[1], &ok, 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		char ok = 0;
		CHECK_EQ(read(pfd[0], &ok, 1), 1);
		CHECK_EQ(ok, 'y');
		CHECK_EQ(ptest_zone_count(&p), 2);
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
		CHECK_EQ(ptest_wait_zones(&p, 1), 0);
		CHECK_EQ(ptest_stats(&p, stats, sizeof(stats)), 0);
		CHECK(strstr(stats, "victim") == NULL);
		close(pfd[0]);
		close(pfd[1]);
	}

	/* 6b. A worker that dies (a driver crash, say): its client sees the channel gone, the
	 * supervisor reaps it and the other zones are untouched (checked in 8). */
	{
		char buf[8192], *zl;
		unsigned client;
		int wpid = -1;
		struct vgpu_msg_hdr mh;
		uint8_t rep[64];
		ptest_hello(&h, VGPU_HELLO_NEW_ZONE, NULL, "crashy");
		CHECK_EQ(ptest_open(&p, &h, sizeof(h), &c, &w), 0);
		if (ptest_stats(&p, buf, sizeof(buf)) == 0 && (zl = strstr(buf, "name=crashy client=")))
			sscanf(zl, "name=crashy client=%u worker=%d", &client, &wpid);
		CHECK(wpid > 0);
		if (wpid > 0 && c) {
			kill(wpid, SIGKILL);
			CHECK_EQ(vgpu_chan_recv(c, &mh, rep, sizeof(rep)), -EPIPE);
		}
		if (c)
			vgpu_chan_close(c);
		CHECK_EQ(ptest_wait_zones(&p, 1), 0);
	}

	/* 7. 200 connect/disconnect cycles leave the supervisor's fds and memory flat. */
	{
		long fd0 = -1, rss0 = -1;
		for (int i = 0; i < 220; i++) {
			if (i == 20) {
				CHECK_EQ(ptest_wait_zones(&p, 1), 0);
				fd0 = count_fds(p.pid);
				rss0 = rss_kib(p.pid);
			}
			ptest_hello(&h, (i & 1) ? VGPU_HELLO_JOIN : VGPU_HELLO_NEW_ZONE, (i & 1) ? w1.token : NULL, "cycle");
			rc = ptest_open(&p, &h, sizeof(h), &c, &w);
			CHECK_EQ(rc, 0);
			if (rc == 0)
				vgpu_chan_close(c);
			if (check_failures)
				break;
		}
		CHECK_EQ(ptest_wait_zones(&p, 1), 0);
		long fd1 = count_fds(p.pid), rss1 = rss_kib(p.pid);
		printf("supervisor after 200 cycles: fds %ld -> %ld, RSS %ld -> %ld KiB\n", fd0, fd1, rss0, rss1);
		CHECK(fd0 > 0 && fd1 == fd0);
		CHECK(rss0 > 0 && rss1 - rss0 < 2048);
	}

	/* 8. The first zone is untouched by all of the above. */
	{
		struct vgpu_msg_hdr mh;
		uint8_t rep[64];
		CHECK_EQ(vgpu_chan_send(c2, 0xfe00, 0, 5, "\x90", 1), 0);
		rc = vgpu_chan_recv(c2, &mh, rep, sizeof(rep));
		CHECK_EQ(rc, 4);
		CHECK_EQ(mh.seq, 5);
	}
	vgpu_chan_close(c1);
	vgpu_chan_close(c2);
	CHECK_EQ(ptest_wait_zones(&p, 0), 0);

	/* 9. SIGTERM: clean exit, socket removed. */
	CHECK_EQ(ptest_stop(&p), 0);
	CHECK(access(p.sock, F_OK) != 0);
	if (check_failures)
		ptest_dump_log(&p);
	ptest_cleanup(&p);

	/* 10. --transport xen where there is no xenstore (not Dom0): the proxy refuses to start
	 * and says why, rather than serving without the zones it was asked to watch for. */
	{
		struct ptest_proxy x = { .pid = -1 };
		const char *xargs[] = { "--transport", "xen", NULL };
		char cmd[400];
		CHECK(ptest_start(&x, drv, xargs) < 0);
		snprintf(cmd, sizeof(cmd), "grep -q 'transport xen: cannot open xenstore' %s", x.log);
		CHECK(system(cmd) == 0);
		if (check_failures)
			ptest_dump_log(&x);
		ptest_cleanup(&x);
	}
	CHECK_DONE();
}
