"""Deprecated: import the plugin contract's names from :mod:`cryobench.api`."""

from cryobench.contract.moved import moved_to_api

__getattr__ = moved_to_api(__name__, "cryobench.contract.components")
