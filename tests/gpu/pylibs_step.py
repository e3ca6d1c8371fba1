#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pylibs_step.py — numba and CuPy as programs use them, each result checked on the host.

numba: @cuda.jit kernels (every one goes through the driver's JIT linker: cuLinkCreate,
cuLinkAddData, cuLinkComplete), device arrays, atomics, shared memory. CuPy: elementwise and
reduction kernels (NVRTC + cuModuleLoadData), a RawKernel, a matrix product (cuBLAS), an FFT
(cuFFT). One line per check: "<lib> <check>: verified" or "... MISMATCH ..."; a library that
does not import or sees no device prints "<lib>: skip: why".
Exit: 0 every check that ran verified, 1 a mismatch or an error, 77 neither library ran."""
import sys
import traceback


def numba_part():
    try:
        import importlib.util

        import numpy as np
        from numba import cuda
        # numba-cuda imports its CUDA target's implementation at the first launch; a numba
        # that does not work with the installed numpy fails there, before any CUDA call of
        # its own: import it here, where a failure is numba's and a skip
        if importlib.util.find_spec("numba.cuda.cudaimpl") is not None:
            import numba.cuda.cudaimpl  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any import failure is a skip
        print(f"numba: skip: cannot import ({type(e).__name__}: {e})")
        return None
    if not cuda.is_available():
        print("numba: skip: numba sees no CUDA device")
        return None

    # Defining a kernel imports the rest of numba's CUDA target (no CUDA call yet): a numba
    # that does not work with the installed numpy fails here, directly as through vgpu.
    def define():
        @cuda.jit
        def saxpy(a, x, y, out):
            i = cuda.grid(1)
            if i < out.size:
                out[i] = a * x[i] + y[i]

        @cuda.jit
        def hist(data, bins):
            i = cuda.grid(1)
            if i < data.size:
                cuda.atomic.add(bins, data[i] % 16, 1)

        @cuda.jit
        def block_sum(x, out):
            s = cuda.shared.array(256, dtype=np.float32)
            t = cuda.threadIdx.x
            i = cuda.grid(1)
            s[t] = x[i] if i < x.size else 0.0
            cuda.syncthreads()
            step = 128
            while step > 0:
                if t < step:
                    s[t] += s[t + step]
                cuda.syncthreads()
                step //= 2
            if t == 0:
                out[cuda.blockIdx.x] = s[0]
        return saxpy, hist, block_sum

    try:
        saxpy, hist, block_sum = define()
    except Exception as e:  # noqa: BLE001 - numba's own import failure is a skip
        print(f"numba: skip: cannot define kernels ({type(e).__name__}: {e})")
        return None

    ok = True
    n = 1 << 16
    x = np.arange(n, dtype=np.float32)
    y = np.ones(n, dtype=np.float32)
    d_out = cuda.device_array(n, dtype=np.float32)
    saxpy[(n + 255) // 256, 256](np.float32(2.0), cuda.to_device(x), cuda.to_device(y), d_out)
    good = np.array_equal(d_out.copy_to_host(), 2 * x + y)
    print(f"numba saxpy: {'verified' if good else 'MISMATCH'}")
    ok &= good
    data = np.arange(10000, dtype=np.int32)
    bins = cuda.to_device(np.zeros(16, dtype=np.int32))
    hist[(data.size + 255) // 256, 256](cuda.to_device(data), bins)
    good = np.array_equal(bins.copy_to_host(), np.bincount(data % 16, minlength=16).astype(np.int32))
    print(f"numba atomic histogram: {'verified' if good else 'MISMATCH'}")
    ok &= good
    v = (np.arange(4096, dtype=np.float32) % 7)
    parts = cuda.device_array(16, dtype=np.float32)
    block_sum[16, 256](cuda.to_device(v), parts)
    good = np.allclose(parts.copy_to_host(), v.reshape(16, 256).sum(axis=1))
    print(f"numba shared-memory reduction: {'verified' if good else 'MISMATCH'}")
    ok &= good
    return ok


def cupy_part():
    try:
        import cupy as cp
        import numpy as np
    except Exception as e:  # noqa: BLE001
        print(f"cupy: skip: cannot import ({type(e).__name__}: {e})")
        return None
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            print("cupy: skip: no CUDA device")
            return None
    except Exception as e:  # noqa: BLE001
        print(f"cupy: skip: no CUDA device ({e})")
        return None
    ok = True
    a = cp.arange(1 << 20, dtype=cp.float64)
    got = float((a * 2 + 1).sum())
    n = 1 << 20
    good = got == float(n * (n - 1) + n)
    print(f"cupy elementwise and reduction: {'verified' if good else 'MISMATCH'}")
    ok &= good
    k = cp.RawKernel(r'''extern "C" __global__ void triple(float *x, int n)
{ int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= 3.0f; }''', "triple")
    x = cp.arange(1000, dtype=cp.float32)
    k(((1000 + 127) // 128,), (128,), (x, np.int32(1000)))
    good = bool((x.get() == np.arange(1000, dtype=np.float32) * 3).all())
    print(f"cupy RawKernel: {'verified' if good else 'MISMATCH'}")
    ok &= good
    rng = np.random.default_rng(7)
    m = rng.standard_normal((256, 256)).astype(np.float32)
    good = np.allclose((cp.asarray(m) @ cp.asarray(m)).get(), m @ m, rtol=1e-3, atol=1e-3)
    print(f"cupy matmul (cuBLAS): {'verified' if good else 'MISMATCH'}")
    ok &= good
    s = rng.standard_normal(1024)
    good = np.allclose(cp.fft.fft(cp.asarray(s)).get(), np.fft.fft(s), rtol=1e-6, atol=1e-6)
    print(f"cupy FFT (cuFFT): {'verified' if good else 'MISMATCH'}")
    ok &= good
    return ok


def main():
    results = []
    for part in (numba_part, cupy_part):
        try:
            results.append(part())
        except Exception:  # noqa: BLE001 - a failure through vgpu is the finding
            traceback.print_exc()
            print(f"{part.__name__.split('_')[0]}: ERROR (traceback on stderr)")
            results.append(False)
        sys.stdout.flush()
    ran = [r for r in results if r is not None]
    if not ran:
        return 77
    return 0 if all(ran) else 1


if __name__ == "__main__":
    sys.exit(main())
