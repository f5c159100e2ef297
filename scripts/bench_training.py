"""Training speed on CPU, measured so that the figures can be trusted on a shared machine.

    python scripts/bench_training.py [--samples 256] [--threads 2] [--repeats 5]
                                     [--min-seconds 2] [--only TEXT ...] [--compile] [--raw]

A single short window on a shared machine can catch another job and give any figure (an
earlier version of this script printed 2.6 and 3.5 "of matmul" and engine/bare ratios
from 0.66 to 3.3). So:

- every loop first runs uncounted (warm-up: oneDNN primitives, allocator, thread pool),
  and a second uncounted epoch sizes the calls that make up its windows;
- then ``--repeats`` rounds; in each, per model, three windows run back to back in an
  order that rotates: the fp32 matmul reference, the engine's training loop
  (``train_module``) and a bare hand-written PyTorch loop. A model's window is whole
  epochs over ``--samples`` noise volumes, a fresh module per call, repeated until the
  timed training passes reach ``--min-seconds`` (so a window stays long when the load
  changes);
- ratios (engine over bare; achieved GFLOP/s over matmul GFLOP/s) are taken within a
  round, from windows measured back to back; the table gives each figure's median over
  the rounds and, in brackets, its range (min-max);
- the cores that other processes kept busy during each window are read from /proc/stat;
  rounds where they took a core that our threads needed are "disturbed", and a second
  table repeats the figures over the quiet rounds only;
- flags: ``!k/R`` a figure above the machine's peak (achieved GFLOP/s above 1.0 of the
  matmul window beside it in k of R rounds, or above the fastest matmul window of the
  run): a measurement error, not a result; ``?e/b`` / ``?mm`` an engine/bare or
  "of matmul" ratio whose range is wider than 20 % of its median: unreliable; ``~k/R``
  disturbed rounds. Matmul windows that disagree by more than 20 %, or disturbed
  rounds, print a BUSY MACHINE line.

Training FLOPs are counted, not assumed: ``FlopCounterMode`` over one forward and
backward pass (the old 3x forward overcounted by up to 13 %: the first layer needs no
input gradient). The output starts with the exact command and the machine, so the
figures can be quoted. With ``--compile``: the default multi-path CNN in the bare loop,
eager against ``torch.compile``, interleaved the same way (compilation time apart). At
the end, always: the default multi-path CNN in the engine, float32 against bf16 autocast
(``[train] precision``), interleaved the same way.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from cryobench.contract.components import FitContext
from cryobench.data.subtomograms import Subtomograms
from cryobench.registry import Registry
from cryobench.specs import TrainConfig
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
PEAK = 1.0            # achieved GFLOP/s over the matmul rate beside it: above is an error
WIDE = 0.20           # a ratio whose range is wider than this fraction of its median
BUSY = 1.20           # fastest over slowest matmul window: the machine was busy
DISTURBED = 0.2       # cores other processes kept busy beyond the spare ones: disturbed


# --- measurement helpers (bench_cuda.py and bench_layers.py use them too) -------------------


def matmul_gflops(seconds: float = 2.0) -> float:
    """fp32 1024^3 matmul GFLOP/s over one window of ``seconds`` (one uncounted product)."""
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


def train_flops(module: torch.nn.Module, box: int, batch: int = 2) -> float:
    """FLOPs per sample of one training step (forward and backward), as counted by
    ``FlopCounterMode``; batch 2 because batch norm needs two samples in training."""
    module.train()
    with FlopCounterMode(display=False) as counter:
        logits = module(torch.randn(batch, 1, box, box, box))
        torch.nn.functional.cross_entropy(logits, torch.arange(batch) % logits.shape[1]
                                          ).backward()
    return float(counter.get_total_flops()) / batch


def random_split(samples: int, box: int = BOX, classes: int = CLASSES) -> Subtomograms:
    """Noise volumes with balanced labels: speed does not depend on the content."""
    volumes = np.random.default_rng(0).normal(size=(samples, box, box, box)).astype(np.float32)
    return Subtomograms(volumes, np.arange(samples) % classes, tuple("abcd")[:classes], 1.368)


def engine_rate(model, data: Subtomograms, registry: Registry, *, device: str = "cpu",
                threads: int | None = None, channels_last: bool | None = None,
                epochs: int = 1, precision: str = "float32") -> float:
    """Training samples/s of ``epochs`` engine epochs (no validation) for a model plugin:
    the engine's own count, training passes only (not building the module)."""
    cfg = TrainConfig(max_epochs=epochs, batch_size=BATCH, optimizer="adam", lr=1e-3,
                      weight_decay=0.0, momentum=0.9, schedule="constant", patience=0,
                      device=device, eval_batch_size=256, precision=precision)
    context = FitContext(num_classes=CLASSES, train=cfg, loss=registry.create("loss", "ce"),
                         augmentations=[], seed=0, device=device, threads=threads)
    if channels_last is None:
        channels_last = model.channels_last()
    empty = data.take(np.array([], dtype=int))
    return train_module(lambda: model.build_module(CLASSES, data.box), data, empty, context,
                        channels_last=channels_last).samples_per_second


def bare_loop(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
              channels_last: bool, bf16: bool = False, epochs: int = 1) -> tuple[float, float]:
    """The baseline: the plainest PyTorch training loop over the same tensors (on their
    device), in the same memory format as the engine uses for the model. Returns
    samples/s over ``epochs`` passes (samples actually trained on) and the last loss."""
    module = module.to(x.device)
    if channels_last:
        module = module.to(memory_format=torch.channels_last_3d)
        x = x.contiguous(memory_format=torch.channels_last_3d)
    optimizer = torch.optim.Adam(module.parameters(), 1e-3)
    module.train()
    loss = torch.zeros((), device=x.device)
    seen = 0
    synchronize(x.device)
    start = time.perf_counter()
    for _ in range(epochs):
        for i in range(0, len(x) - 1, BATCH):  # a last batch of one: batch norm fails
            optimizer.zero_grad()
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = module(x[i:i + BATCH])
            loss = torch.nn.functional.cross_entropy(logits.float(), y[i:i + BATCH])
            loss.backward()
            optimizer.step()
            loss = loss.detach()
            seen += len(logits)
    synchronize(x.device)
    return seen / (time.perf_counter() - start), loss.item()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def tensors(data: Subtomograms, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(data.volumes)[:, None].to(device),
            torch.from_numpy(data.labels).to(device))


def usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def disturbed_above(threads: int) -> float:
    """Cores other processes may keep busy before a window counts as disturbed: the cores
    our threads leave spare, plus ``DISTURBED``."""
    return max(0, usable_cpus() - threads) + DISTURBED


def machine_lines(threads: int | None = None) -> list[str]:
    """The exact command and the machine, to print first so that figures can be quoted."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    usable = usable_cpus()
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return [
        f"command: {shlex.join(['python', *sys.argv])}",
        f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine: {cpu}, {os.cpu_count()} CPUs ({usable} usable), {platform.system()} "
        f"{platform.release()}; python {platform.python_version()}, torch {torch.__version__}, "
        f"intra-op threads: {threads or torch.get_num_threads()}, "
        f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}",
        f"load average (1, 5, 15 min) at start: {load}",
    ]


def cpu_seconds() -> tuple[float, float] | None:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far, from
    /proc/stat (steal included: time the hypervisor gave to others); None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    times = os.times()
    return (sum(fields) - idle) / tick, times.user + times.system


def others_cores(before, after, seconds: float) -> float:
    """Cores that other processes kept busy on average between two ``cpu_seconds()``."""
    if before is None or after is None or seconds <= 0:
        return float("nan")
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / seconds)


# --- repeated, interleaved windows ----------------------------------------------------------


@dataclass
class Spread:
    """One figure over the rounds: median and range."""

    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def width(self) -> float:
        """Range over median."""
        return (self.high - self.low) / self.median if self.median else math.inf

    def show(self, digits: int = 1) -> str:
        return (f"{self.median:.{digits}f} ({self.low:.{digits}f}-{self.high:.{digits}f})"
                if len(self.values) > 1 else f"{self.median:.{digits}f}")


@dataclass
class Row:
    """One model's windows: per round, the engine's and the bare loop's samples/s, the
    matmul window's GFLOP/s beside them, and the most cores other processes kept busy
    during any of the three."""

    label: str
    fwd_flops: float      # per sample
    train_flops: float    # per sample, forward and backward
    engine: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    matmul: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)
    timed: list[float] = field(default_factory=list)  # seconds of each timed model window
    limit: float = DISTURBED  # others' cores above this: a disturbed round

    def achieved(self) -> list[float]:
        return [self.train_flops * e / 1e9 for e in self.engine]

    def of_matmul(self) -> list[float]:
        return [a / m for a, m in zip(self.achieved(), self.matmul)]

    def engine_over_bare(self) -> list[float]:
        return [e / b for e, b in zip(self.engine, self.bare)]

    def quiet_rounds(self) -> list[int]:
        return [r for r, o in enumerate(self.others) if not o > self.limit]

    def only(self, rounds: list[int]) -> Row:
        def pick(values: list[float]) -> list[float]:
            return [values[r] for r in rounds]

        return Row(self.label, self.fwd_flops, self.train_flops, pick(self.engine),
                   pick(self.bare), pick(self.matmul), pick(self.others), self.timed,
                   self.limit)

    def flags(self, fastest_matmul: float) -> str:
        n, flags = len(self.engine), []
        above = sum(r > PEAK for r in self.of_matmul())
        if above or Spread(self.achieved()).median > fastest_matmul:
            flags.append(f"!{above}/{n}")
        if Spread(self.engine_over_bare()).width() > WIDE:
            flags.append("?e/b")
        if Spread(self.of_matmul()).width() > WIDE:
            flags.append("?mm")
        disturbed = n - len(self.quiet_rounds())
        if disturbed:
            flags.append(f"~{disturbed}/{n}")
        return " ".join(flags)


def trained_per_epoch(samples: int) -> int:
    """Samples trained on per epoch: both loops skip a last batch of one (batch norm)."""
    return samples - (samples % BATCH == 1)


def window(run, samples: int, epochs: int, min_seconds: float) -> tuple[float, float]:
    """Calls ``run(epochs)`` (a fresh module each time; samples/s of its training passes)
    until the timed passes add up to ``min_seconds``, whatever the load: returns samples/s
    over them all and their seconds."""
    trained, seconds = 0, 0.0
    while seconds < min_seconds:
        count = epochs * trained_per_epoch(samples)
        seconds += count / run(epochs)
        trained += count
    return trained / seconds, seconds


def loops(model, channels_last: bool, data: Subtomograms, x: torch.Tensor, y: torch.Tensor,
          registry: Registry, args):
    """The two compared training loops of one model, each a function of the epochs to run."""
    def engine(epochs: int) -> float:
        return engine_rate(model, data, registry, threads=args.threads,
                           channels_last=channels_last, epochs=epochs)

    def bare(epochs: int) -> float:
        torch.manual_seed(0)
        return bare_loop(model.build_module(CLASSES, BOX), x, y, channels_last,
                         epochs=epochs)[0]

    return engine, bare


def measure(variants, data: Subtomograms, x: torch.Tensor, y: torch.Tensor,
            registry: Registry, args, raw: list[tuple]) -> list[Row]:
    rows, windows = [], []
    samples = len(x)
    for label, name, params, memory_format in variants:
        model = registry.create("model", name, params)
        channels_last = model.channels_last() if memory_format is None else memory_format
        engine, bare = loops(model, channels_last, data, x, y, registry, args)
        engine(1), bare(1)  # warm-up, not counted
        rate = max(engine(1), bare(1))  # uncounted too: sizes the calls within a window
        epochs = max(1, math.ceil(args.min_seconds * rate / trained_per_epoch(samples)))
        rows.append(Row(label, forward_flops(model.build_module(CLASSES, BOX), BOX),
                        train_flops(model.build_module(CLASSES, BOX), BOX),
                        limit=disturbed_above(args.threads)))
        windows.append({
            "matmul": lambda: (matmul_gflops(args.min_seconds), args.min_seconds),
            "engine": lambda run=engine, e=epochs: window(run, samples, e, args.min_seconds),
            "bare": lambda run=bare, e=epochs: window(run, samples, e, args.min_seconds)})
        print(f"warm-up done: {label}", file=sys.stderr, flush=True)
    matmul_gflops(args.min_seconds)  # warm-up, not counted
    orders = [("matmul", "engine", "bare"), ("engine", "bare", "matmul"),
              ("bare", "matmul", "engine")]
    for round_ in range(args.repeats):
        for index, row in enumerate(rows):
            busiest = 0.0
            for loop in orders[(round_ + index) % len(orders)]:
                tick, cpu = time.perf_counter(), cpu_seconds()
                value, timed = windows[index][loop]()
                seconds = time.perf_counter() - tick
                others = others_cores(cpu, cpu_seconds(), seconds)
                raw.append((round_ + 1, row.label, loop, value, timed, seconds, others))
                getattr(row, loop).append(value)
                busiest = max(busiest, others) if not math.isnan(others) else busiest
                if loop != "matmul":
                    row.timed.append(timed)
            row.others.append(busiest)
        print(f"round {round_ + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    return rows


def print_table(rows: list[Row], fastest: float, title: str) -> None:
    matmul = Spread([m for row in rows for m in row.matmul])
    print(f"\n{title}; fp32 matmul (1024 x 1024) windows beside the models: "
          f"{matmul.show(0)} GFLOP/s\n")
    print("| model | fwd GFLOP/sample | train GFLOP/sample | engine samples/s "
          "| bare loop samples/s | engine/bare | train GFLOP/s | of matmul | s/epoch (1176) "
          "| others' cores | rounds | flags |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.label} | {row.fwd_flops / 1e9:.3f} | {row.train_flops / 1e9:.3f} "
              f"| {Spread(row.engine).show()} | {Spread(row.bare).show()} "
              f"| {Spread(row.engine_over_bare()).show(2)} | {Spread(row.achieved()).show(0)} "
              f"| {Spread(row.of_matmul()).show(2)} "
              f"| {Spread([DEFAULT_TRAIN_SPLIT / e for e in row.engine]).show()} "
              f"| {Spread(row.others).show()} | {len(row.engine)} | {row.flags(fastest)} |")


def report(rows: list[Row], args) -> None:
    fastest = max(m for row in rows for m in row.matmul)
    limit = disturbed_above(args.threads)
    print("\nEach cell: median (min-max) over the rounds; ratios taken within a round from "
          "windows measured back to back. 'others' cores': per round, the most CPU cores "
          "other processes kept busy during the row's three windows.")
    print_table(rows, fastest, f"All {args.repeats} rounds")
    quiet = [row.only(row.quiet_rounds()) for row in rows if row.quiet_rounds()]
    if quiet and any(len(row.quiet_rounds()) < args.repeats for row in rows):
        print_table(quiet, fastest, f"Quiet rounds only (other processes at most {limit:g} "
                    "cores busy in all three windows; rows without one left out)")
    elif not quiet:
        print("\nNo quiet round: every figure above was taken while other processes used "
              "cores that this run's threads needed.")
    timed = min(t for row in rows for t in row.timed)
    print(f"\nWindows: at least {args.min_seconds:g} s each (the shortest timed {timed:.1f} s); "
          f"a model's window is whole epochs of {args.samples} samples (batch {BATCH}), a "
          "fresh module per call, repeated until the time is reached.")
    print("Flags:")
    print(f"  !k/R  MEASUREMENT ERROR: the model's training GFLOP/s exceeded the matmul window "
          f"beside it in k of R rounds (or its median exceeds the fastest matmul window of the "
          f"run, {fastest:.0f} GFLOP/s). A whole network does not train faster than a large "
          "fp32 matmul: the load changed between the windows. Not a result; do not quote it.")
    print(f"  ?e/b  UNRELIABLE engine/bare: its range is wider than {WIDE:.0%} of its median, "
          "so a distance from 1 (or closeness to it) is not measured.")
    print(f"  ?mm   UNRELIABLE 'of matmul': its range is wider than {WIDE:.0%} of its median.")
    print(f"  ~k/R  DISTURBED: in k of R rounds other processes kept more than {limit:g} "
          f"cores busy during one of the row's windows ({args.threads} thread(s) on "
          f"{usable_cpus()} usable cores leave {max(0, usable_cpus() - args.threads)} spare).")
    flagged = [f"{row.label} ({row.flags(fastest)})" for row in rows if row.flags(fastest)]
    print(f"Flagged: {'; '.join(flagged)}." if flagged else "Flagged: none.")
    matmul = Spread([m for row in rows for m in row.matmul])
    others = Spread([o for row in rows for o in row.others])
    if matmul.high > BUSY * matmul.low or others.high > limit:
        print(f"BUSY MACHINE: the matmul windows ranged from {matmul.low:.0f} to "
              f"{matmul.high:.0f} GFLOP/s ({matmul.high / matmul.low:.2f}x); other processes "
              f"kept {others.show()} cores busy (per round and model: median, range). Other "
              "jobs compete for the cores (on a virtual machine, maybe for the physical cores "
              "behind them too), and one on a core that a thread of ours needs stalls every "
              "parallel step: rates fall and spreads widen. Quote only unflagged figures, from "
              "quiet rounds.")


def interleaved(runs: dict, samples: int, args) -> dict[str, list[float]]:
    """Two loops (name -> a function of the epochs to run, giving samples/s) measured in
    windows back to back, the order swapped every round, after an uncounted warm-up."""
    first, second = runs
    runs[first](1), runs[second](1)  # warm-up, not counted
    rate = max(runs[first](1), runs[second](1))
    epochs = max(1, math.ceil(args.min_seconds * rate / trained_per_epoch(samples)))
    rates: dict[str, list[float]] = {first: [], second: []}
    for round_ in range(args.repeats):
        for name in ((first, second) if round_ % 2 == 0 else (second, first)):
            rates[name].append(window(runs[name], samples, epochs, args.min_seconds)[0])
    return rates


def compile_comparison(model, x: torch.Tensor, y: torch.Tensor, args) -> None:
    """Eager against ``torch.compile`` in the bare loop, interleaved over the rounds (one
    module of each, kept across windows: a new one would recompile)."""
    channels_last = model.channels_last()
    torch.manual_seed(0)
    eager = model.build_module(CLASSES, BOX)
    compiled_module = model.build_module(CLASSES, BOX)
    if channels_last:
        compiled_module = compiled_module.to(memory_format=torch.channels_last_3d)
    compiled = torch.compile(compiled_module)
    start = time.perf_counter()
    bare_loop(compiled, x, y, channels_last)  # compiles on the first batches
    first = time.perf_counter() - start
    rates = interleaved({name: (lambda epochs, module=module: bare_loop(
        module, x, y, channels_last, epochs=epochs)[0])
        for name, module in (("eager", eager), ("compiled", compiled))}, len(x), args)
    ratio = Spread([c / e for c, e in zip(rates["compiled"], rates["eager"])])
    print(f"\ntorch.compile, default multipath, bare loop, {args.repeats} rounds: eager "
          f"{Spread(rates['eager']).show()} samples/s, compiled "
          f"{Spread(rates['compiled']).show()} samples/s, compiled/eager {ratio.show(2)}"
          f"{' ?' if ratio.width() > WIDE else ''}; first epoch with compilation {first:.0f} s")


def precision_comparison(model, data: Subtomograms, registry: Registry, args) -> None:
    """The engine's training step in float32 against bf16 autocast (``[train] precision``),
    interleaved over the rounds, on the default multi-path CNN."""
    from cryobench.train.precision import cpu_has_native_bf16

    rates = interleaved({p: (lambda epochs, p=p: engine_rate(
        model, data, registry, threads=args.threads, epochs=epochs, precision=p))
        for p in ("float32", "bfloat16")}, len(data), args)
    ratio = Spread([b / f for b, f in zip(rates["bfloat16"], rates["float32"])])
    native = "native bf16" if cpu_has_native_bf16() else "no native bf16: emulated, slow"
    print(f"\nprecision, default multipath, engine, {args.repeats} rounds ({native}): float32 "
          f"{Spread(rates['float32']).show()} samples/s, bfloat16 "
          f"{Spread(rates['bfloat16']).show()} samples/s, bfloat16/float32 {ratio.show(2)}"
          f"{' ?' if ratio.width() > WIDE else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=256, help="volumes per epoch")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="rounds of interleaved windows")
    parser.add_argument("--min-seconds", type=float, default=2.0,
                        help="shortest window (whole epochs are run)")
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="only the models whose label contains one of these")
    parser.add_argument("--raw", action="store_true", help="also print every window")
    parser.add_argument("--compile", action="store_true",
                        help="also compare torch.compile with eager on the default model")
    args = parser.parse_args()
    if args.samples < 2 or args.repeats < 1 or args.min_seconds <= 0:
        parser.error("--samples must be at least 2, --repeats at least 1, --min-seconds > 0")
    torch.set_num_threads(args.threads)
    print("\n".join(machine_lines(args.threads)), flush=True)
    variants = [v for v in VARIANTS if not args.only or any(t in v[0] for t in args.only)]
    if not variants:
        parser.error(f"--only matches none of: {', '.join(v[0] for v in VARIANTS)}")
    started = time.perf_counter()
    registry = Registry()
    data = random_split(args.samples)
    x, y = tensors(data)
    raw: list[tuple] = []
    rows = measure(variants, data, x, y, registry, args, raw)
    report(rows, args)
    if args.raw:
        print("\n| round | model | loop | samples/s (matmul: GFLOP/s) | timed s | wall s "
              "| others' cores |")
        print("|---|---|---|---|---|---|---|")
        for round_, label, loop, value, timed, seconds, others in raw:
            print(f"| {round_} | {label} | {loop} | {value:.1f} | {timed:.2f} | {seconds:.2f} "
                  f"| {others:.2f} |")
    if args.compile:
        compile_comparison(registry.create("model", "multipath", {"stage1_epochs": 0}), x, y,
                           args)
    precision_comparison(registry.create("model", "multipath", {"stage1_epochs": 0}), data,
                         registry, args)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"\nload average at end: {load}; {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
