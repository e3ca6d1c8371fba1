/* SPDX-License-Identifier: MIT */
/* test_devsel.c — a zone's CUDA_VISIBLE_DEVICES read over the proxy's devices and composed over the proxy's own list (proxy/devsel.c), and its driver settings (runtime/drvenv.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../proxy/proxyd.h"
#include "check.h"

/* three devices whose UUIDs start aa.., ab.., bb.. */
static void devices3(struct vgpu_proxy_config *cfg, const char *parent)
{
	static const unsigned char first[3][2] = { { 0xaa, 0x01 }, { 0xab, 0x02 }, { 0xbb, 0x03 } };
	memset(cfg, 0, sizeof(*cfg));
	cfg->ndev = 3;
	for (int i = 0; i < 3; i++) {
		cfg->dev_uuid[i].bytes[0] = (char)first[i][0];
		cfg->dev_uuid[i].bytes[1] = (char)first[i][1];
	}
	cfg->parent_visible = parent;
}

/* resolve LIST over cfg: the ordinals text (or "" when nothing changes) and how many */
static void resolves(const struct vgpu_proxy_config *cfg, const char *list, int want_k, const char *want)
{
	char dev[VGPU_VISIBLE_TEXT];
	int k = vgpu_devsel_resolve(cfg, list, dev);
	if (k != want_k || strcmp(dev, want)) {
		fprintf(stderr, "resolve [%s]: %d \"%s\", expected %d \"%s\"\n", list, k, dev, want_k, want);
		CHECK(0);
	}
}

/* the environment the worker's driver starts with for ordinals DEV ("" rc: refused) */
static void composes(const struct vgpu_proxy_config *cfg, const char *dev, const char *want)
{
	char env[64], why[200] = "";
	int rc = vgpu_devsel_env(cfg, dev, env, sizeof(env), why, sizeof(why));
	if (want ? (rc != 0 || strcmp(env, want)) : rc == 0) {
		fprintf(stderr, "env [%s] over [%s]: %d \"%s\" (%s), expected %s\n", dev,
			cfg->parent_visible ? cfg->parent_visible : "(unset)", rc, rc ? "" : env, why,
			want ? want : "a refusal");
		CHECK(0);
	}
	if (!want)
		CHECK(strstr(why, dev) != NULL);   /* it says which devices */
}

static int warned;
static void warn(const char *name, const char *value)
{
	(void)name;
	(void)value;
	warned++;
}

/* the settings a process gives its zone's driver: collected from its environment in one
 * order, with values the driver takes; checked strictly; applied as they are */
static void driver_settings(void)
{
	char text[VGPU_DRVENV_BYTES];

	unsetenv("CUDA_LAUNCH_BLOCKING");
	unsetenv("CUDA_DEVICE_MAX_CONNECTIONS");
	unsetenv("CUDA_MODULE_LOADING");
	vgpu_drvenv_collect(text, warn);
	CHECK(!strcmp(text, ""));
	setenv("CUDA_MODULE_LOADING", "EAGER", 1);
	setenv("CUDA_LAUNCH_BLOCKING", "1", 1);
	setenv("CUDA_DEVICE_MAX_CONNECTIONS", "64", 1);   /* not a value the driver takes */
	setenv("CUDA_CACHE_PATH", "/tmp/x", 1);           /* not a setting that travels */
	vgpu_drvenv_collect(text, warn);
	CHECK(!strcmp(text, "CUDA_LAUNCH_BLOCKING=1 CUDA_MODULE_LOADING=EAGER"));
	CHECK_EQ(warned, 1);
	CHECK_EQ(vgpu_drvenv_check(text), 0);
	static const char *const bad[] = {
		"CUDA_MODULE_LOADING=EAGER CUDA_LAUNCH_BLOCKING=1",   /* out of order */
		"CUDA_LAUNCH_BLOCKING=1  CUDA_MODULE_LOADING=EAGER",  /* two spaces */
		" CUDA_LAUNCH_BLOCKING=1", "CUDA_LAUNCH_BLOCKING=1 ", "CUDA_LAUNCH_BLOCKING", "=1",
		"CUDA_LAUNCH_BLOCKING=", "CUDA_LAUNCH_BLOCKING=01", "CUDA_MODULE_LOADING=lazy",
		"CUDA_DEVICE_MAX_CONNECTIONS=0", "CUDA_CACHE_PATH=/tmp", "LD_PRELOAD=x.so",
		"CUDA_LAUNCH_BLOCKING=1\nLD_PRELOAD=x.so",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vgpu_drvenv_check(bad[i]) == 0) {
			fprintf(stderr, "driver settings [%s] accepted\n", bad[i]);
			CHECK(0);
		}
	char unterminated[VGPU_DRVENV_BYTES];
	memset(unterminated, 'A', sizeof(unterminated));
	CHECK(vgpu_drvenv_check(unterminated) < 0);
	unsetenv("CUDA_LAUNCH_BLOCKING");
	unsetenv("CUDA_MODULE_LOADING");
	CHECK_EQ(vgpu_drvenv_apply("CUDA_LAUNCH_BLOCKING=1 CUDA_DEVICE_MAX_CONNECTIONS=8 CUDA_SCALE_LAUNCH_QUEUES=0.5x"), 0);
	CHECK(getenv("CUDA_LAUNCH_BLOCKING") && !strcmp(getenv("CUDA_LAUNCH_BLOCKING"), "1"));
	CHECK(getenv("CUDA_DEVICE_MAX_CONNECTIONS") && !strcmp(getenv("CUDA_DEVICE_MAX_CONNECTIONS"), "8"));
	CHECK(getenv("CUDA_SCALE_LAUNCH_QUEUES") && !strcmp(getenv("CUDA_SCALE_LAUNCH_QUEUES"), "0.5x"));
	CHECK_EQ(vgpu_drvenv_apply("CUDA_CACHE_PATH=/tmp/y"), -EINVAL);
	CHECK(!strcmp(getenv("CUDA_CACHE_PATH"), "/tmp/x"));
}

int main(void)
{
	driver_settings();

	struct vgpu_proxy_config cfg;

	devices3(&cfg, NULL);
	resolves(&cfg, "0,1,2", 3, "");              /* every device in order: nothing to change */
	resolves(&cfg, " 0 , 1 , 2 ", 3, "");
	resolves(&cfg, "0", 1, "0");                 /* the first only */
	resolves(&cfg, "0,1,2,3", 3, "");            /* the list ends at 3 */
	resolves(&cfg, "2,0", 2, "2,0");
	resolves(&cfg, "1,1,0", 1, "1");             /* ends at the repeat */
	resolves(&cfg, "GPU-bb", 1, "2");            /* by UUID prefix */
	resolves(&cfg, "GPU-a,1", 0, "");            /* a prefix of two UUIDs names none */
	resolves(&cfg, "GPU-AB,0", 2, "1,0");        /* case does not matter */
	resolves(&cfg, "3", 0, "");
	resolves(&cfg, "-1", 0, "");
	resolves(&cfg, "", 0, "");
	/* a list as long as a hello takes, naming each device again and again: bounded */
	char longlist[VGPU_HELLO_VISIBLE_BYTES];
	memset(longlist, 0, sizeof(longlist));
	for (size_t i = 0; strlen(longlist) + 8 < sizeof(longlist); i++)
		strcat(longlist, i % 2 ? "GPU-ab," : "2,");
	resolves(&cfg, longlist, 2, "2,1");

	composes(&cfg, "2,0", "2,0");                /* no list of the proxy's: the ordinals */
	composes(&cfg, "1", "1");
	composes(&cfg, "3", NULL);                   /* not a device here (a checkpoint from elsewhere) */
	composes(&cfg, "0,0", NULL);
	composes(&cfg, "x", NULL);
	composes(&cfg, "", NULL);

	/* the proxy's own list: the zone's ordinals are positions in it, its entries kept as written */
	devices3(&cfg, " 5 ,GPU-1234, 3,9,9");
	composes(&cfg, "1", "GPU-1234");
	composes(&cfg, "2,0", "3,5");
	composes(&cfg, "0,1,2", "5,GPU-1234,3");
	/* a list whose entries the driver stops at (a repeated 9) gives fewer devices than entries:
	 * only what the probe counted is there to name */
	cfg.ndev = 1;
	composes(&cfg, "1", NULL);
	composes(&cfg, "0", "5");
	/* too long for the environment buffer */
	devices3(&cfg, "GPU-00000000-0000-0000-0000-000000000001,GPU-00000000-0000-0000-0000-000000000002,0");
	composes(&cfg, "0", "GPU-00000000-0000-0000-0000-000000000001");
	composes(&cfg, "1,0", NULL);
	CHECK_DONE();
}
