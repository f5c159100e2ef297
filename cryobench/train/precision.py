"""What a trial's forward passes compute in: chosen once, where the run starts, so that
the trial key says it (bf16 and float32 follow other trajectories from the same seed)."""

from __future__ import annotations

#: ``[train] precision``; the weights, the optimiser and the loss stay float32 whatever
#: it is (autocast)
PRECISIONS = ("auto", "float32", "bfloat16")


def resolve_precision(precision: str, device: str) -> str:
    """``auto``: bf16 where the hardware computes it natively (CUDA; CPUs with AVX512_BF16
    or AMX: 1.55x the float32 training step of the multi-path CNN, docs/neural.md), float32
    elsewhere (bf16 emulated on an AVX2 CPU is over 10x slower than float32)."""
    if precision != "auto":
        return precision
    if device != "cpu":
        import torch

        if device == "cuda" or torch.cuda.is_available():
            # a driver without the workers' GPU takes them for bf16-capable (Ampere on)
            return ("bfloat16" if not torch.cuda.is_available()
                    or torch.cuda.is_bf16_supported(including_emulation=False) else "float32")
    return "bfloat16" if cpu_has_native_bf16() else "float32"


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 dot products (AVX512_BF16, or AMX tiles with bf16)."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def _cpu_flags() -> set[str]:
    """The instruction-set flags Linux reports (none elsewhere: float32 there)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()
