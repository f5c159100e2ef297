"""Why the default layout looks as it does: single layers' training speed on CPU.

    python scripts/bench_layers.py [--threads 2] [--batch 32]

Times forward + backward of single layers (batch 32 by default) on the feature-map sizes
of a 40^3 subtomogram, in both memory formats, and prints GFLOP/s as a fraction of the
fp32 matmul rate measured in the same run. Convolutions on one input channel (the
stems) and normalisation or pooling at 20^3 are memory-bound; convolutions with 16 or
more channels at 10^3 and 5^3 run near the matmul rate.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench_training import matmul_gflops

LAYERS = [  # label, layer, input shape without the batch, whether the input needs a gradient
    ("stem 1->8, 3^3 stride 2, 40^3", nn.Conv3d(1, 8, 3, 2, 1, bias=False), (1, 40, 40, 40), False),
    ("stem 1->8, 5^3 stride 2, 40^3", nn.Conv3d(1, 8, 5, 2, 2, bias=False), (1, 40, 40, 40), False),
    ("bin 2 + stem 1->16, 3^3 stride 2",
     nn.Sequential(nn.AvgPool3d(2), nn.Conv3d(1, 16, 3, 2, 1, bias=False)), (1, 40, 40, 40), False),
    ("batch norm, 8 x 20^3", nn.BatchNorm3d(8), (8, 20, 20, 20), True),
    ("max-pool 2, 8 x 20^3", nn.MaxPool3d(2), (8, 20, 20, 20), True),
    ("8->16, 3^3, 10^3", nn.Conv3d(8, 16, 3, 1, 1, bias=False), (8, 10, 10, 10), True),
    ("16->32, 3^3, 10^3", nn.Conv3d(16, 32, 3, 1, 1, bias=False), (16, 10, 10, 10), True),
    ("16->32, 5^3, 10^3", nn.Conv3d(16, 32, 5, 1, 2, bias=False), (16, 10, 10, 10), True),
    ("16->32, 3^3 dilation 2, 10^3", nn.Conv3d(16, 32, 3, 1, 2, 2, bias=False),
     (16, 10, 10, 10), True),
    ("32->64, 3^3, 5^3", nn.Conv3d(32, 64, 3, 1, 1, bias=False), (32, 5, 5, 5), True),
]


def train_step_seconds(layer: nn.Module, x: torch.Tensor, repeats: int = 5) -> float:
    grad = torch.randn_like(layer(x))  # a real gradient: sum().backward() hits slow paths
    for _ in range(2):
        layer(x).backward(grad)
    start = time.perf_counter()
    for _ in range(repeats):
        layer(x).backward(grad)
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peak = matmul_gflops()
    print(f"fp32 matmul: {peak:.0f} GFLOP/s ({args.threads} threads)")
    print("| layer | memory format | ms per step | GFLOP/s | of matmul |")
    print("|---|---|---|---|---|")
    for label, layer, shape, needs_grad in LAYERS:
        for channels_last in (False, True):
            x = torch.randn(args.batch, *shape)
            if channels_last:
                layer = layer.to(memory_format=torch.channels_last_3d)
                x = x.contiguous(memory_format=torch.channels_last_3d)
            x.requires_grad_(needs_grad)
            with FlopCounterMode(display=False) as counter:
                layer(x).backward(torch.randn_like(layer(x)))
            seconds = train_step_seconds(layer, x)
            rate = counter.get_total_flops() / seconds / 1e9
            fraction = f"{rate / peak:.2f}" if rate else "–"
            print(f"| {label} | {'channels-last' if channels_last else 'contiguous'} "
                  f"| {seconds * 1e3:.1f} | {rate:.0f} | {fraction} |", flush=True)


if __name__ == "__main__":
    main()
