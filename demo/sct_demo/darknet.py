"""YOLOv3 person detector in PyTorch, built from a Darknet ``.cfg`` file and its binary ``.weights``.

The network is assembled layer by layer from the official ``yolov3.cfg`` (shipped in ``demo/sct_demo/data``):
``convolutional`` (optionally batch-normalised, leaky ReLU 0.1), ``shortcut`` (residual sum), ``route``
(concatenation of earlier outputs), ``upsample`` (nearest) and ``yolo`` (box decoding) sections.

The ``.weights`` layout (Darknet's ``load_weights``): a header of three int32 (major, minor, revision),
then the number of images seen in training (int64 when ``major * 10 + minor >= 2``, else int32), then
float32 values for every ``convolutional`` section in cfg order: with batch norm, ``beta, gamma,
running_mean, running_var`` (``filters`` values each), else the conv bias; then the conv weights
``(filters, channels, size, size)``. :func:`load_darknet_weights` checks the byte count exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

DATA_DIR = Path(__file__).resolve().parent / "data"
YOLOV3_CFG = DATA_DIR / "yolov3.cfg"
COCO_NAMES = DATA_DIR / "coco.names"
PERSON_CLASS = 0  # index of "person" in coco.names


class DarknetError(ValueError):
    """A Darknet cfg or weights file that cannot be used (message names the file and the fix)."""


# --------------------------------------------------------------------------------------------------------
# cfg parsing
# --------------------------------------------------------------------------------------------------------
def parse_darknet_cfg(path: str | os.PathLike) -> list[dict[str, str]]:
    """Read a Darknet cfg into a list of sections ``{'type': name, key: value, ...}`` (values as text).

    The first section is normally ``[net]`` (input size, channels); comments start with ``#`` or ``;``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DarknetError(f"Darknet cfg not found: {path}")
    sections: list[dict[str, str]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.split("#", 1)[0].split(";", 1)[0].strip()
            if not line:
                continue
            if line.startswith("["):
                if not line.endswith("]"):
                    raise DarknetError(f"{path}:{lineno}: malformed section header {line!r}")
                sections.append({"type": line[1:-1].strip()})
            elif "=" in line:
                if not sections:
                    raise DarknetError(f"{path}:{lineno}: key before the first [section]")
                key, value = line.split("=", 1)
                sections[-1][key.strip()] = value.strip()
            else:
                raise DarknetError(f"{path}:{lineno}: expected 'key=value' or '[section]', got {line!r}")
    if not sections or sections[0]["type"] not in ("net", "network"):
        raise DarknetError(f"{path}: the first section must be [net]")
    return sections


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


# --------------------------------------------------------------------------------------------------------
# network
# --------------------------------------------------------------------------------------------------------
class YOLOLayer(nn.Module):
    """Decodes one YOLO head ``(B, A*(5+C), H, W)`` into boxes ``(B, A*H*W, 5+C)``.

    Each row is ``(cx, cy, w, h, objectness, class scores...)``; centres and sizes in input pixels,
    objectness and class scores as probabilities (sigmoid), as in Darknet's YOLOv3.
    """

    def __init__(self, anchors: list[tuple[float, float]], num_classes: int) -> None:
        super().__init__()
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32), persistent=False)
        self.num_classes = num_classes

    def forward(self, x: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
        b, _, h, w = x.shape
        na = self.anchors.shape[0]
        stride_y, stride_x = input_hw[0] / h, input_hw[1] / w
        p = x.view(b, na, 5 + self.num_classes, h, w).permute(0, 1, 3, 4, 2).float()
        gy, gx = torch.meshgrid(torch.arange(h, device=x.device, dtype=p.dtype),
                                torch.arange(w, device=x.device, dtype=p.dtype), indexing="ij")
        cx = (torch.sigmoid(p[..., 0]) + gx) * stride_x
        cy = (torch.sigmoid(p[..., 1]) + gy) * stride_y
        bw = torch.exp(p[..., 2].clamp(max=20.0)) * self.anchors[:, 0].view(1, na, 1, 1)
        bh = torch.exp(p[..., 3].clamp(max=20.0)) * self.anchors[:, 1].view(1, na, 1, 1)
        rest = torch.sigmoid(p[..., 4:])
        out = torch.cat([cx[..., None], cy[..., None], bw[..., None], bh[..., None], rest], dim=-1)
        return out.reshape(b, na * h * w, 5 + self.num_classes)


class Darknet(nn.Module):
    """A Darknet network (YOLOv3 and relatives) built from parsed cfg sections.

    Input ``(B, 3, H, W)`` RGB in [0, 1] with ``H, W`` multiples of 32; output ``(B, N, 5 + C)`` boxes
    from all YOLO heads (see :class:`YOLOLayer`).
    """

    def __init__(self, sections: list[dict[str, str]]) -> None:
        super().__init__()
        net = sections[0]
        self.net_info = dict(net)
        self.layer_defs = [dict(sec) for sec in sections[1:]]
        self.module_list = nn.ModuleList()
        channels = [int(net.get("channels", 3))]  # channels[i + 1] = output channels of layer i
        for i, sec in enumerate(self.layer_defs):
            kind = sec["type"]
            module: nn.Module
            if kind == "convolutional":
                bn = int(sec.get("batch_normalize", 0))
                filters, size = int(sec["filters"]), int(sec["size"])
                stride = int(sec.get("stride", 1))
                pad = size // 2 if int(sec.get("pad", 0)) else 0
                module = nn.Sequential()
                module.add_module("conv", nn.Conv2d(channels[-1], filters, size, stride, pad, bias=not bn))
                if bn:
                    module.add_module("bn", nn.BatchNorm2d(filters, momentum=0.01, eps=1e-5))
                act = sec.get("activation", "linear")
                if act == "leaky":
                    module.add_module("act", nn.LeakyReLU(0.1))
                elif act != "linear":
                    raise DarknetError(f"layer {i}: unsupported activation {act!r}")
                out_ch = filters
            elif kind == "upsample":
                module = nn.Upsample(scale_factor=int(sec.get("stride", 2)), mode="nearest")
                out_ch = channels[-1]
            elif kind == "route":
                idx = [v if v >= 0 else i + v for v in _ints(sec["layers"])]
                if any(not 0 <= v < i for v in idx):
                    raise DarknetError(f"layer {i}: route refers to a layer outside 0..{i - 1}")
                sec["_layers"] = ",".join(map(str, idx))
                module = nn.Identity()
                out_ch = sum(channels[v + 1] for v in idx)
            elif kind == "shortcut":
                src = int(sec["from"])
                src = src if src >= 0 else i + src
                sec["_from"] = str(src)
                module = nn.Identity()
                out_ch = channels[-1]
            elif kind == "yolo":
                mask = _ints(sec["mask"])
                flat = _ints(sec["anchors"])
                pairs = [(float(flat[2 * k]), float(flat[2 * k + 1])) for k in range(len(flat) // 2)]
                module = YOLOLayer([pairs[m] for m in mask], int(sec["classes"]))
                out_ch = channels[-1]
            else:
                raise DarknetError(f"layer {i}: unsupported Darknet section [{kind}]")
            self.module_list.append(module)
            channels.append(out_ch)

    @property
    def input_size(self) -> tuple[int, int]:
        """``(height, width)`` of the cfg's ``[net]`` section."""
        return int(self.net_info.get("height", 416)), int(self.net_info.get("width", 416))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_hw = (x.shape[2], x.shape[3])
        if input_hw[0] % 32 or input_hw[1] % 32:
            raise ValueError(f"Darknet input height and width must be multiples of 32, got {input_hw}")
        outputs: list[torch.Tensor] = []
        detections = []
        for sec, module in zip(self.layer_defs, self.module_list, strict=True):
            kind = sec["type"]
            if kind in ("convolutional", "upsample"):
                x = module(x)
            elif kind == "route":
                x = torch.cat([outputs[v] for v in _ints(sec["_layers"])], dim=1)
            elif kind == "shortcut":
                x = outputs[-1] + outputs[int(sec["_from"])]
            elif kind == "yolo":
                detections.append(module(x, input_hw))
            outputs.append(x)
        return torch.cat(detections, dim=1)


def build_darknet(cfg_path: str | os.PathLike = YOLOV3_CFG) -> Darknet:
    """Build the network of a Darknet cfg (default: the shipped official ``yolov3.cfg``)."""
    return Darknet(parse_darknet_cfg(cfg_path))


# --------------------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------------------
def darknet_conv_layers(model: Darknet) -> list[tuple[nn.Conv2d, nn.BatchNorm2d | None]]:
    """The ``(conv, batch norm or None)`` pairs of ``model`` in cfg order (the order of ``.weights``)."""
    pairs = []
    for sec, module in zip(model.layer_defs, model.module_list, strict=True):
        if sec["type"] == "convolutional":
            pairs.append((module.conv, getattr(module, "bn", None)))
    return pairs


def darknet_weight_count(model: Darknet) -> int:
    """Number of float32 values a ``.weights`` file holds for ``model`` (after the header)."""
    total = 0
    for conv, bn in darknet_conv_layers(model):
        total += conv.weight.numel() + (4 * bn.num_features if bn is not None else conv.out_channels)
    return total


def _header_size(major: int, minor: int) -> int:
    seen_bytes = 8 if (major * 10 + minor) >= 2 and major < 1000 and minor < 1000 else 4
    return 12 + seen_bytes


def load_darknet_weights(model: Darknet, path: str | os.PathLike) -> None:
    """Fill ``model`` from a Darknet ``.weights`` file; the file size must match the cfg exactly.

    Raises :class:`DarknetError` for a missing file, a short/long file or non-finite values.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DarknetError(f"Darknet weights not found: {path}")
    size = os.path.getsize(path)
    if size < 12:
        raise DarknetError(f"{path} is not a Darknet weights file ({size} bytes)")
    with open(path, "rb") as fh:
        major, minor, _revision = np.fromfile(fh, dtype="<i4", count=3).tolist()
        header = _header_size(major, minor)
        fh.seek(header)
        expected = header + 4 * darknet_weight_count(model)
        if size != expected:
            raise DarknetError(
                f"{path} does not fit the cfg: expected {expected} bytes, found {size} "
                f"(a truncated download or weights of another network)")
        values = np.fromfile(fh, dtype="<f4")
    if not np.isfinite(values).all():
        raise DarknetError(f"{path} holds NaN or infinite values (a corrupt file)")
    offset = 0

    def take(tensor: torch.Tensor) -> None:
        nonlocal offset
        n = tensor.numel()
        chunk = torch.from_numpy(values[offset:offset + n].copy()).view_as(tensor)
        with torch.no_grad():
            tensor.copy_(chunk)
        offset += n

    for conv, bn in darknet_conv_layers(model):
        if bn is not None:
            take(bn.bias)
            take(bn.weight)
            take(bn.running_mean)
            take(bn.running_var)
        else:
            take(conv.bias)
        take(conv.weight)
    assert offset == values.size


def write_darknet_weights(model: Darknet, path: str | os.PathLike, seen: int = 0) -> None:
    """Write ``model``'s parameters as a Darknet ``.weights`` file (version 0.2.0, int64 ``seen``)."""
    parts: list[np.ndarray] = [np.array([0, 2, 0], dtype="<i4").view(np.uint8),
                               np.array([seen], dtype="<i8").view(np.uint8)]
    for conv, bn in darknet_conv_layers(model):
        tensors = [bn.bias, bn.weight, bn.running_mean, bn.running_var] if bn is not None else [conv.bias]
        for t in [*tensors, conv.weight]:
            parts.append(t.detach().cpu().float().numpy().astype("<f4").ravel().view(np.uint8))
    with open(path, "wb") as fh:
        for part in parts:
            fh.write(part.tobytes())


# --------------------------------------------------------------------------------------------------------
# detection
# --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Letterbox:
    """How an image was resized and padded into the network input: ``input = image * scale + pad``."""

    scale: float
    pad_x: float
    pad_y: float


def letterbox(image_bgr: np.ndarray, size: int) -> tuple[np.ndarray, Letterbox]:
    """Resize a BGR image ``(H, W, 3)`` uint8 to fit ``size x size`` keeping its aspect ratio, pad with grey.

    Returns the RGB float32 image ``(size, size, 3)`` in [0, 1] and the :class:`Letterbox` transform.
    """
    h, w = image_bgr.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR if scale < 1 else cv2.INTER_CUBIC)
    canvas = np.full((size, size, 3), 128, dtype=np.uint8)
    px, py = (size - nw) // 2, (size - nh) // 2
    canvas[py:py + nh, px:px + nw] = resized
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return rgb, Letterbox(scale=scale, pad_x=float(px), pad_y=float(py))


def boxes_from_predictions(pred: np.ndarray, lb: Letterbox, image_hw: tuple[int, int], conf_thresh: float,
                           nms_thresh: float, class_id: int = PERSON_CLASS, max_det: int = 100) -> np.ndarray:
    """Boxes of one class from one image's YOLO rows ``(N, 5 + C)``, after a library NMS.

    Score = objectness x class probability; rows below ``conf_thresh`` are dropped, the rest go through
    ``cv2.dnn.NMSBoxes`` with IoU threshold ``nms_thresh``. Returns ``(K, 5)`` float32
    ``(x1, y1, x2, y2, score)`` in image pixels (clipped to the image), highest score first, at most
    ``max_det`` of them.
    """
    scores = pred[:, 4] * pred[:, 5 + class_id]
    keep = scores > conf_thresh
    if not keep.any():
        return np.zeros((0, 5), dtype=np.float32)
    p, s = pred[keep], scores[keep]
    x1 = (p[:, 0] - p[:, 2] / 2 - lb.pad_x) / lb.scale
    y1 = (p[:, 1] - p[:, 3] / 2 - lb.pad_y) / lb.scale
    x2 = (p[:, 0] + p[:, 2] / 2 - lb.pad_x) / lb.scale
    y2 = (p[:, 1] + p[:, 3] / 2 - lb.pad_y) / lb.scale
    h, w = image_hw
    x1, x2 = np.clip(x1, 0, w - 1), np.clip(x2, 0, w - 1)
    y1, y2 = np.clip(y1, 0, h - 1), np.clip(y2, 0, h - 1)
    valid = (x2 - x1 > 1) & (y2 - y1 > 1)
    x1, y1, x2, y2, s = x1[valid], y1[valid], x2[valid], y2[valid], s[valid]
    if s.size == 0:
        return np.zeros((0, 5), dtype=np.float32)
    rects = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1).astype(np.float64).tolist()
    idx = cv2.dnn.NMSBoxes(rects, s.astype(np.float64).tolist(), float(conf_thresh), float(nms_thresh))
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    idx = idx[np.argsort(-s[idx], kind="stable")][:max_det]
    return np.stack([x1, y1, x2, y2, s], axis=1)[idx].astype(np.float32)


class PersonDetector:
    """YOLOv3 person detection on batches of BGR frames.

    ``detect(frames)`` takes a list of ``(H, W, 3)`` uint8 BGR images and returns one ``(K, 5)`` array
    ``(x1, y1, x2, y2, score)`` per image.
    """

    def __init__(self, model: Darknet, device: torch.device, input_size: int = 416, conf_thresh: float = 0.5,
                 nms_thresh: float = 0.4) -> None:
        if input_size % 32:
            raise ValueError(f"detector input size must be a multiple of 32, got {input_size}")
        self.model = model.to(device).eval()
        self.device = device
        self.input_size = input_size
        self.conf_thresh = conf_thresh
        self.nms_thresh = nms_thresh

    @torch.no_grad()
    def detect(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        if not frames:
            return []
        inputs, boxes = [], []
        lbs = []
        for frame in frames:
            rgb, lb = letterbox(frame, self.input_size)
            inputs.append(rgb)
            lbs.append(lb)
        batch = torch.from_numpy(np.stack(inputs)).permute(0, 3, 1, 2).contiguous().to(self.device)
        pred = self.model(batch).float().cpu().numpy()
        for frame, lb, p in zip(frames, lbs, pred, strict=True):
            boxes.append(boxes_from_predictions(p, lb, frame.shape[:2], self.conf_thresh, self.nms_thresh))
        return boxes

