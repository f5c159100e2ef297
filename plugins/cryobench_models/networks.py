"""3D networks for subtomograms: serial paths, the multi-path CNN, Inception3D, a ResNet."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cryobench_models.choices import LAYOUTS, PATH_KINDS


def conv(cin: int, cout: int, kernel: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, kernel, stride=stride, padding=dilation * (kernel // 2),
                  dilation=dilation, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


def signature_layer(kind: str, cin: int, cout: int) -> nn.Sequential:
    """The layer that gives a path kind its receptive field."""
    if kind == "conv5":
        return conv(cin, cout, 5)
    if kind == "dilated3":
        return conv(cin, cout, 3, dilation=2)
    if kind == "factorised":
        return nn.Sequential(conv(cin, cout, 1), conv(cout, cout, 3))
    return conv(cin, cout, 3)


class SerialPath(nn.Module):
    """One path of three conv layers, from the 1-channel volume to a (D/8)^3 feature map.

    Layouts, all measured on 2 CPU cores (docs/neural.md):

    - ``binned`` (default): 2x average pooling (bin 2, as for a tomogram), a strided 3^3
      stem, the kind's signature layer at (D/4)^3, a max-pool, a 3^3 conv at (D/8)^3.
      Convolutions on one input channel are memory-bound on CPU, so little time is
      spent at full resolution, and the FLOPs sit in layers that run near the matmul
      rate. Binning also averages noise away: at the default SNR this layout scored
      higher than the others.
    - ``pooled``: a strided 3^3 (5^3 for ``conv5``) stem at full resolution, max-pools
      after the stem and the middle layer. The previous default.
    - ``full``: as ``pooled`` without the first pool: 6x its FLOPs.

    D must be at least 8.
    """

    def __init__(self, kind: str = "conv3", widths: Sequence[int] = (16, 32, 64),
                 layout: str = "binned") -> None:
        super().__init__()
        if kind not in PATH_KINDS:
            raise ValueError(f"unknown path kind {kind!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"unknown path layout {layout!r}")
        w1, w2, w3 = widths
        self.kind, self.out_channels = kind, w3
        if layout == "binned":
            self.layers = nn.Sequential(nn.AvgPool3d(2), conv(1, w1, 3, stride=2),
                                        signature_layer(kind, w1, w2), nn.MaxPool3d(2),
                                        conv(w2, w3, 3))
            return
        # the 1^3 conv of a factorised stem on the one-channel input would be a mere
        # scaling (and measured 12x slower), and conv5 has its 5^3 kernel in the stem
        stem = conv(1, w1, 5 if kind == "conv5" else 3, stride=2)
        inner = "conv3" if kind == "conv5" else kind
        middle, last = signature_layer(inner, w1, w2), signature_layer(inner, w2, w3)
        if layout == "pooled":
            self.layers = nn.Sequential(stem, nn.MaxPool3d(2), middle, nn.MaxPool3d(2), last)
        else:
            self.layers = nn.Sequential(stem, middle, nn.MaxPool3d(2), last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Head(nn.Sequential):
    """Global average pool, then dense layers to the class logits."""

    def __init__(self, channels: int, num_classes: int, hidden: int = 0, dropout: float = 0.3):
        layers: list[nn.Module] = [nn.AdaptiveAvgPool3d(1), nn.Flatten()]
        if hidden:
            layers += [nn.Linear(channels, hidden), nn.ReLU(inplace=True)]
            channels = hidden
        layers += [nn.Dropout(dropout), nn.Linear(channels, num_classes)]
        super().__init__(*layers)


class PathClassifier(nn.Module):
    """A single serial path with its own head (the ``cnn`` model and stage 1)."""

    def __init__(self, path: SerialPath, num_classes: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.path = path
        self.head = Head(path.out_channels, num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.path(x))


class MultiPath(nn.Module):
    """Paths side by side, feature maps concatenated ("filter concat"), one shared head."""

    def __init__(self, paths: Sequence[SerialPath], num_classes: int, hidden: int = 64,
                 dropout: float = 0.3) -> None:
        super().__init__()
        self.paths = nn.ModuleList(paths)
        self.head = Head(sum(p.out_channels for p in paths), num_classes, hidden, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([p(x) for p in self.paths], dim=1))


class InceptionBlock(nn.Module):
    """Xu et al. 2017: 1^3 | 1^3 -> 3^3 | 1^3 -> 5^3 | maxpool -> 1^3, concatenated."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.b1 = conv(cin, 32, 1)
        self.b3 = nn.Sequential(conv(cin, 32, 1), conv(32, 64, 3))
        self.b5 = nn.Sequential(conv(cin, 16, 1), conv(16, 32, 5))
        self.bp = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), conv(cin, 32, 1))
        self.out_channels = 32 + 64 + 32 + 32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class Inception3D(nn.Module):
    """The reference network of Xu et al. 2017 for 40^3 subtomograms."""

    def __init__(self, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        block = InceptionBlock(32)
        self.features = nn.Sequential(conv(1, 32, 5), nn.MaxPool3d(2), block)
        self.head = Head(block.out_channels, num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(conv(cin, cout, 3, stride=stride),
                                  nn.Conv3d(cout, cout, 3, padding=1, bias=False),
                                  nn.BatchNorm3d(cout))
        self.skip = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNet3D(nn.Module):
    """A small 3D ResNet: strided stem, three residual stages (w, 2w, 4w)."""

    def __init__(self, num_classes: int, width: int = 8, dropout: float = 0.3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv(1, width, 3, stride=2),
            BasicBlock(width, width, 1),
            BasicBlock(width, 2 * width, 2),
            BasicBlock(2 * width, 4 * width, 2),
        )
        self.head = Head(4 * width, num_classes, dropout=dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
