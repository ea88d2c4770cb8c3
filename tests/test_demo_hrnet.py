"""HRNet-W48 with the official parameter names: the name/shape list, strict loading, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from demo.sct_demo.hrnet import pose_hrnet_w48
from demo.sct_demo.keypoints import PoseWeightsError, load_hrnet_weights

SHAPES_FILE = Path(__file__).parent / "data" / "hrnet_w48_state_dict.txt"


def official_shapes() -> dict[str, tuple[int, ...]]:
    out = {}
    for line in SHAPES_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, shape = line.split("\t")
            out[name] = tuple(int(v) for v in shape.split(","))
    return out


@pytest.fixture(scope="module")
def hrnet():
    torch.manual_seed(0)
    return pose_hrnet_w48().eval()


def test_architecture_matches_the_official_name_and_shape_list(hrnet):
    listed = official_shapes()
    own = {k: tuple(v.shape) for k, v in hrnet.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert list(own) == list(listed)  # same names, same order
    assert own == listed
    # spot checks of the official layout
    assert listed["transition1.1.0.0.weight"] == (96, 256, 3, 3)  # new branch: Sequential(Sequential(conv...))
    assert listed["stage4.2.fuse_layers.0.3.0.weight"] == (48, 384, 1, 1)  # 1x1 conv from the 1/32 branch
    assert listed["stage3.0.fuse_layers.2.0.1.0.weight"] == (192, 48, 3, 3)  # second stride-2 step
    assert listed["final_layer.weight"] == (17, 48, 1, 1) and listed["final_layer.bias"] == (17,)
    assert not any(k.startswith("stage4.2.fuse_layers.1") for k in listed)  # last module: one output
    assert sum(p.numel() for p in hrnet.parameters()) == 63_595_745  # the paper's 63.6 M


def test_official_state_dict_loads_strictly(hrnet, tmp_path):
    gen = torch.Generator().manual_seed(1)
    state = {k: torch.randn(shape, generator=gen) for k, shape in official_shapes().items()}
    path = tmp_path / "pose_hrnet_w48_384x288.pth"
    torch.save(state, path)  # a bare state dict without num_batches_tracked, as in old releases
    load_hrnet_weights(hrnet, path)
    own = hrnet.state_dict()
    for name in ("conv1.weight", "stage4.2.fuse_layers.0.3.1.running_var", "final_layer.bias"):
        torch.testing.assert_close(own[name], state[name])
    # a DataParallel-style prefix and the optional counters are accepted too
    prefixed = {f"module.{k}": v for k, v in hrnet.state_dict().items()}
    torch.save({"state_dict": prefixed}, path)
    load_hrnet_weights(pose_hrnet_w48(), path)


def test_heatmaps_are_a_quarter_of_the_input(hrnet):
    with torch.no_grad():
        out = hrnet(torch.randn(1, 3, 64, 96))
    assert out.shape == (1, 17, 16, 24)


def test_wrong_missing_or_corrupt_weights_give_clear_errors(hrnet, tmp_path):
    state = {k: torch.zeros(s) for k, s in official_shapes().items()}
    state["final_layer.weight"] = torch.zeros(16, 48, 1, 1)
    del state["conv1.weight"]
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(PoseWeightsError, match=r"missing 1: conv1\.weight; wrong shape 1: final_layer\.weight"):
        load_hrnet_weights(hrnet, path)
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint at all")
    with pytest.raises(PoseWeightsError, match="cannot read HRNet weights .*corrupt.pth"):
        load_hrnet_weights(hrnet, corrupt)
    with pytest.raises(PoseWeightsError, match="HRNet weights not found: .*absent.pth"):
        load_hrnet_weights(hrnet, tmp_path / "absent.pth")
