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

from cryobench.components import FitContext
from cryobench.config import TrainConfig
from cryobench.data.subtomograms import Subtomograms
from cryobench.registry import Registry
from cryobench.train.engine import train_module

MODELS = [("multipath (default)", "multipath", {"stage1_epochs": 0}), ("cnn", "cnn", {}),
          ("resnet3d", "resnet3d", {})]
BOX, CLASSES = 40, 4


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


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def random_split(samples: int) -> Subtomograms:
    rng = np.random.default_rng(0)
    volumes = rng.normal(size=(samples, BOX, BOX, BOX)).astype(np.float32)
    return Subtomograms(volumes, np.arange(samples) % CLASSES, tuple("abcd"), 1.368)


def train_config(device: torch.device) -> TrainConfig:
    return TrainConfig(max_epochs=1, batch_size=32, optimizer="adam", lr=1e-3,
                       weight_decay=0.0, momentum=0.9, schedule="constant", patience=0,
                       device=device.type, eval_batch_size=256)


def engine_rate(model, data: Subtomograms, device: torch.device, registry: Registry) -> float:
    context = FitContext(num_classes=CLASSES, train=train_config(device),
                         loss=registry.create("loss", "ce"), augmentations=[], seed=0,
                         device=device.type)
    empty = data.take(np.array([], dtype=int))
    return train_module(lambda: model.build_module(CLASSES, BOX), data, empty, context,
                        channels_last=model.channels_last()).samples_per_second


def bare_rate(model, data: Subtomograms, device: torch.device, bf16: bool) -> tuple[float, float]:
    """Samples/s and the last batch's loss of the plainest loop, float32 or bf16 autocast."""
    torch.manual_seed(0)
    module = model.build_module(CLASSES, BOX).to(device)
    x = torch.from_numpy(data.volumes)[:, None].to(device)
    if model.channels_last():
        module = module.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    y = torch.from_numpy(data.labels).to(device)
    optimizer = torch.optim.Adam(module.parameters(), 1e-3)
    loss = torch.zeros((), device=device)
    synchronize(device)
    start = time.perf_counter()
    for i in range(0, len(x) - 1, 32):
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(module(x[i:i + 32]).float(), y[i:i + 32])
        loss.backward()
        loss = loss.detach()
        optimizer.step()
    synchronize(device)
    return len(x) / (time.perf_counter() - start), loss.item()


def shared_worker(rank: int, samples: int, device_type: str, queue) -> None:
    """One of N trials sharing the device: an engine epoch of the default model."""
    device = torch.device(device_type)
    registry = Registry()
    model = registry.create("model", "multipath", {"stage1_epochs": 0})
    data = random_split(samples)
    engine_rate(model, data.take(np.arange(64)), device, registry)  # warm-up
    queue.put((time.perf_counter(), engine_rate(model, data, device, registry)))


def shared_rate(processes: int, samples: int, device: torch.device) -> float:
    context = mp.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=shared_worker, args=(r, samples, device.type, queue))
               for r in range(processes)]
    for worker in workers:
        worker.start()
    rates = [queue.get()[1] for _ in workers]
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
    if bf16:
        torch.backends.cuda.matmul.allow_tf32 = False
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print(f"matmul: float32 {matmul_tflops(device, torch.float32):.1f} TFLOP/s"
          + (f", bf16 {matmul_tflops(device, torch.bfloat16):.1f} TFLOP/s" if bf16 else ""))
    registry = Registry()
    data = random_split(args.samples)
    print("| model | engine samples/s (bf16 on CUDA) | bare fp32 samples/s | bare bf16 samples/s "
          "| bf16/fp32 | loss fp32 / bf16 | peak GiB |")
    print("|---|---|---|---|---|---|---|")
    for label, name, params in MODELS:
        model = registry.create("model", name, params)
        if bf16:
            torch.cuda.reset_peak_memory_stats()
        engine_rate(model, data.take(np.arange(64)), device, registry)  # warm-up
        engine = engine_rate(model, data, device, registry)
        fp32, loss32 = bare_rate(model, data, device, bf16=False)
        half, loss16 = bare_rate(model, data, device, bf16=bf16)
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
