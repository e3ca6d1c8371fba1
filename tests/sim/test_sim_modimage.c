/* SPDX-License-Identifier: MIT */
/* runtime/modimage.c: image kinds and lengths, PTX extraction from ZSTD and LZ4 fatbins,
 * SASS-only detection, kernel parameter layouts from PTX, cubin and fatbin (which must
 * agree with each other and with the C layout), and robustness against truncated and
 * randomly corrupted images (run under ASan). */
#include "modimage.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPECT(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
		exit(1); \
	} } while (0)

static void *rd(const char *rel, size_t *n)
{
	char path[1024];
	const char *b = getenv("VGPU_BUILD");
	snprintf(path, sizeof(path), "%s/%s", b ? b : "build/rel", rel);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *p = malloc((size_t)len + 1);
	EXPECT(p && fread(p, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	p[len] = 0;
	*n = (size_t)len;
	return p;
}

static const struct vgpu_kernel_info *find(const struct vgpu_kernel_info *k, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(k[i].name, name))
			return &k[i];
	fprintf(stderr, "kernel %s not found\n", name);
	exit(1);
}

struct params { int a; double b; char c; float d[3]; short e; };

static void check_layouts(const struct vgpu_kernel_info *k, size_t n, const char *what)
{
	EXPECT(n >= 12);
	const struct vgpu_kernel_info *mp = find(k, n, "many_params");
	/* (char, short, int, long long, float, double, struct params, unsigned char, double *) */
	static const uint32_t off[] = {0, 2, 4, 8, 16, 24, 32, 72, 80};
	static const uint32_t sz[] = {1, 2, 4, 8, 4, 8, sizeof(struct params), 1, 8};
	EXPECT(sizeof(struct params) == 40 && _Alignof(struct params) == 8);
	if (mp->nparams != 9) {
		fprintf(stderr, "%s: many_params has %u params\n", what, mp->nparams);
		exit(1);
	}
	for (int i = 0; i < 9; i++)
		if (mp->params[i].offset != off[i] || mp->params[i].size != sz[i]) {
			fprintf(stderr, "%s: param %d at %u size %u, want %u/%u\n", what, i,
			        mp->params[i].offset, mp->params[i].size, off[i], sz[i]);
			exit(1);
		}
	EXPECT(mp->param_bytes == 88);
	const struct vgpu_kernel_info *va = find(k, n, "vec_add");
	EXPECT(va->nparams == 4 && va->param_bytes == 28);
	EXPECT(va->params[3].offset == 24 && va->params[3].size == 4);
	const struct vgpu_kernel_info *gs = find(k, n, "grid_stride");
	EXPECT(gs->nparams == 4 && gs->params[3].offset == 24 && gs->params[3].size == 8);
}

static void same_kernels(const struct vgpu_kernel_info *a, size_t na,
                         const struct vgpu_kernel_info *b, size_t nb)
{
	EXPECT(na == nb);
	for (size_t i = 0; i < na; i++) {
		const struct vgpu_kernel_info *o = find(b, nb, a[i].name);
		EXPECT(o->nparams == a[i].nparams && o->param_bytes == a[i].param_bytes);
		for (uint32_t j = 0; j < o->nparams; j++)
			EXPECT(o->params[j].offset == a[i].params[j].offset &&
			       o->params[j].size == a[i].params[j].size);
	}
}

static uint32_t rng = 12345;
static uint32_t next(void) { rng = rng * 1103515245u + 12345u; return rng >> 8; }

/* Random corruption must never crash (ASan watches) nor claim more bytes than given. */
static void mutate(const unsigned char *img, size_t n, int rounds)
{
	unsigned char *c = malloc(n);
	for (int r = 0; r < rounds; r++) {
		memcpy(c, img, n);
		int flips = 1 + (int)(next() % 8);
		for (int i = 0; i < flips; i++) {
			size_t at = next() % (next() % 4 ? (n < 160 ? n : 160) : n);
			c[at] = (unsigned char)next();
		}
		size_t len;
		if (vgpu_modimage_size(c, n, &len) > 0)
			EXPECT(len <= n);
		char *ptx = NULL;
		if (vgpu_modimage_ptx(c, n, &ptx) == 0)
			free(ptx);
		struct vgpu_kernel_info *k;
		size_t nk;
		if (vgpu_modimage_kernels(c, n, &k, &nk) == 0)
			vgpu_modimage_free_kernels(k, nk);
		char **g;
		size_t ng;
		if (vgpu_modimage_globals(c, n, &g, &ng) == 0)
			vgpu_modimage_free_names(g, ng);
	}
	free(c);
}


/* Device code in host objects and archives: what each walk found. */
struct found { unsigned n; size_t bytes; int ptx; char member[64]; };

static int on_fatbin(void *ctx, const void *fb, size_t len, const char *member)
{
	struct found *f = ctx;
	size_t real;
	EXPECT(vgpu_modimage_size(fb, len, &real) == VGPU_MODIMAGE_FATBIN && real == len);
	f->n++;
	f->bytes += len;
	f->ptx += vgpu_modimage_has_ptx(fb, len) == 1;
	snprintf(f->member, sizeof(f->member), "%s", member);
	return 0;
}

static int stop_at_first(void *ctx, const void *fb, size_t len, const char *member)
{
	(void)ctx; (void)fb; (void)len; (void)member;
	return 7;
}

/* Random corruption of an object or archive never crashes the walk nor hands out a container
 * past the input (on_fatbin checks each). */
static void mutate_devcode(const unsigned char *img, size_t n, int rounds)
{
	unsigned char *c = malloc(n);
	for (int r = 0; r < rounds; r++) {
		memcpy(c, img, n);
		int flips = 1 + (int)(next() % 8);
		for (int i = 0; i < flips; i++)
			c[next() % n] = (unsigned char)next();
		struct found f = {0};
		unsigned count;
		size_t cut = next() % 4 ? n : next() % n;
		(void)vgpu_modimage_devcode(c, cut, on_fatbin, &f, &count);
	}
	free(c);
}

int main(void)
{
	size_t np, nf, nl, nc, n9;
	char *ptx = rd("tests/kernels/basic.ptx", &np);
	unsigned char *fb = rd("tests/kernels/basic.fatbin", &nf);
	unsigned char *lz = rd("tests/kernels/basic_lz4.fatbin", &nl);
	unsigned char *cub = rd("tests/kernels/basic.cubin", &nc);
	unsigned char *s90 = rd("tests/kernels/basic_sm90.fatbin", &n9);
	size_t len;
	char *none;

	/* kinds and lengths */
	EXPECT(vgpu_modimage_size(ptx, np + 1, &len) == VGPU_MODIMAGE_PTX && len == np + 1);
	EXPECT(vgpu_modimage_size(ptx, np, &len) == -EINVAL);     /* NUL not within max */
	EXPECT(vgpu_modimage_size(fb, nf, &len) == VGPU_MODIMAGE_FATBIN && len == nf);
	EXPECT(vgpu_modimage_size(fb, nf - 1, &len) == -EINVAL);
	EXPECT(vgpu_modimage_size(cub, nc, &len) == VGPU_MODIMAGE_CUBIN && len <= nc && len > nc / 2);
	EXPECT(vgpu_modimage_size(cub, len - 1, &len) == -EINVAL);
	struct { uint32_t magic, version; const void *data; void *unused; } w = {VGPU_FATBIN_WRAPPER_MAGIC, 1, fb, NULL};
	/* the wrapper holds a pointer: size() must refuse it rather than follow it */
	EXPECT(vgpu_modimage_size(&w, sizeof(w), &len) == -EINVAL);
	struct { uint32_t magic, version; const void *data; void *unused; } evil =
		{VGPU_FATBIN_WRAPPER_MAGIC, 1, (const void *)(uintptr_t)0x10, NULL};
	EXPECT(vgpu_modimage_size(&evil, sizeof(evil), &len) == -EINVAL);
	EXPECT(vgpu_modimage_ptx(&evil, sizeof(evil), &none) == -EINVAL);
	EXPECT(vgpu_modimage_unwrap(&w) == fb && vgpu_modimage_unwrap(fb) == fb);
	EXPECT(vgpu_modimage_size("P", 2, &len) == -EINVAL);
	EXPECT(vgpu_modimage_size(" .v", 4, &len) == VGPU_MODIMAGE_PTX && len == 4);
	EXPECT(vgpu_modimage_size("", 1, &len) == -EINVAL);
	EXPECT(vgpu_modimage_size("\x7f" "E", 3, &len) == -EINVAL);
	/* a C string in a heap buffer of its exact size, with a bound far past it (as
	 * cuModuleLoadData gives one): nothing past the NUL is read (in the sanitized build ASan
	 * stops the test if it is) */
	{
		static const char txt[] = ".version 8.0\n.target sm_80\n// 0123456789abcdef\n";
		for (size_t cut = 1; cut < sizeof(txt); cut++) {
			char *h = malloc(cut + 1);
			if (!h)
				break;
			memcpy(h, txt, cut);
			h[cut] = 0;
			EXPECT(vgpu_modimage_size(h, 1 << 20, &len) == VGPU_MODIMAGE_PTX && len == cut + 1);
			free(h);
		}
	}
	/* PTX text, read eight bytes at a time: every byte value at every position of a text
	 * whose NUL is at 61 (and of the bytes after it up to max), against the rule byte by byte:
	 * the text ends at its first NUL, a control byte other than a blank before it means it is
	 * not text, and its first byte after blanks is a '.' or a '/' */
	{
		char t[72];
		int wrong = 0;
		for (size_t at = 0; at < sizeof(t); at++)
			for (unsigned v = 0; v < 256; v++) {
				for (size_t i = 0; i < sizeof(t); i++)
					t[i] = i == 0 ? '.' : i == 61 ? 0 : "ab\tc d\n\x80" "e"[i % 9];
				t[at] = (char)v;
				size_t want = 0, i = 0, q = 0;
				int kind = VGPU_MODIMAGE_PTX;
				for (; i < sizeof(t) && t[i]; i++)
					if ((unsigned char)t[i] < 0x20 && !isspace((unsigned char)t[i]))
						kind = -EINVAL;
				want = i + 1;
				while (q < i && isspace((unsigned char)t[q]))
					q++;
				if (i == 0 || i == sizeof(t) || q == i || (t[q] != '.' && t[q] != '/'))
					kind = -EINVAL;
				len = 0;
				int got = vgpu_modimage_size(t, sizeof(t), &len);
				if (got != kind || (kind > 0 && len != want))
					wrong++;
			}
		EXPECT(wrong == 0);
	}

	/* PTX extraction: ZSTD and LZ4 entries decompress to the same text */
	char *pz, *pl, *pp;
	EXPECT(vgpu_modimage_ptx(fb, nf, &pz) == 0);
	EXPECT(vgpu_modimage_ptx(lz, nl, &pl) == 0);
	EXPECT(vgpu_modimage_ptx(ptx, np + 1, &pp) == 0 && !strcmp(pp, ptx));
	free(pp);
	EXPECT(!strcmp(pz, pl));
	EXPECT(strstr(pz, ".entry vec_add") && strstr(pz, ".entry many_params"));
	EXPECT(vgpu_modimage_ptx(vgpu_modimage_unwrap(&w), nf, &pp) == 0 && !strcmp(pp, pz));
	free(pp);
	EXPECT(vgpu_modimage_ptx(s90, n9, &none) == -ENOEXEC);
	EXPECT(vgpu_modimage_ptx(cub, nc, &none) == -ENOEXEC);

	/* kernel layouts from four sources agree with the C ABI and with each other */
	struct vgpu_kernel_info *k1, *k2, *k3, *k4, *k5;
	size_t n1, n2, n3, n4, n5;
	EXPECT(vgpu_modimage_kernels(ptx, np + 1, &k1, &n1) == 0);
	EXPECT(vgpu_modimage_kernels(fb, nf, &k2, &n2) == 0);     /* from the ELF's .nv.info */
	EXPECT(vgpu_modimage_kernels(cub, nc, &k3, &n3) == 0);
	EXPECT(vgpu_modimage_kernels(lz, nl, &k4, &n4) == 0);
	EXPECT(vgpu_modimage_kernels(pz, strlen(pz) + 1, &k5, &n5) == 0);
	check_layouts(k1, n1, "ptx");
	check_layouts(k2, n2, "fatbin");
	check_layouts(k3, n3, "cubin");
	same_kernels(k1, n1, k2, n2);
	same_kernels(k1, n1, k3, n3);
	same_kernels(k1, n1, k4, n4);
	same_kernels(k1, n1, k5, n5);
	vgpu_modimage_free_kernels(k1, n1);
	vgpu_modimage_free_kernels(k2, n2);
	vgpu_modimage_free_kernels(k3, n3);
	vgpu_modimage_free_kernels(k4, n4);
	vgpu_modimage_free_kernels(k5, n5);
	EXPECT(vgpu_modimage_kernels(s90, n9, &k1, &n1) == 0 && n1 >= 12);   /* SASS has .nv.info */
	vgpu_modimage_free_kernels(k1, n1);

	/* truncation at every length of the headers, and corruption */
	for (size_t cut = 0; cut < 400; cut++) {
		char *t;
		struct vgpu_kernel_info *k;
		size_t nk;
		EXPECT(vgpu_modimage_size(fb, cut, &len) < 0);
		EXPECT(vgpu_modimage_ptx(fb, cut, &t) < 0);
		EXPECT(vgpu_modimage_kernels(cub, cut, &k, &nk) < 0);
	}
	/* module-scope variables, as cuModuleGetGlobal finds them, in every form of one module */
	{
		static const char *want[] = { "dev_counter", "dev_table", "coeffs" };
		const struct { const void *img; size_t len; const char *what; } forms[] = {
			{ ptx, np + 1, "ptx" }, { cub, nc, "cubin" }, { fb, nf, "fatbin" }, { lz, nl, "lz4 fatbin" },
		};
		for (unsigned f = 0; f < 4; f++) {
			char **names;
			size_t nn;
			EXPECT(vgpu_modimage_globals(forms[f].img, forms[f].len, &names, &nn) == 0);
			for (unsigned w = 0; w < 3; w++) {
				int found = 0;
				for (size_t i = 0; i < nn; i++)
					found |= !strcmp(names[i], want[w]);
				if (!found) {
					fprintf(stderr, "%s: global %s not listed (%zu listed)\n", forms[f].what, want[w], nn);
					exit(1);
				}
			}
			EXPECT(nn == 3);   /* not the printf format ($str) of kernel say */
			vgpu_modimage_free_names(names, nn);
		}
		/* extern, texture references, function-scope and initialized ones; comments */
		static const char src[] =
			".version 7.0\n.target sm_75\n.address_size 64\n"
			"// .global .u32 in_a_comment;\n"
			".extern .global .align 4 .u32 elsewhere;\n"
			".global .texref tex;\n"
			".visible .global .align 4 .b8 init[8] = {1, 2, 3, 4, 5, 6, 7, 8};\n"
			".weak .const .align 8 .u64 w = 7;\n"
			"/* .const .u32 also_a_comment; */\n"
			".visible .entry k()\n{\n.reg .b32 %r<2>;\n.shared .u32 sh;\n ret;\n}\n"
			".global .u32 after;\n";
		char **names;
		size_t nn;
		EXPECT(vgpu_modimage_globals(src, sizeof(src), &names, &nn) == 0 && nn == 3);
		EXPECT(!strcmp(names[0], "init") && !strcmp(names[1], "w") && !strcmp(names[2], "after"));
		vgpu_modimage_free_names(names, nn);
		EXPECT(vgpu_modimage_globals("x", 2, &names, &nn) == -EINVAL && !names && !nn);
		static const char unbalanced[] = ".version 7.0\n.visible .entry k()\n{\n ret;\n";
		EXPECT(vgpu_modimage_globals(unbalanced, sizeof(unbalanced), &names, &nn) == -EINVAL);
	}
	mutate(fb, nf, 3000);
	mutate(lz, nl, 1500);
	mutate(cub, nc, 3000);
	mutate((unsigned char *)ptx, np + 1, 500);
	free(pz);
	free(pl);
	free(ptx);
	free(fb);
	free(lz);
	free(cub);
	free(s90);
	/* kernel names of template code run to thousands of characters: kept whole up to
	 * VGPU_MODIMAGE_NAME_MAX, cut there beyond */
	{
		size_t cap = 16384;
		char *src = malloc(cap), *nm = malloc(5000);
		EXPECT(src && nm);
		nm[0] = '_';
		memset(nm + 1, 'Z', 4999);
		for (unsigned c = 0; c < 2; c++) {
			size_t want = c ? 5000 : 3000;
			snprintf(src, cap, ".version 7.0\n.target sm_75\n.address_size 64\n"
				 ".visible .entry %.*s(.param .u64 p, .param .u32 q)\n{\n ret;\n}\n", (int)want, nm);
			struct vgpu_kernel_info *k;
			size_t nk;
			EXPECT(vgpu_modimage_kernels(src, strlen(src) + 1, &k, &nk) == 0 && nk == 1);
			size_t kept = strlen(k[0].name);
			EXPECT(kept == (c ? VGPU_MODIMAGE_NAME_MAX : want) && !memcmp(k[0].name, nm, kept));
			EXPECT(k[0].nparams == 2 && k[0].params[1].offset == 8 && k[0].param_bytes == 12);
			vgpu_modimage_free_kernels(k, nk);
		}
		free(src);
		free(nm);
	}
	/* device code in a host object, in a static library beside an object without any,
	 * CUDA's device runtime recognised by its text */
	{
		size_t no, na;
		unsigned char *obj = rd("tests/kernels/link_b.rdc.o", &no);
		unsigned char *ar = rd("tests/kernels/liblink_b.a", &na);
		struct found fo = {0}, fa = {0};
		unsigned count;
		EXPECT(vgpu_modimage_devcode(obj, no, on_fatbin, &fo, &count) == 0 && count == 1 && fo.n == 1 && fo.ptx == 1);
		EXPECT(!strcmp(fo.member, ""));
		EXPECT(vgpu_modimage_devcode(ar, na, on_fatbin, &fa, &count) == 0 && count == 1 && fa.bytes == fo.bytes);
		EXPECT(!strcmp(fa.member, "link_b.rdc.o"));
		EXPECT(vgpu_modimage_devcode(ar, na, stop_at_first, NULL, &count) == 7);
		EXPECT(vgpu_modimage_devcode(ar, 60, on_fatbin, &fa, &count) == -EINVAL);      /* cut short */
		EXPECT(vgpu_modimage_devcode(obj, 63, on_fatbin, &fa, &count) == -EINVAL);
		EXPECT(vgpu_modimage_devcode("just text", 10, on_fatbin, &fa, &count) == -EINVAL);   /* neither */
		EXPECT(vgpu_modimage_devcode(NULL, 0, on_fatbin, &fa, &count) == -EINVAL);
		unsigned char *forged = malloc(na);
		EXPECT(forged);
		memcpy(forged, ar, na);
		memcpy(forged + 8 + 48, "18446744073709551615", 10);   /* a member past the end */
		EXPECT(vgpu_modimage_devcode(forged, na, on_fatbin, &fa, &count) == -EINVAL);
		free(forged);
		struct found fe = {0};
		EXPECT(vgpu_modimage_devcode("!<arch>\n", 8, on_fatbin, &fe, &count) == 0 && count == 0);  /* empty */
		mutate_devcode(obj, no, 1500);
		mutate_devcode(ar, na, 1500);
		free(obj);
		free(ar);
		EXPECT(vgpu_modimage_is_devrt(".visible .func (.param .b32 r) __cudaCDP2LaunchDeviceV2(\n") == 1);
		EXPECT(vgpu_modimage_is_devrt(".extern .func (.param .b32 r) __cudaCDP2LaunchDeviceV2(\n") == 0);
	}
	printf("test_sim_modimage: all checks passed\n");
	return 0;
}
