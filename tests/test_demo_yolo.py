"""YOLOv3 from the shipped Darknet cfg: parsing, the .weights layout, box decoding and NMS."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
import torch

from demo.sct_demo.darknet import (
    COCO_NAMES,
    YOLOV3_CFG,
    DarknetError,
    Letterbox,
    YOLOLayer,
    boxes_from_predictions,
    build_darknet,
    darknet_conv_layers,
    darknet_weight_count,
    letterbox,
    load_darknet_weights,
    parse_darknet_cfg,
)

# the official yolov3.weights is 248,007,048 bytes: 20 header bytes + 4 * 62,001,757 floats
OFFICIAL_WEIGHT_COUNT = 62_001_757
OFFICIAL_WEIGHTS_BYTES = 248_007_048


@pytest.fixture(scope="module")
def yolo():
    torch.manual_seed(0)
    return build_darknet()


def test_shipped_cfg_and_names_are_the_official_files():
    text = YOLOV3_CFG.read_bytes()
    assert len(text) == 8342
    assert hashlib.sha256(text).hexdigest() == "370c7b08d2350fd105a79af9b106c02217d659cd2a5c1e8319a65fa4ced610fa"
    names = COCO_NAMES.read_text().splitlines()
    assert len(names) == 80 and names[0] == "person" and names[-1] == "toothbrush"
    sections = parse_darknet_cfg(YOLOV3_CFG)
    kinds = [s["type"] for s in sections[1:]]
    assert len(kinds) == 107
    assert {k: kinds.count(k) for k in set(kinds)} == {
        "convolutional": 75, "shortcut": 23, "route": 4, "upsample": 2, "yolo": 3}
    assert sections[0]["width"] == "416" and sections[0]["height"] == "416"


def test_weight_count_matches_official_file_size(yolo):
    assert darknet_weight_count(yolo) == OFFICIAL_WEIGHT_COUNT
    assert 20 + 4 * OFFICIAL_WEIGHT_COUNT == OFFICIAL_WEIGHTS_BYTES


def _random_darknet_values(model, rng) -> np.ndarray:
    """Values in Darknet order with sensible scales (positive variances, fan-in scaled conv weights)."""
    parts = []
    for conv, bn in darknet_conv_layers(model):
        f = conv.out_channels
        if bn is not None:
            parts += [rng.normal(0, 0.1, f), rng.uniform(0.5, 1.0, f), rng.normal(0, 0.1, f),
                      rng.uniform(0.5, 1.5, f)]
        else:
            parts.append(rng.normal(0, 0.5, f))
        fan_in = conv.weight[0].numel()
        parts.append(rng.normal(0, math.sqrt(1.0 / fan_in), conv.weight.numel()))
    return np.concatenate(parts).astype("<f4")


def _write(path, values: np.ndarray, version=(0, 2, 0), seen_dtype="<i8") -> None:
    with open(path, "wb") as fh:
        fh.write(np.array(version, dtype="<i4").tobytes())
        fh.write(np.array([123456], dtype=seen_dtype).tobytes())
        fh.write(values.tobytes())


def test_loads_random_weights_file_in_darknet_layout_and_decodes_boxes(yolo, tmp_path):
    rng = np.random.default_rng(0)
    values = _random_darknet_values(yolo, rng)
    path = tmp_path / "random.weights"
    _write(path, values)
    assert path.stat().st_size == OFFICIAL_WEIGHTS_BYTES
    load_darknet_weights(yolo, path)

    convs = darknet_conv_layers(yolo)
    conv0, bn0 = convs[0]  # 32 filters, 3x3x3: beta, gamma, mean, var, then weights
    np.testing.assert_array_equal(bn0.bias.detach().numpy(), values[0:32])
    np.testing.assert_array_equal(bn0.weight.detach().numpy(), values[32:64])
    np.testing.assert_array_equal(bn0.running_mean.numpy(), values[64:96])
    np.testing.assert_array_equal(bn0.running_var.numpy(), values[96:128])
    np.testing.assert_array_equal(conv0.weight.detach().numpy().ravel(), values[128:128 + 864])
    last, last_bn = convs[-1]  # the last head: bias (255) then weights (255 x 256 x 1 x 1), at the end
    assert last_bn is None
    np.testing.assert_array_equal(last.weight.detach().numpy().ravel(), values[-255 * 256:])
    np.testing.assert_array_equal(last.bias.detach().numpy(), values[-255 * 256 - 255:-255 * 256])

    with torch.no_grad():
        out = yolo.eval()(torch.rand(1, 3, 96, 128))
    # three heads at strides 32, 16, 8, three anchors each
    assert out.shape == (1, 3 * (3 * 4 + 6 * 8 + 12 * 16), 85)
    assert torch.isfinite(out).all()
    pred = out[0].numpy()
    assert (pred[:, 4:] >= 0).all() and (pred[:, 4:] <= 1).all()
    lb = Letterbox(scale=1.0, pad_x=0.0, pad_y=0.0)
    boxes = boxes_from_predictions(pred, lb, (96, 128), conf_thresh=0.0, nms_thresh=0.5)
    assert boxes.shape[1] == 5 and 0 < len(boxes) <= 100  # at most max_det boxes
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert (boxes[:, :4] >= 0).all() and (boxes[:, [0, 2]] <= 127).all() and (boxes[:, [1, 3]] <= 95).all()
    assert np.all(np.diff(boxes[:, 4]) <= 0)  # highest score first


def test_weights_file_size_must_match_exactly(yolo, tmp_path):
    n = darknet_weight_count(yolo)
    short = tmp_path / "short.weights"
    _write(short, np.zeros(n - 1, dtype="<f4"))
    with pytest.raises(DarknetError,
                       match=f"expected {OFFICIAL_WEIGHTS_BYTES} bytes, found {OFFICIAL_WEIGHTS_BYTES - 4}"):
        load_darknet_weights(yolo, short)
    long = tmp_path / "long.weights"
    _write(long, np.zeros(n + 1, dtype="<f4"))
    with pytest.raises(DarknetError, match="does not fit the cfg"):
        load_darknet_weights(yolo, long)
    with pytest.raises(DarknetError, match="not found"):
        load_darknet_weights(yolo, tmp_path / "absent.weights")


def test_old_header_with_int32_seen_counter(tmp_path):
    tiny = tmp_path / "tiny.cfg"
    tiny.write_text("[net]\nwidth=32\nheight=32\nchannels=3\n\n[convolutional]\nbatch_normalize=1\nfilters=4\n"
                    "size=3\nstride=2\npad=1\nactivation=leaky\n\n[convolutional]\nfilters=2\nsize=1\nstride=1\n"
                    "pad=1\nactivation=linear\n")
    model = build_darknet(tiny)
    n = darknet_weight_count(model)
    assert n == 4 * 4 + 4 * 27 + 2 + 2 * 4
    values = np.arange(n, dtype="<f4")
    path = tmp_path / "v01.weights"
    _write(path, values, version=(0, 1, 0), seen_dtype="<i4")  # major*10+minor < 2: 4-byte counter
    load_darknet_weights(model, path)
    conv1 = darknet_conv_layers(model)[1][0]
    np.testing.assert_array_equal(conv1.bias.detach().numpy(), values[124:126])
    np.testing.assert_array_equal(conv1.weight.detach().numpy().ravel(), values[126:])


def test_yolo_layer_decodes_a_known_cell():
    anchors = [(10.0, 13.0), (16.0, 30.0), (33.0, 23.0)]
    layer = YOLOLayer(anchors, num_classes=2)
    raw = torch.full((1, 3, 7, 5, 4), -10.0)  # (B, anchor, 5+C, H=5, W=4)
    raw[:, :, :4] = 0.0
    # anchor 1 at cell (x=2, y=3): offsets sigmoid(0)=0.5, width exp(ln 2)=2x, height exp(0)=1x
    raw[0, 1, 2, 3, 2] = math.log(2.0)
    raw[0, 1, 4, 3, 2] = 10.0  # objectness
    raw[0, 1, 6, 3, 2] = 10.0  # class 1
    out = layer(raw.view(1, 21, 5, 4), input_hw=(40, 32))  # stride 8
    assert out.shape == (1, 3 * 5 * 4, 7)
    row = out[0, 1 * 20 + 3 * 4 + 2]
    torch.testing.assert_close(row[:4], torch.tensor([(2 + 0.5) * 8, (3 + 0.5) * 8, 32.0, 30.0]))
    assert row[4] > 0.9999 and row[6] > 0.9999 and row[5] < 1e-4


def test_letterbox_and_box_mapping_back_to_the_image():
    image = np.zeros((100, 200, 3), dtype=np.uint8)
    rgb, lb = letterbox(image, 64)
    assert rgb.shape == (64, 64, 3) and lb.scale == pytest.approx(0.32) and lb.pad_x == 0 and lb.pad_y == 16
    # a box centred at (32, 32) in the network input, 16 x 8: image box centred at (100, 50), 50 x 25
    pred = np.zeros((1, 85), dtype=np.float32)
    pred[0, :4] = [32, 32, 16, 8]
    pred[0, 4] = 0.9
    pred[0, 5] = 0.8
    boxes = boxes_from_predictions(pred, lb, (100, 200), conf_thresh=0.5, nms_thresh=0.4)
    np.testing.assert_allclose(boxes, [[75, 37.5, 125, 62.5, 0.72]], rtol=1e-5)
    assert len(boxes_from_predictions(pred, lb, (100, 200), conf_thresh=0.75, nms_thresh=0.4)) == 0


def test_nms_keeps_the_best_of_overlapping_boxes_and_other_people():
    lb = Letterbox(1.0, 0.0, 0.0)
    pred = np.zeros((3, 85), dtype=np.float32)
    pred[:, :4] = [[50, 50, 40, 80], [52, 50, 40, 80], [150, 50, 40, 80]]
    pred[:, 4] = [0.8, 0.9, 0.7]
    pred[:, 5] = 1.0
    boxes = boxes_from_predictions(pred, lb, (200, 200), conf_thresh=0.5, nms_thresh=0.4)
    np.testing.assert_allclose(boxes[:, 4], [0.9, 0.7], rtol=1e-6)
    np.testing.assert_allclose(boxes[0, :4], [32, 10, 72, 90])
