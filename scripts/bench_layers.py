"""Why the default layout looks as it does: single layers' training speed on CPU.

    python scripts/bench_layers.py [--threads 2] [--batch 32] [--repeats 3] [--min-seconds 0.5]

Times forward + backward of single layers (batch 32 by default) on the feature-map sizes
of a 40^3 subtomogram, in both memory formats, and prints GFLOP/s as a fraction of the
fp32 matmul rate measured beside it: per row, ``--repeats`` rounds of a matmul window and a
layer window back to back, medians with their range; a fraction above 1.0 in any round
is marked "!", a measurement error (the machine's load changed). Convolutions on one
input channel (the stems) and normalisation or pooling at 20^3 are memory-bound;
convolutions with 16 or more channels at 10^3 and 5^3 run nearer the matmul rate.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench_training import Spread, machine_lines, matmul_gflops

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


def train_step_seconds(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor,
                       min_seconds: float) -> float:
    """Seconds per forward + backward step, over whole steps lasting ``min_seconds``."""
    steps, start = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - start < min_seconds:
        layer(x).backward(grad)
        steps += 1
    return (time.perf_counter() - start) / steps


def step_flops(layer: nn.Module, x: torch.Tensor, grad: torch.Tensor) -> float:
    """FLOPs of one forward + backward step, the forward counted once (an earlier version
    ran the forward twice inside the counter: 4/3 of the true count, 3/2 for the stems)."""
    with FlopCounterMode(display=False) as counter:
        layer(x).backward(grad)
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of a matmul window and a layer window, back to back")
    parser.add_argument("--min-seconds", type=float, default=0.5, help="shortest window")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print("\n".join(machine_lines(args.threads)), flush=True)
    matmul_gflops(args.min_seconds)  # warm-up, not counted
    print(f"{args.repeats} rounds per row, each a matmul window and the layer's window back to "
          f"back (order alternating), at least {args.min_seconds:g} s each; cells: median "
          "(min-max); 'of matmul' per round, against the matmul window beside it; '! k/R': "
          "above 1.0 in k rounds, a measurement error\n")
    print("| layer | memory format | ms per step | GFLOP/s | of matmul | matmul GFLOP/s | ! |")
    print("|---|---|---|---|---|---|---|")
    for label, layer, shape, needs_grad in LAYERS:
        for channels_last in (False, True):
            x = torch.randn(args.batch, *shape)
            if channels_last:
                layer = layer.to(memory_format=torch.channels_last_3d)
                x = x.contiguous(memory_format=torch.channels_last_3d)
            x.requires_grad_(needs_grad)
            grad = torch.randn_like(layer(x))  # a real gradient: sum().backward() is slow
            flops = step_flops(layer, x, grad)
            for _ in range(2):  # warm-up, not counted
                layer(x).backward(grad)
            seconds, matmul = [], []
            for round_ in range(args.repeats):
                for window in (("matmul", "layer") if round_ % 2 == 0 else ("layer", "matmul")):
                    if window == "matmul":
                        matmul.append(matmul_gflops(args.min_seconds))
                    else:
                        seconds.append(train_step_seconds(layer, x, grad, args.min_seconds))
            rates = [flops / s / 1e9 for s in seconds]
            fractions = [r / m for r, m in zip(rates, matmul)]
            above = sum(f > 1.0 for f in fractions)
            print(f"| {label} | {'channels-last' if channels_last else 'contiguous'} "
                  f"| {Spread([s * 1e3 for s in seconds]).show()} | {Spread(rates).show(0)} "
                  f"| {Spread(fractions).show(2) if flops else '–'} | {Spread(matmul).show(0)} "
                  f"| {f'! {above}/{args.repeats}' if above else ''} |", flush=True)


if __name__ == "__main__":
    main()
