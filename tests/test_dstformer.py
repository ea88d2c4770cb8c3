"""MotionBERT's DSTformer baseline and SCT's spectral compression as a plug-in."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lib.model import DSTformer, build_model
from lib.model.spectral import spectral_compress
from lib.utils.checkpoint import extract_state_dict, load_model_weights
from tests.tiny_models import tiny_config

REFERENCE = Path(__file__).parent / "data" / "reference"
TINY = tiny_config(depth=3, maxlen=40, backbone="DSTformer", dct_ratio=None, freq_prune_layer=None)


def _read_manifest(path: Path) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for line in path.read_text().splitlines():
        name, shape = line.split("\t")
        shapes[name.removeprefix("module.")] = tuple(int(s) for s in shape.split("x"))
    return shapes


def test_parameter_names_and_shapes_match_motionbert_release():
    expected = _read_manifest(REFERENCE / "motionbert_released_checkpoint_keys.tsv")
    with torch.device("meta"):
        model = build_model(dict(dim_feat=512, dim_rep=512, depth=5, num_heads=8, mlp_ratio=2, maxlen=243,
                                 num_joints=17, att_fuse=True, backbone="DSTformer"))
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert actual == expected


def test_reproduces_motionbert_equivalence_case():
    case = torch.load(REFERENCE / "motionbert_equivalence_case.pt", weights_only=True)
    assert case["config"]["backbone"] == "DSTformer"
    model = build_model(case["config"]).eval()
    assert isinstance(model, DSTformer)
    load_model_weights(model, case["state_dict"], strict=True)
    with torch.no_grad():
        out = model(case["input"])
    assert out.shape == case["output"].shape
    assert (out - case["output"]).abs().max().item() < 1e-5


def test_plugin_with_ratio_one_equals_plain_backbone():
    torch.manual_seed(0)
    plain = build_model(TINY).eval()
    plugged = build_model({**TINY, "dct_ratio": 1.0, "freq_prune_layer": [0, 1, 2]}).eval()
    plugged.load_state_dict(plain.state_dict())
    x = torch.randn(2, 33, 17, 3)
    with torch.no_grad():
        assert torch.equal(plain(x), plugged(x))


def test_plugin_compresses_chosen_layers_and_restores_length():
    torch.manual_seed(0)
    model = build_model({**TINY, "dct_ratio": 0.6, "freq_prune_layer": [0, 2]}).eval()
    assert model.compress_ratios == [0.6, 1.0, 0.6]
    assert model.output_lengths(40) == [24, 24, 15]
    for T in (1, 2, 27, 40):
        with torch.no_grad():
            assert model(torch.randn(1, T, 17, 3)).shape == (1, T, 17, 3)
    # the default DSTformer compresses nothing
    assert build_model(TINY).output_lengths(40) == [40, 40, 40]


def test_plugin_temporal_sublayer_is_prenorm_on_compressed_sequence():
    """A compressed temporal sub-layer computes x' + Attn(LN(x)') followed by the usual MLP sub-layer."""
    torch.manual_seed(0)
    model = build_model({**TINY, "dct_ratio": 0.5, "freq_prune_layer": [1]}).eval()
    block = model.blocks_ts[1]
    x = torch.randn(2, 20, 17, 16)
    with torch.no_grad():
        xc = spectral_compress(x, 0.5, dim=1)
        yc = spectral_compress(block.norm1_t(x), 0.5, dim=1)
        y = xc + block.attn_t(yc)
        expected = y + block.mlp_t(block.norm2_t(y))
        assert block.temporal(x).shape == (2, 10, 17, 16)
        assert torch.allclose(block.temporal(x), expected, atol=1e-6)


def test_sct_checkpoint_does_not_fit_dstformer():
    case = torch.load(REFERENCE / "sct_equivalence_case.pt", weights_only=True)
    model = build_model({**case["config"], "backbone": "DSTformer"})
    with pytest.raises(RuntimeError, match="joints_embed.weight"):
        load_model_weights(model, extract_state_dict(case["state_dict"]), strict=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown backbone 'Foo'; choose one of: SCT, DSTformer"):
        build_model({**TINY, "backbone": "Foo"})
    with pytest.raises(ValueError, match="outside 0..2"):
        build_model({**TINY, "freq_prune_layer": [3]})
    with pytest.raises(ValueError, match="dct_ratio"):
        build_model({**TINY, "dct_ratio": 0.0, "freq_prune_layer": [0]})
    with pytest.raises(ValueError, match="maxlen=40"):
        build_model(TINY)(torch.randn(1, 41, 17, 3))
