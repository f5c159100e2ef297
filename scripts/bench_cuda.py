"""The CUDA path, measured in one short run (for a session that is lent a GPU).

    python scripts/bench_cuda.py [--samples 2048] [--processes 1 2 4] [--device cuda]

Prints, in one run on one GPU:
- matmul TFLOP/s in float32 (TF32 off) and bf16: the scale for what follows;
- per default model: the engine's training samples/s (bf16 autocast, as trials run) and
  a bare loop's in float32 and in bf16, with final losses (finite, and close between
  float32 and bf16), and peak GPU memory;
- sharing the GPU as fractional ``gpus_per_trial`` would: N processes training the default
  multi-path CNN at once, their summed samples/s against the first ``--processes`` count
  (1 by default) alone.
``--device cpu`` runs the same code on the CPU with bf16 off (a smoke test of the script).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.multiprocessing as mp

from bench_training import (BOX, CLASSES, bare_loop, engine_rate, machine_lines, random_split,
                            synchronize, tensors)
from cryobench.registry import Registry

MODELS = [("multipath (default)", "multipath", {"stage1_epochs": 0}), ("cnn", "cnn", {}),
          ("resnet3d", "resnet3d", {})]


def matmul_tflops(device: torch.device, dtype: torch.dtype, seconds: float = 1.0) -> float:
    a = torch.randn(4096, 4096, device=device, dtype=dtype)
    b = torch.randn(4096, 4096, device=device, dtype=dtype)
    a @ b
    synchronize(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    synchronize(device)
    return 2 * 4096**3 * count / (time.perf_counter() - start) / 1e12


def shared_worker(rank: int, samples: int, device_type: str, queue) -> None:
    """One of N trials sharing the device: an engine epoch of the default model."""
    registry = Registry()
    model = registry.create("model", "multipath", {"stage1_epochs": 0})
    data = random_split(samples)
    engine_rate(model, data.take(np.arange(64)), registry, device=device_type)  # warm-up
    queue.put(engine_rate(model, data, registry, device=device_type))


def shared_rate(processes: int, samples: int, device: torch.device) -> float:
    context = mp.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=shared_worker, args=(r, samples, device.type, queue))
               for r in range(processes)]
    for worker in workers:
        worker.start()
    rates = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    return sum(rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run this on a GPU machine (or --device cpu "
                         "for a smoke test)")
    device = torch.device(args.device)
    bf16 = device.type == "cuda"
    print("\n".join(machine_lines()), flush=True)
    if bf16:
        torch.backends.cuda.matmul.allow_tf32 = False
        print(f"device: {torch.cuda.get_device_name()}")
    print(f"matmul: float32 {matmul_tflops(device, torch.float32):.1f} TFLOP/s"
          + (f", bf16 {matmul_tflops(device, torch.bfloat16):.1f} TFLOP/s" if bf16 else ""))
    registry = Registry()
    data = random_split(args.samples)
    x, y = tensors(data, args.device)
    print("| model | engine samples/s (bf16 on CUDA) | bare fp32 samples/s | bare bf16 samples/s "
          "| bf16/fp32 | loss fp32 / bf16 | peak GiB |")
    print("|---|---|---|---|---|---|---|")
    for label, name, params in MODELS:
        model = registry.create("model", name, params)
        if bf16:
            torch.cuda.reset_peak_memory_stats()
        engine_rate(model, data.take(np.arange(64)), registry, device=args.device)  # warm-up
        engine = engine_rate(model, data, registry, device=args.device)
        torch.manual_seed(0)
        fp32, loss32 = bare_loop(model.build_module(CLASSES, BOX), x, y, model.channels_last())
        torch.manual_seed(0)
        half, loss16 = bare_loop(model.build_module(CLASSES, BOX), x, y, model.channels_last(),
                                 bf16=bf16)
        peak = torch.cuda.max_memory_allocated() / 2**30 if bf16 else float("nan")
        print(f"| {label} | {engine:.0f} | {fp32:.0f} | {half:.0f} | {half / fp32:.2f} "
              f"| {loss32:.3f} / {loss16:.3f} | {peak:.1f} |", flush=True)
    baseline = None
    for processes in args.processes:
        total = shared_rate(processes, args.samples, device)
        baseline = baseline or total
        print(f"{processes} trial(s) sharing the {device.type} device: {total:.0f} samples/s "
              f"in all, {total / baseline:.2f}x the first line", flush=True)


if __name__ == "__main__":
    main()
