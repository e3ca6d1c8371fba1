/* SPDX-License-Identifier: MIT */
/* Module images as applications hand them to cuModuleLoadData: PTX text, cubin ELF,
 * fatbin (raw, or behind the nvcc wrapper struct, which only vgpu_modimage_unwrap reads). Finds an image's length, the PTX inside
 * (decompressing ZSTD/LZ4 entries) and each kernel's parameter layout. Every length and
 * offset read from an image is bounds-checked: images come from untrusted zones. */
#ifndef VGPU_MODIMAGE_H
#define VGPU_MODIMAGE_H

#include <stddef.h>
#include <stdint.h>

enum vgpu_modimage_kind {
	VGPU_MODIMAGE_PTX = 1,     /* NUL-terminated PTX text */
	VGPU_MODIMAGE_CUBIN = 2,   /* ELF */
	VGPU_MODIMAGE_FATBIN = 3,  /* raw fatbin, magic 0xba55ed50 */
};

#define VGPU_FATBIN_MAGIC  0xba55ed50u
#define VGPU_FATBIN_WRAPPER_MAGIC 0x466243b1u

/* Classifies image and measures it, reading at most max bytes and never following a
 * pointer stored in it. Returns the kind (> 0) and *len, or -EINVAL (unrecognised,
 * malformed, longer than max, or nvcc's wrapper struct: unwrap that first). PTX text must be
 * NUL-terminated within max; *len includes the NUL. Safe on untrusted bytes. */
int vgpu_modimage_size(const void *image, size_t max, size_t *len /* out */);

/* The fatbin behind nvcc's wrapper struct (magic 0x466243b1), or image itself when it is
 * not one. It dereferences the pointer inside the struct: only for images in the caller's
 * own address space, never for bytes received from a zone. */
const void *vgpu_modimage_unwrap(const void *image);

struct vgpu_kparam { uint32_t offset, size; };
/* Longest kernel name kept (without its NUL): the longest string a call can carry. Mangled
 * names of template libraries run to thousands of characters; longer ones are cut, and such a
 * kernel is then not found by name. */
#define VGPU_MODIMAGE_NAME_MAX 4096u

struct vgpu_kernel_info {
	char *name;                  /* NUL-terminated, owned by the array */
	uint32_t nparams;
	struct vgpu_kparam *params;  /* nparams entries, by parameter ordinal */
	uint32_t param_bytes;        /* size of the packed parameter buffer */
};

/* Parameter layouts of every kernel in the image (len bytes, already measured). From a
 * cubin's .nv.info.<kernel> EIATTR_KPARAM_INFO records when there is one, else from the PTX
 * .entry signatures. Returns 0 and a malloc'd array (free with vgpu_modimage_free_kernels),
 * -EINVAL for a malformed image, -ENOMEM. */
int vgpu_modimage_kernels(const void *image, size_t len, struct vgpu_kernel_info **out /* out */,
                          size_t *n /* out */);
void vgpu_modimage_free_kernels(struct vgpu_kernel_info *k, size_t n);

/* Names of the image's module-scope variables (.global and .const, as cuModuleGetGlobal
 * finds them; not .extern ones, not texture/sampler/surface references, not the compiler's
 * own constants named with a leading '$', such as printf formats): from the cubin's
 * symbol table (objects in .nv.global* and .nv.constant* sections), else from the PTX.
 * Returns 0 and a malloc'd array of n malloc'd strings (free with vgpu_modimage_free_names),
 * -EINVAL for a malformed image, -ENOMEM. Safe on untrusted bytes. */
int vgpu_modimage_globals(const void *image, size_t len, char ***names /* out */, size_t *n /* out */);
void vgpu_modimage_free_names(char **names, size_t n);

/* 1 when the image holds PTX (text, or a fatbin PTX entry), 0 when only SASS, -EINVAL when
 * malformed. Nothing is decompressed. */
int vgpu_modimage_has_ptx(const void *image, size_t len);
/* The PTX text for the simulator: decompressed, NUL-terminated, malloc'd (caller frees).
 * Returns 0, -ENOEXEC when the image holds only SASS (no PTX), -EINVAL when malformed,
 * -ENOMEM. */
int vgpu_modimage_ptx(const void *image, size_t len, char **ptx /* out */);

/* A module or link input file read whole: its bytes and a NUL after them (len excludes it),
 * or NULL with errno EFBIG (longer than max) or ENOMEM; free() it. The caller opened f. */
/*
 * The device code of a host object (ELF, as nvcc -rdc=true -c makes it) or of a static
 * library of such objects (an ar archive, as libcudadevrt.a): fn is called with each fatbin
 * container of the objects' __nv_relfatbin sections (or .nv_fatbin, where an object has
 * none), in order, with the member's name ("" for an object). A nonzero return of fn stops
 * the walk and is returned. 0 when all was walked (*count containers, 0 when there is no
 * device code); -EINVAL when the input is neither or is malformed. Every length is checked
 * against the input's: the input may be anything a program names.
 */
typedef int (*vgpu_devcode_fn)(void *ctx, const void *fatbin, size_t len, const char *member);
/* The same walk over one device-code section already read (__nv_relfatbin's bytes): fn with
 * each fatbin container in it, padding between containers skipped. 0, or fn's nonzero return. */
int vgpu_modimage_section_fatbins(const void *section, size_t len, const char *member, vgpu_devcode_fn fn,
				  void *ctx, unsigned *count /* in, out: incremented per container */);
/* The name an input's member goes by in logs: "file(member)", or the file's alone. */
void vgpu_modimage_member_label(char *buf, size_t n, const char *file, const char *member);
int vgpu_modimage_devcode(const void *data, size_t len, vgpu_devcode_fn fn, void *ctx, unsigned *count /* out */);

/* 1 when the PTX text is CUDA's device runtime (libcudadevrt, which programs using dynamic
 * parallelism link): the text that defines __cudaCDP2LaunchDeviceV2. The simulator provides
 * those entry points itself, so that text is left out wherever it would link it. */
int vgpu_modimage_is_devrt(const char *ptx);

#include <stdio.h>
void *vgpu_read_file(FILE *f, size_t max, size_t *len /* out */);

#include <cuda.h>
/* What a driver writes back through a module load's JIT options:
 * both logs terminated in their buffers, err (NULL or "": none) as the error log, the bytes
 * filled into the size options, a wall time of 0. */
void vgpu_jit_write_logs(unsigned n, const CUjit_option *opts, void **vals, const char *err);

#endif
