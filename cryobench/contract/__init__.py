"""The plugin contract's implementation. Plugins import :mod:`cryobench.api`, which
re-exports what they may use from here and from the engine; these modules may move."""
