"""Names the model parameters accept, importable without torch (benchmark validation)."""

#: Receptive-field styles of a serial path, Inception-like.
PATH_KINDS = ("conv3", "conv5", "dilated3", "factorised")
#: How a path reaches low resolution: see ``networks.SerialPath``.
LAYOUTS = ("binned", "pooled", "full")
