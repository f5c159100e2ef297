"""Deprecated: the GP engine is the plugin-side package ``cryobench_genetic_programming``."""

from cryobench.contract.moved import moved_to_api

__getattr__ = moved_to_api(__name__, "cryobench_genetic_programming")
