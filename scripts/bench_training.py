"""Training speed on CPU, as ratios measured in one run (machines here are shared and noisy).

    python scripts/bench_training.py [--samples 256] [--threads 2] [--compile]

Prints: the machine's fp32 matmul GFLOP/s; for each default model, forward FLOPs per
sample, the engine's training samples/s and achieved GFLOP/s (training counted as 3x
forward), the same model in a bare hand-written PyTorch loop, their ratio, and the
projected seconds per epoch of the default training split (1176 particles). With
``--compile``: the default multi-path CNN in the bare loop, eager against ``torch.compile``
(compilation time printed apart).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from cryobench.config import TrainConfig
from cryobench.components import FitContext
from cryobench.data.subtomograms import Subtomograms
from cryobench.registry import Registry
from cryobench.train.engine import train_module

VARIANTS = [  # label, model, parameters, memory format (None: the model's choice)
    ("cnn (default: binned, 16-32-64)", "cnn", {}, None),
    ("cnn, pooled 16-32-64 (previous default)", "cnn", {"layout": "pooled"}, None),
    ("multipath (default: binned, 16-32-64)", "multipath", {"stage1_epochs": 0}, None),
    ("multipath, binned, without channels-last", "multipath", {"stage1_epochs": 0}, False),
    ("multipath, pooled 8-16-32 (previous default)", "multipath",
     {"stage1_epochs": 0, "layout": "pooled", "widths": [8, 16, 32]}, None),
    ("multipath, full 8-16-32", "multipath",
     {"stage1_epochs": 0, "layout": "full", "widths": [8, 16, 32]}, None),
    ("resnet3d", "resnet3d", {}, None),
]
DEFAULT_TRAIN_SPLIT = 1176  # 1634 particles: 80 % training, 90 % of that not validation
BOX, CLASSES, BATCH = 40, 4, 32


def matmul_gflops(seconds: float = 2.0) -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * 1024**3 * count / (time.perf_counter() - start) / 1e9


def forward_flops(module: torch.nn.Module, box: int) -> float:
    with FlopCounterMode(display=False) as counter:
        module(torch.randn(1, 1, box, box, box))
    return float(counter.get_total_flops())


def random_split(samples: int, box: int = BOX, classes: int = CLASSES) -> Subtomograms:
    """Noise volumes with balanced labels: speed does not depend on the content."""
    volumes = np.random.default_rng(0).normal(size=(samples, box, box, box)).astype(np.float32)
    return Subtomograms(volumes, np.arange(samples) % classes, tuple("abcd")[:classes], 1.368)


def engine_rate(model, data: Subtomograms, registry: Registry, *, device: str = "cpu",
                threads: int | None = None, channels_last: bool | None = None) -> float:
    """Training samples/s of one engine epoch (no validation) for a model plugin."""
    cfg = TrainConfig(max_epochs=1, batch_size=BATCH, optimizer="adam", lr=1e-3,
                      weight_decay=0.0, momentum=0.9, schedule="constant", patience=0,
                      device=device, eval_batch_size=256)
    context = FitContext(num_classes=CLASSES, train=cfg, loss=registry.create("loss", "ce"),
                         augmentations=[], seed=0, device=device, threads=threads)
    if channels_last is None:
        channels_last = model.channels_last()
    empty = data.take(np.array([], dtype=int))
    return train_module(lambda: model.build_module(CLASSES, data.box), data, empty, context,
                        channels_last=channels_last).samples_per_second


def bare_loop(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
              channels_last: bool, bf16: bool = False) -> tuple[float, float]:
    """The baseline: the plainest PyTorch training loop over the same tensors (on their
    device), in the same memory format as the engine uses for the model. Returns
    samples/s and the last batch's loss."""
    module = module.to(x.device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    optimizer = torch.optim.Adam(module.parameters(), 1e-3)
    module.train()
    loss = torch.zeros((), device=x.device)
    synchronize(x.device)
    start = time.perf_counter()
    for i in range(0, len(x) - 1, BATCH):
        optimizer.zero_grad()
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = module(x[i:i + BATCH])
        loss = torch.nn.functional.cross_entropy(logits.float(), y[i:i + BATCH])
        loss.backward()
        optimizer.step()
        loss = loss.detach()
    synchronize(x.device)
    return len(x) / (time.perf_counter() - start), loss.item()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def tensors(data: Subtomograms, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(data.volumes)[:, None].to(device),
            torch.from_numpy(data.labels).to(device))


def compile_comparison(model, x: torch.Tensor, y: torch.Tensor) -> None:
    channels_last = model.channels_last()
    eager = max(bare_loop(model.build_module(CLASSES, BOX), x, y, channels_last)[0]
                for _ in range(2))
    module = model.build_module(CLASSES, BOX)
    if channels_last:
        module = module.to(memory_format=torch.channels_last_3d)
    compiled = torch.compile(module)
    start = time.perf_counter()
    bare_loop(compiled, x, y, channels_last)  # compiles on the first batches
    first = time.perf_counter() - start
    steady = max(bare_loop(compiled, x, y, channels_last)[0] for _ in range(2))
    print(f"torch.compile, default multipath: eager {eager:.1f} samples/s, compiled "
          f"{steady:.1f} samples/s ({steady / eager:.2f}x), first epoch with compilation "
          f"{first:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true",
                        help="also compare torch.compile with eager on the default model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    registry = Registry()
    data = random_split(args.samples)
    x, y = tensors(data)
    peak = matmul_gflops()
    print(f"fp32 matmul: {peak:.0f} GFLOP/s ({args.threads} threads)")
    print("| model | fwd GFLOP/sample | engine samples/s | bare loop samples/s | engine/bare "
          "| train GFLOP/s | of matmul | s/epoch (1176) |")
    print("|---|---|---|---|---|---|---|---|")
    for label, name, params, memory_format in VARIANTS:
        model = registry.create("model", name, params)
        channels_last = model.channels_last() if memory_format is None else memory_format
        flops = forward_flops(model.build_module(CLASSES, BOX), BOX)
        engine, bare = 0.0, 0.0
        for _ in range(2):  # alternate, keep the best: neither side pays the warm-up alone
            torch.manual_seed(0)
            bare = max(bare, bare_loop(model.build_module(CLASSES, BOX), x, y, channels_last)[0])
            engine = max(engine, engine_rate(model, data, registry, threads=args.threads,
                                             channels_last=channels_last))
        achieved = 3 * flops * engine / 1e9
        print(f"| {label} | {flops / 1e9:.3f} | {engine:.1f} | {bare:.1f} | {engine / bare:.2f} "
              f"| {achieved:.0f} | {achieved / peak:.2f} | {DEFAULT_TRAIN_SPLIT / engine:.1f} |",
              flush=True)
    if args.compile:
        compile_comparison(registry.create("model", "multipath", {"stage1_epochs": 0}), x, y)

if __name__ == "__main__":
    main()
