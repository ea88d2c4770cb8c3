"""HRNet (Sun et al., CVPR 2019) for 2D keypoint heatmaps, with the official parameter names.

The module and parameter names follow ``pose_hrnet.py`` of deep-high-resolution-net.pytorch, so the
official ``pose_hrnet_w48_384x288.pth`` loads with ``strict=True``:

* stem ``conv1/bn1/conv2/bn2`` (two 3x3 stride-2 convolutions, 64 channels) and ``layer1`` (four
  BOTTLENECK blocks, 256 channels out);
* ``transition1..3``: one entry per branch of the next stage; a 3x3 conv + BN + ReLU where the channel
  count changes, a parameter-free identity where it does not, and a stride-2 3x3 conv for a new branch;
* ``stage2..4``: ``HighResolutionModule`` s, each with ``branches`` (BASIC blocks per resolution) and
  ``fuse_layers[i][j]`` (1x1 conv + BN + nearest upsampling from a lower resolution ``j > i``,
  chains of stride-2 3x3 convs from a higher one ``j < i``); the last module of stage 4 only outputs the
  highest resolution;
* ``final_layer``: a 1x1 conv to one heatmap per joint, at 1/4 of the input resolution.

W48 (the ``w48_384x288`` experiment): branch widths 48, 96, 192, 384; stages of 1, 4, 3 modules; 4
blocks per branch.
"""

from __future__ import annotations

from torch import Tensor, nn

BN_MOMENTUM = 0.1


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (``expansion = 1``)."""

    expansion = 1

    def __init__(self, in_ch: int, ch: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 convs with a residual connection (``expansion = 4``)."""

    expansion = 4

    def __init__(self, in_ch: int, ch: int, stride: int = 1, downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, ch, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(ch, ch, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(ch, ch * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(ch * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


BLOCKS = {"BASIC": BasicBlock, "BOTTLENECK": Bottleneck}


def _residual_stack(block: type[nn.Module], in_ch: int, ch: int, num_blocks: int) -> nn.Sequential:
    """``num_blocks`` blocks; the first gets a 1x1 conv + BN projection when the width changes."""
    out_ch = ch * block.expansion
    downsample = None
    if in_ch != out_ch:
        downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, bias=False),
                                   nn.BatchNorm2d(out_ch, momentum=BN_MOMENTUM))
    layers = [block(in_ch, ch, 1, downsample)]
    layers += [block(out_ch, ch) for _ in range(num_blocks - 1)]
    return nn.Sequential(*layers)


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False),
                               nn.BatchNorm2d(out_ch)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches at resolutions 1, 1/2, 1/4, ... followed by all-to-all fusion (sum + ReLU).

    Input and output: a list of ``(B, C_i, H / 2**i, W / 2**i)`` tensors, one per branch (only the first
    output when ``multi_scale_output`` is False).
    """

    def __init__(self, block: type[nn.Module], num_blocks: list[int], in_channels: list[int],
                 channels: list[int], multi_scale_output: bool = True) -> None:
        super().__init__()
        n = len(channels)
        if not len(num_blocks) == len(in_channels) == n:
            raise ValueError("num_blocks, in_channels and channels need one entry per branch")
        self.branches = nn.ModuleList(
            _residual_stack(block, in_channels[i], channels[i], num_blocks[i]) for i in range(n))
        widths = [c * block.expansion for c in channels]
        self.out_channels = widths
        self.fuse_layers: nn.ModuleList | None = None
        if n > 1:
            fuse = nn.ModuleList()
            for i in range(n if multi_scale_output else 1):
                row = nn.ModuleList()
                for j in range(n):
                    if j > i:  # lower resolution -> 1x1 conv to width i, upsample
                        row.append(nn.Sequential(nn.Conv2d(widths[j], widths[i], 1, 1, 0, bias=False),
                                                 nn.BatchNorm2d(widths[i]),
                                                 nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                    elif j == i:
                        row.append(nn.Identity())
                    else:  # higher resolution -> (i - j) stride-2 3x3 convs; ReLU between, not after
                        steps = [_conv_bn(widths[j], widths[j], 3, 2, relu=True) for _ in range(i - j - 1)]
                        steps.append(_conv_bn(widths[j], widths[i], 3, 2, relu=False))
                        row.append(nn.Sequential(*steps))
                fuse.append(row)
            self.fuse_layers = fuse
        self.relu = nn.ReLU(inplace=False)

    def forward(self, xs: list[Tensor]) -> list[Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.fuse_layers is None:
            return xs
        out = []
        for row in self.fuse_layers:
            y = row[0](xs[0])
            for j in range(1, len(xs)):
                y = y + row[j](xs[j])
            out.append(self.relu(y))
        return out


class PoseHighResolutionNet(nn.Module):
    """HRNet for top-down pose estimation.

    Input ``(B, 3, H, W)`` normalised RGB crops (``H, W`` multiples of 32; official 384 x 288), output
    ``(B, num_joints, H / 4, W / 4)`` heatmaps.
    """

    def __init__(self, width: int = 48, num_joints: int = 17, final_conv_kernel: int = 1,
                 stage_modules: tuple[int, int, int] = (1, 4, 3), num_blocks: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = _residual_stack(Bottleneck, 64, 64, 4)

        pre = [64 * Bottleneck.expansion]
        for s, modules in enumerate(stage_modules, start=2):
            chans = [width * 2 ** b for b in range(s)]
            setattr(self, f"transition{s - 1}", self._transition(pre, chans))
            stage = []
            in_ch = list(chans)
            for m in range(modules):
                last = s == 2 + len(stage_modules) - 1 and m == modules - 1
                module = HighResolutionModule(BasicBlock, [num_blocks] * s, in_ch, chans,
                                              multi_scale_output=not last)
                in_ch = module.out_channels
                stage.append(module)
            setattr(self, f"stage{s}", nn.Sequential(*stage))
            pre = chans
        self.num_stages = len(stage_modules)
        self.final_layer = nn.Conv2d(width, num_joints, final_conv_kernel, 1, final_conv_kernel // 2)

    @staticmethod
    def _transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, ch in enumerate(cur):
            if i < len(pre):
                layers.append(_conv_bn(pre[i], ch, 3, 1, relu=True) if pre[i] != ch else nn.Identity())
            else:  # a new, lower-resolution branch from the lowest existing one
                steps = []
                for k in range(i + 1 - len(pre)):
                    out = ch if k == i - len(pre) else pre[-1]
                    steps.append(_conv_bn(pre[-1], out, 3, 2, relu=True))
                layers.append(nn.Sequential(*steps))
        return layers

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for s in range(2, 2 + self.num_stages):
            transition = getattr(self, f"transition{s - 1}")
            xs = []
            for i, layer in enumerate(transition):
                # existing branches transform their own output; a new branch grows from the lowest one
                xs.append(layer(ys[i] if i < len(ys) else ys[-1]))
            ys = getattr(self, f"stage{s}")(xs)
        return self.final_layer(ys[0])


def pose_hrnet_w48(num_joints: int = 17) -> PoseHighResolutionNet:
    """HRNet-W48 as in the official ``w48_384x288`` COCO experiment (63.6 M parameters)."""
    return PoseHighResolutionNet(width=48, num_joints=num_joints)
