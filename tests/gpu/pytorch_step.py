#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pytorch_step.py: a small fixed-seed training loop (a conv net and an MLP) whose losses can be compared across runs.

stdout gets only what must be the same on every run of the same machine: the CUDA answers
(is_available, device_count) and the loss of every step, rounded to 4 significant digits.
stderr gets what may differ: versions, the device name, NVML's answer, step times
(a line "step_time_ms conv=X mlp=Y" with the median of the timed steps).

Exit status: 0 = done, 1 = a failure, 3 = the device asked for is not available.
"""
import argparse
import os
import statistics
import sys
import time

# cuBLAS is deterministic only with a fixed workspace configuration; set before torch loads.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def parse_args():
    p = argparse.ArgumentParser(
        description="Train a small conv net and an MLP on random data with a fixed seed; "
        "print the losses (stdout) and the median step time (stderr).")
    p.add_argument("--device", default="cuda", help="torch device: cuda (default), cuda:N or cpu")
    p.add_argument("--steps", type=int, default=30, help="training steps per model (default 30)")
    p.add_argument("--warmup", type=int, default=3,
                   help="first steps left out of the median step time (default 3)")
    p.add_argument("--seed", type=int, default=1234, help="random seed (default 1234)")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    return p.parse_args()


def sig4(x):
    """x rounded to 4 significant digits, printed so that equal values print equally."""
    return f"{x:.4g}"


def main():
    args = parse_args()
    try:
        import torch
        import torch.nn as nn
    except Exception as e:  # ImportError, or a broken install failing in its own imports
        print(f"pytorch_step: cannot import torch: {e}", file=sys.stderr)
        return 1
    print(f"torch {torch.__version__}, built for CUDA {torch.version.cuda}", file=sys.stderr)

    cuda = args.device.startswith("cuda")
    if cuda:
        # NVML first (what device_count() consults when it can), then the driver's own answer.
        try:
            nvml = torch.cuda._raw_device_count_nvml()
        except Exception as e:
            nvml = f"unavailable ({e.__class__.__name__})"
        print(f"NVML device count: {nvml}", file=sys.stderr)
        avail = torch.cuda.is_available()
        count = torch.cuda.device_count()
        print(f"torch.cuda.is_available()={avail} torch.cuda.device_count()={count}")
        if not avail or count < 1:
            print(f"pytorch_step: CUDA is not available to torch (is_available()={avail}, "
                  f"device_count()={count})", file=sys.stderr)
            sys.stdout.flush()
            return 3
        print(f"device: {torch.cuda.get_device_name(torch.device(args.device))}", file=sys.stderr)
    dev = torch.device(args.device)

    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    # warn_only: an op without a deterministic kernel warns on stderr instead of stopping the run
    torch.use_deterministic_algorithms(True, warn_only=True)

    def sync():
        if cuda:
            torch.cuda.synchronize(dev)

    def train(name, model, opt, make_batch, loss_fn):
        times = []
        for step in range(args.steps):
            x, y = make_batch(step)
            sync()
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            sync()
            times.append(time.perf_counter() - t0)
            print(f"{name} step {step} loss {sig4(loss.item())}")
        timed = times[args.warmup:] or times
        return statistics.median(timed) * 1e3

    # Data made on the host from one generator, then copied: identical on every device.
    gen = torch.Generator().manual_seed(args.seed)
    images = torch.randn(8, args.batch, 3, 32, 32, generator=gen)
    labels = torch.randint(0, 10, (8, args.batch), generator=gen)
    feats = torch.randn(8, args.batch, 256, generator=gen)
    targets = torch.randn(8, args.batch, 16, generator=gen)
    images, labels, feats, targets = (t.to(dev) for t in (images, labels, feats, targets))

    torch.manual_seed(args.seed)
    conv = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10)).to(dev)
    mlp = nn.Sequential(nn.Linear(256, 512), nn.GELU(), nn.Linear(512, 256), nn.GELU(),
                        nn.Linear(256, 16)).to(dev)
    conv_ms = train("conv", conv, torch.optim.SGD(conv.parameters(), lr=0.05, momentum=0.9),
                    lambda s: (images[s % 8], labels[s % 8]), nn.CrossEntropyLoss())
    mlp_ms = train("mlp", mlp, torch.optim.Adam(mlp.parameters(), lr=1e-3),
                   lambda s: (feats[s % 8], targets[s % 8]), nn.MSELoss())
    print(f"step_time_ms conv={conv_ms:.3f} mlp={mlp_ms:.3f}", file=sys.stderr)
    print("pytorch_step: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
