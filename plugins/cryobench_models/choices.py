"""Names the model parameters accept, importable without torch (benchmark validation)."""

from cryobench.api import Param

#: Receptive-field styles of a serial path, Inception-like.
PATH_KINDS = ("conv3", "conv5", "dilated3", "factorised")
#: How a path reaches low resolution: see ``networks.SerialPath``.
LAYOUTS = ("binned", "pooled", "full")
#: The ``layout`` parameter shared by the single-path and multi-path CNNs.
LAYOUT_PARAM = Param("layout", str, "binned", "binned: bin 2, then a strided stem (fast, the "
                     "default); pooled: strided stem at full resolution, then max-pool (the "
                     "previous default); full: no first pool (6x FLOPs)", choices=LAYOUTS)
