"""cryobench: benchmark imbalance strategies for cryo-ET subtomogram classification."""

import pluggy

__version__ = "0.1.0"

#: Marks a plugin's hook implementations: ``@hookimpl def cryobench_register_losses(): ...``
hookimpl = pluggy.HookimplMarker("cryobench")

__all__ = ["__version__", "hookimpl"]
