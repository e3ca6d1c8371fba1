/* SPDX-License-Identifier: MIT */
/* main.c — vgpu-proxy's command line: options, the start-up backend probe, then the supervisor. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "devva.h"
#include "proxyd.h"
#include "quota.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: vgpu-proxy [OPTIONS]\n"
"       vgpu-proxy --stats [--listen PATH | --ctl PATH]\n"
"\n"
"Serves CUDA driver calls for zones (libvgpu clients): one worker process per zone,\n"
"each with its own handles, allocations and quotas.\n"
"\n"
"  --listen PATH            unix socket to listen on (default " VGPU_DEFAULT_SOCKET ");\n"
"                           its directory is created; stats are served on PATH.ctl (--ctl)\n"
"  --backend auto|cuda|sim  driver: auto = libcuda.so.1 if it reports a GPU, else the\n"
"                           simulator (default auto)\n"
"  --sim-lib PATH           simulator library (default: $VGPU_SIM_LIB, else\n"
"                           libcudasim.so beside the binary or in ../sim/)\n"
"  --zone-mem-limit BYTES   device memory per zone, K/M/G/T suffixes (default 0 = unlimited)\n"
"  --zone-handle-limit N    live handles per zone (default 65536)\n"
"  --zone-bulk-limit BYTES  bulk bytes one zone may have staged at once (default 1G)\n"
"  --zone-pinned-limit BYTES  pinned host memory one zone may share with its worker for\n"
"                           copies without the ring (default 4G; 0: none, pinned memory\n"
"                           is then ordinary memory of the zone, copied through the ring)\n"
"  --max-zones N            zones at once (default 256)\n"
"  --transport shm|xen      how zones connect (default shm). xen (in Dom0): also watch xenstore\n"
"                           for channels that guest domains publish under\n"
"                           /local/domain/<domid>/data/vgpu/ (see docs/XEN.md); a zone of a\n"
"                           domain ends when the domain goes away\n"
"  --log-level LEVEL        error|warn|info|debug (default info)\n"
"  --foreground             stay in the foreground (the default; no daemon mode)\n"
"  --socket-mode MODE       permissions of the zone socket PATH, octal (default 0660; 0666 lets\n"
"                           non-root users in pods connect: use it with --require-registration)\n"
"  --ctl PATH               the control socket (registrations, stats; mode 0600; default\n"
"                           PATH.ctl). Put it outside the zone socket's directory when pods\n"
"                           get that directory mounted\n"
"  --registry FILE          keep registrations in FILE (mode 0600, rewritten atomically on\n"
"                           every change) and restore them at start: running pods keep\n"
"                           their tokens across a proxy restart\n"
"  --require-registration   zones must present a registration's token (VGPU_ZONE_TOKEN in the\n"
"                           client); registrations are made with vgpuctl on PATH.ctl\n"
"  --state-dir DIR          zones outlive the supervisor: each worker listens on\n"
"                           DIR/zone-ID.sock, SIGTERM (an upgrade) or a crash leaves them\n"
"                           running, and a supervisor started with the same options adopts\n"
"                           them (use it with --registry; SIGINT still ends every zone);\n"
"                           needed to checkpoint, restore and migrate zones (vgpuctl)\n"
"  --adopt-timeout SECONDS  with --state-dir: a worker no supervisor adopts within this\n"
"                           ends its zone (default 300)\n"
"  --rejoin-timeout SECONDS a zone restored from a file whose worker is gone waits this long\n"
"                           for its programs' channels to rejoin (default 300)\n"
"  --checkpoint-globals place|copy  how checkpoints carry module globals: place keeps\n"
"                           their addresses (the default where the backend can: the\n"
"                           simulator); copy carries their values by name, as on a GPU\n"
"                           driver, and translates the addresses a zone took of them to\n"
"                           where the restored module has them\n"
"  --zone-mem-view quota|device  how much device memory a zone is told there is\n"
"                           (cuMemGetInfo, cuDeviceTotalMem, and NVML over them): quota (the\n"
"                           default) caps the total at its memory quota (and its registration's)\n"
"                           and the free memory at what is left of them, so a program that\n"
"                           sizes itself by the device (vLLM, DeepSpeed) fits its quota; device\n"
"                           passes the driver's answers on\n"
"  --device-va driver|fixed[@BASE]  where zones' device memory goes: driver (the default)\n"
"                           lets the driver choose; fixed places cuMemAlloc'd memory and\n"
"                           stream-ordered allocations (default pool, or a pool of\n"
"                           device memory the zone created) in a\n"
"                           1 TiB window at BASE (hex, default 200000000000), the same in every\n"
"                           worker, so that a checkpoint restores and a zone moves on a GPU,\n"
"                           whose driver chooses other addresses in a new process\n"
"  --stats                  print one line per zone of the running proxy and exit\n"
"  --help                   this text\n");
}

/* An option of two values: 0 for the first, 1 for the second, -1 (said on stderr) for anything else. */
static int one_of(const char *opt, const char *arg, const char *first, const char *second)
{
	if (!strcmp(arg, first) || !strcmp(arg, second))
		return !strcmp(arg, second);
	fprintf(stderr, "vgpu-proxy: --%s %s: expected %s or %s\n", opt, arg, first, second);
	return -1;
}

/* Decide the backend once, in a short-lived child, so the supervisor never initialises CUDA. */
static int probe_backend(struct vgpu_proxy_config *cfg)
{
	struct { int rc; int kind; int ndev; CUuuid uuid[VGPU_VISIBLE_MAX]; char desc[600]; char why[512]; } r;
	int pfd[2];

	if (pipe(pfd) < 0) {
		vgpu_err("pipe: %s", strerror(errno));
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		vgpu_err("fork: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		struct vgpu_backend b;
		memset(&r, 0, sizeof(r));
		close(pfd[0]);
		r.rc = vgpu_backend_load(cfg->backend, cfg->sim_path, &b, r.why, sizeof(r.why));
		if (r.rc == 0) {
			r.kind = b.kind;
			vgpu_backend_describe(&b, r.desc, sizeof(r.desc));
			/* the devices zones are shown, for their CUDA_VISIBLE_DEVICES (devsel.c) */
			if (b.fn.cuDeviceGetCount(&r.ndev) != CUDA_SUCCESS || r.ndev < 0)
				r.ndev = 0;
			if (r.ndev > (int)VGPU_VISIBLE_MAX)
				r.ndev = VGPU_VISIBLE_MAX;
			for (int i = 0; i < r.ndev; i++) {
				CUdevice d;
				if (b.fn.cuDeviceGet(&d, i) != CUDA_SUCCESS || !b.fn.cuDeviceGetUuid_v2 ||
				    b.fn.cuDeviceGetUuid_v2(&r.uuid[i], d) != CUDA_SUCCESS)
					memset(&r.uuid[i], 0, sizeof(r.uuid[i]));
			}
		}
		ssize_t w = write(pfd[1], &r, sizeof(r));
		_exit(w == (ssize_t)sizeof(r) ? 0 : 1);
	}
	close(pfd[1]);
	ssize_t n = read(pfd[0], &r, sizeof(r));
	close(pfd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(r)) {
		vgpu_err("the backend probe crashed (status 0x%x); try --backend sim --sim-lib PATH", st);
		return -EIO;
	}
	r.desc[sizeof(r.desc) - 1] = r.why[sizeof(r.why) - 1] = '\0';
	if (r.rc < 0) {
		vgpu_err("no usable driver backend: %s. Build the simulator (make) or pass --sim-lib PATH, "
			 "or --backend cuda on a machine with an NVIDIA GPU", r.why);
		return r.rc;
	}
	cfg->backend_resolved = r.kind;
	cfg->ndev = r.ndev;
	memcpy(cfg->dev_uuid, r.uuid, sizeof(cfg->dev_uuid));
	const char *pv = getenv("CUDA_VISIBLE_DEVICES");
	cfg->parent_visible = pv ? strdup(pv) : NULL;
	vgpu_info("backend: %s", r.desc);
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_LISTEN = 1, O_BACKEND, O_SIMLIB, O_MEM, O_HANDLES, O_BULK, O_MAXZ, O_TRANSPORT,
	       O_LOGLEVEL, O_FG, O_STATS, O_HELP, O_REQREG, O_SOCKMODE, O_CTL, O_REGISTRY, O_PINNED, O_STATEDIR, O_ADOPT, O_REJOIN,
	       O_CKGLOB, O_DEVVA, O_MEMVIEW };
	static const struct option opts[] = {
		{ "listen", required_argument, 0, O_LISTEN },
		{ "backend", required_argument, 0, O_BACKEND },
		{ "sim-lib", required_argument, 0, O_SIMLIB },
		{ "zone-mem-limit", required_argument, 0, O_MEM },
		{ "zone-handle-limit", required_argument, 0, O_HANDLES },
		{ "zone-bulk-limit", required_argument, 0, O_BULK },
		{ "zone-pinned-limit", required_argument, 0, O_PINNED },
		{ "max-zones", required_argument, 0, O_MAXZ },
		{ "transport", required_argument, 0, O_TRANSPORT },
		{ "log-level", required_argument, 0, O_LOGLEVEL },
		{ "foreground", no_argument, 0, O_FG },
		{ "stats", no_argument, 0, O_STATS },
		{ "require-registration", no_argument, 0, O_REQREG },
		{ "socket-mode", required_argument, 0, O_SOCKMODE },
		{ "ctl", required_argument, 0, O_CTL },
		{ "registry", required_argument, 0, O_REGISTRY },
		{ "state-dir", required_argument, 0, O_STATEDIR },
		{ "adopt-timeout", required_argument, 0, O_ADOPT },
		{ "rejoin-timeout", required_argument, 0, O_REJOIN },
		{ "checkpoint-globals", required_argument, 0, O_CKGLOB },
		{ "device-va", required_argument, 0, O_DEVVA },
		{ "zone-mem-view", required_argument, 0, O_MEMVIEW },
		{ "help", no_argument, 0, O_HELP },
		{ 0, 0, 0, 0 },
	};
	struct vgpu_proxy_config cfg;
	const char *sim_opt = NULL;
	int stats = 0, c, rc;
	uint64_t v;

	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.listen_path, sizeof(cfg.listen_path), "%s", VGPU_DEFAULT_SOCKET);
	cfg.backend = VGPU_BACKEND_AUTO;
	cfg.limits.handles = 65536;
	cfg.limits.bulk_inflight = 1ull << 30;
	cfg.limits.pinned_bytes = 4ull << 30;
	cfg.adopt_timeout_s = 300;
	cfg.rejoin_timeout_s = 300;
	cfg.max_zones = 256;
	cfg.socket_mode = 0660;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			if (strlen(optarg) + 5 > 107) {   /* PATH.ctl must fit sun_path too */
				fprintf(stderr, "vgpu-proxy: --listen %s: path too long for a unix socket (max 102 bytes)\n", optarg);
				return 2;
			}
			snprintf(cfg.listen_path, sizeof(cfg.listen_path), "%s", optarg);
			break;
		case O_BACKEND:
			if ((cfg.backend = vgpu_backend_parse(optarg)) < 0) {
				fprintf(stderr, "vgpu-proxy: --backend %s: expected auto, cuda or sim\n", optarg);
				return 2;
			}
			break;
		case O_SIMLIB: sim_opt = optarg; break;
		case O_MEM:
		case O_BULK:
		case O_PINNED:
			if ((rc = vgpu_size_parse(optarg, &v)) < 0) {
				fprintf(stderr, "vgpu-proxy: %s %s: expected a byte count such as 512M or 2G (%s)\n",
					c == O_MEM ? "--zone-mem-limit" : c == O_BULK ? "--zone-bulk-limit" :
					"--zone-pinned-limit", optarg, strerror(-rc));
				return 2;
			}
			if (c == O_MEM)
				cfg.limits.mem_bytes = v;
			else if (c == O_BULK)
				cfg.limits.bulk_inflight = v;
			else
				cfg.limits.pinned_bytes = v;
			break;
		case O_HANDLES:
		case O_MAXZ:
			if (vgpu_size_parse(optarg, &v) < 0 || v == 0 || v > (1u << 28)) {
				fprintf(stderr, "vgpu-proxy: %s %s: expected a number from 1 to 268435456\n",
					c == O_HANDLES ? "--zone-handle-limit" : "--max-zones", optarg);
				return 2;
			}
			if (c == O_HANDLES)
				cfg.limits.handles = (uint32_t)v;
			else
				cfg.max_zones = (unsigned)v;
			break;
		case O_TRANSPORT:
			if (!strcmp(optarg, "shm"))
				cfg.transport = VGPU_TRANSPORT_SHM;
			else if (!strcmp(optarg, "xen"))
				cfg.transport = VGPU_TRANSPORT_XEN;
			else {
				fprintf(stderr, "vgpu-proxy: --transport %s: expected shm or xen\n", optarg);
				return 2;
			}
			break;
		case O_LOGLEVEL:
			if ((rc = vgpu_log_parse_level(optarg)) < 0) {
				fprintf(stderr, "vgpu-proxy: --log-level %s: expected error, warn, info or debug\n", optarg);
				return 2;
			}
			vgpu_log_set_level(rc);
			break;
		case O_FG: break;
		case O_STATS: stats = 1; break;
		case O_REQREG: cfg.require_registration = 1; break;
		case O_SOCKMODE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);
			if (!*optarg || *end || m > 0777) {
				fprintf(stderr, "vgpu-proxy: --socket-mode %s: expected an octal mode such as 0660 or 0666\n", optarg);
				return 2;
			}
			cfg.socket_mode = (unsigned)m;
			break;
		}
		case O_CTL:
			if (strlen(optarg) > 107) {
				fprintf(stderr, "vgpu-proxy: --ctl %s: path too long for a unix socket (max 107 bytes)\n", optarg);
				return 2;
			}
			snprintf(cfg.ctl_path, sizeof(cfg.ctl_path), "%s", optarg);
			break;
		case O_REGISTRY:
			if (optarg[0] != '/' || strlen(optarg) >= sizeof(cfg.registry_path) - 8) {
				fprintf(stderr, "vgpu-proxy: --registry %s: expected an absolute path (at most %zu bytes)\n",
					optarg, sizeof(cfg.registry_path) - 9);
				return 2;
			}
			snprintf(cfg.registry_path, sizeof(cfg.registry_path), "%s", optarg);
			break;
		case O_STATEDIR:
			/* zone-<id>.sock must fit a unix socket path */
			if (optarg[0] != '/' || strlen(optarg) > 80) {
				fprintf(stderr, "vgpu-proxy: --state-dir %s: expected an absolute path of at most 80 bytes\n",
					optarg);
				return 2;
			}
			snprintf(cfg.state_dir, sizeof(cfg.state_dir), "%s", optarg);
			break;
		case O_ADOPT:
			if (vgpu_size_parse(optarg, &v) < 0 || v == 0 || v > 86400) {
				fprintf(stderr, "vgpu-proxy: --adopt-timeout %s: expected seconds from 1 to 86400\n", optarg);
				return 2;
			}
			cfg.adopt_timeout_s = (unsigned)v;
			break;
		case O_REJOIN:
			if (vgpu_size_parse(optarg, &v) < 0 || v == 0 || v > 86400) {
				fprintf(stderr, "vgpu-proxy: --rejoin-timeout %s: expected seconds from 1 to 86400\n", optarg);
				return 2;
			}
			cfg.rejoin_timeout_s = (unsigned)v;
			break;
		case O_MEMVIEW:
			if ((cfg.mem_view_device = one_of("zone-mem-view", optarg, "quota", "device")) < 0)
				return 2;
			break;
		case O_CKGLOB:
			if ((cfg.ckpt_globals_copy = one_of("checkpoint-globals", optarg, "place", "copy")) < 0)
				return 2;
			break;
		case O_DEVVA: {
			char *end = NULL;
			uint64_t base = VGPU_DEVVA_BASE;
			if (!strcmp(optarg, "driver")) {
				cfg.devva_size = 0;
				break;
			}
			if (!strncmp(optarg, "fixed@", 6)) {
				errno = 0;
				base = strtoull(optarg + 6, &end, 16);
				if (errno || end == optarg + 6 || *end)
					base = 1;   /* refused below */
			} else if (strcmp(optarg, "fixed")) {
				base = 1;
			}
			struct vgpu_devva probe;
			vgpu_devva_init(&probe);
			int bad = vgpu_devva_enable(&probe, base, VGPU_DEVVA_SIZE) < 0 || base + VGPU_DEVVA_SIZE > (1ull << 47);
			vgpu_devva_destroy(&probe);
			if (bad) {
				fprintf(stderr, "vgpu-proxy: --device-va %s: expected driver, fixed or fixed@BASE (BASE in hex, "
					"a multiple of 2 MiB with 1 TiB free above it below 0x800000000000)\n", optarg);
				return 2;
			}
			cfg.devva_base = base;
			cfg.devva_size = VGPU_DEVVA_SIZE;
			break;
		}
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vgpu-proxy: unexpected argument '%s'; see --help\n", argv[optind]);
		return 2;
	}
	if (!cfg.ctl_path[0] &&
	    snprintf(cfg.ctl_path, sizeof(cfg.ctl_path), "%.102s.ctl", cfg.listen_path) >= (int)sizeof(cfg.ctl_path)) {
		fprintf(stderr, "vgpu-proxy: %s.ctl is too long for a unix socket; pass --ctl PATH\n", cfg.listen_path);
		return 2;
	}
	if (stats)
		return vgpu_ctl_client("vgpu-proxy --stats", cfg.ctl_path, "stats", stdout) == 2 ? 1 : 0;
	if (vgpu_backend_find_sim(sim_opt, cfg.sim_path, sizeof(cfg.sim_path)) < 0 &&
	    cfg.backend == VGPU_BACKEND_SIM) {
		vgpu_err("simulator library not found at %s; build it (make) or pass --sim-lib PATH", cfg.sim_path);
		return 1;
	}
	if (probe_backend(&cfg) < 0)
		return 1;
	int status = vgpu_supervisor_run(&cfg);
	free((char *)cfg.parent_visible);
	return status;
}
