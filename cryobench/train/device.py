"""Where a trial trains, and how many CPU threads it may use."""

from __future__ import annotations

import torch

from cryobench.errors import CryobenchError


def choose_device(requested: str) -> torch.device:
    """``auto``: CUDA when available, else CPU. ``cuda`` without a GPU is a user error."""
    if requested == "cuda" and not torch.cuda.is_available():
        raise CryobenchError("train.device = 'cuda' but no CUDA device is available; "
                             "use 'auto' or 'cpu'")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The forward pass in bf16 where ``precision`` (resolved) says so."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")


def use_threads(threads: int, device: str) -> None:
    """The CPU threads torch computes with (the same seed gives other figures with
    another count): set by training, and by a trial that takes a kept fit."""
    if threads and device == "cpu":
        torch.set_num_threads(max(1, int(threads)))


def machine_of(device: str) -> dict[str, str]:
    """What a trial's figures depend on beyond its seed: torch picks its CPU kernels by
    instruction set (oneDNN's AVX2 and AVX-512 convolutions differ in the last bits, and
    an unstable training turns that into another trajectory), sums over its threads in
    their own order, and a GPU has kernels of its own. Records compared bit for bit
    should say the same here."""
    machine = {"torch": torch.__version__, "cpu": _cpu_model(),
               "cpu_isa": torch.backends.cpu.get_cpu_capability(),
               "threads": str(torch.get_num_threads())}
    if device.startswith("cuda") and torch.cuda.is_available():
        machine["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return machine


def _cpu_model() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
