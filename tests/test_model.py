import pytest
import torch
import torch.nn.functional as F

from lib.model import SCTformer, build_model
from lib.perf.reference_sct import ReferenceSCT
from lib.utils.checkpoint import load_model_weights
from lib.utils.config import load_config
from tests.conftest import REPO_ROOT, read_key_manifest


def test_equivalence_case(sct_case):
    model = build_model(sct_case["config"]).eval()
    load_model_weights(model, sct_case)
    with torch.no_grad():
        out = model(sct_case["input"])
    assert out.shape == sct_case["output"].shape == (2, 100, 17, 3)
    torch.testing.assert_close(out, sct_case["output"], atol=1e-5, rtol=0)


def test_reference_implementation_reproduces_the_case(sct_case):
    model = ReferenceSCT(**sct_case["config"]).eval()
    load_model_weights(model, sct_case)
    with torch.no_grad():
        torch.testing.assert_close(model(sct_case["input"]), sct_case["output"], atol=1e-5, rtol=0)


def test_released_configuration_matches_checkpoint_manifest():
    cfg = load_config(REPO_ROOT / "configs" / "MB_train_h36m.yaml")
    with torch.device("meta"):
        model = build_model(cfg)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == read_key_manifest("sct_released_checkpoint_keys.tsv")


def test_sequence_shortens_layer_by_layer():
    cfg = load_config(REPO_ROOT / "configs" / "MB_train_h36m.yaml")
    with torch.device("meta"):
        model = build_model(cfg)
    assert model.output_lengths(243) == [146, 88, 53, 32, 20]


@pytest.mark.parametrize("frames", [1, 2, 27, 81, 100, 243])
def test_any_length_matches_reference(tiny_sct_config, frames):
    torch.manual_seed(frames)
    model = build_model(tiny_sct_config).eval()
    reference = ReferenceSCT(**tiny_sct_config).eval()
    reference.load_state_dict(model.state_dict())
    x = torch.randn(2, frames, 17, 3)
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(out, reference(x), atol=1e-5, rtol=1e-5)
    assert out.shape == (2, frames, 17, 3)


def test_too_long_input_is_rejected(tiny_sct_config):
    model = build_model({**tiny_sct_config, "maxlen": 27})
    with pytest.raises(ValueError, match="maxlen=27"):
        model(torch.randn(1, 28, 17, 3))


def test_wrong_joint_count_is_rejected(tiny_sct_config):
    with pytest.raises(ValueError, match="17"):
        build_model(tiny_sct_config)(torch.randn(1, 5, 16, 3))


@pytest.mark.parametrize("batch", [1, 3])
def test_batch_independence(tiny_sct_config, batch):
    model = build_model(tiny_sct_config).eval()
    x = torch.randn(batch, 27, 17, 3)
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i:i + 1]) for i in range(batch)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast(tiny_sct_config, dtype):
    model = build_model(tiny_sct_config).eval()
    x = torch.randn(2, 81, 17, 3)
    with torch.no_grad():
        full = model(x)
        with torch.autocast("cpu", dtype=dtype):
            low = model(x)
    assert low.dtype == dtype
    assert torch.isfinite(low).all()
    torch.testing.assert_close(low.float(), full, atol=0.1, rtol=0.1)


def test_without_fusion_and_compression(tiny_sct_config):
    cfg = {**tiny_sct_config, "att_fuse": False, "freq_prune_layer": []}
    model = build_model(cfg)
    assert model.ts_attn is None
    assert model.output_lengths(81) == [81, 81]
    assert model(torch.randn(1, 81, 17, 3)).shape == (1, 81, 17, 3)


def test_config_errors(tiny_sct_config):
    with pytest.raises(ValueError, match="unknown backbone"):
        build_model({**tiny_sct_config, "backbone": "Nope"})
    with pytest.raises(ValueError, match="freq_prune_layer"):
        build_model({**tiny_sct_config, "freq_prune_layer": [5]})
    with pytest.raises(ValueError, match=r"dct_ratio must be in \(0, 1\], got 1.5"):
        build_model({**tiny_sct_config, "dct_ratio": 1.5})  # was silently "no compression"
    with pytest.raises(ValueError, match="divisible"):
        build_model({**tiny_sct_config, "num_heads": 3})


def test_one_optimiser_step_lowers_the_loss(tiny_sct_config):
    torch.manual_seed(0)
    model = build_model(tiny_sct_config).train()
    x, target = torch.randn(4, 27, 17, 3), torch.randn(4, 27, 17, 3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def loss_fn():
        return torch.linalg.norm(model(x) - target, dim=-1).mean()

    before = loss_fn()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss_fn()
    assert after < before
    assert all(p.grad is not None for p in model.parameters())


def test_dropout_and_drop_path_only_in_training(tiny_sct_config):
    model = build_model({**tiny_sct_config, "dropout": 0.5, "drop_path": 0.5})
    x = torch.randn(2, 27, 17, 3)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, model(x))


def test_sctformer_defaults_are_the_released_configuration():
    with torch.device("meta"):
        model = SCTformer()
    assert model.compress_ratios == [0.6] * 5
    assert sum(p.numel() for p in model.parameters()) == sum(
        torch.Size(s).numel() for s in read_key_manifest("sct_released_checkpoint_keys.tsv").values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(sct_case):
    model = build_model(sct_case["config"]).eval()
    load_model_weights(model, sct_case)
    with torch.no_grad():
        out = model.cuda()(sct_case["input"].cuda()).cpu()
    torch.testing.assert_close(out, sct_case["output"], atol=1e-4, rtol=0)


def test_training_after_inference_at_the_same_length(tiny_sct_config):
    model = build_model(tiny_sct_config)
    x = torch.randn(1, 27, 17, 3)
    with torch.inference_mode():
        model.eval()(x)
    model.train()(x).sum().backward()  # reuses the cached operators built under inference_mode
    assert model.joints_embed.weight.grad is not None


def test_compression_defaults_per_backbone():
    sct = load_config(REPO_ROOT / "configs" / "MB_train_h36m.yaml", ["dct_ratio=null", "freq_prune_layer=null"])
    dst = load_config(REPO_ROOT / "configs" / "MB_train_h36m_dstformer.yaml")
    with torch.device("meta"):
        assert build_model(sct).compress_ratios == [0.6] * 5  # SCT: the released setting
        assert build_model(dst).compress_ratios == [1.0] * 5  # DSTformer: none
        assert build_model({**dst, "dct_ratio": 0.5, "freq_prune_layer": [1]}).compress_ratios == [
            1.0, 0.5, 1.0, 1.0, 1.0]


def test_line_pose_graph_can_be_switched_off(tiny_sct_config):
    torch.manual_seed(0)
    plain = build_model({**tiny_sct_config, "line_pose_graph": False}).eval()
    assert plain.line_pose_graph is None
    assert plain.joints_embed.in_features == 3
    assert build_model(tiny_sct_config).joints_embed.in_features == 6  # the released input: LPG on
    x = torch.randn(2, 27, 17, 3)
    # without the graph the embedding is a plain linear map of the 3 input channels
    expected = plain.pos_drop(F.linear(x, plain.joints_embed.weight, plain.joints_embed.bias)
                              + plain.pos_embed + plain.temp_embed[:, :27])
    with torch.no_grad():
        torch.testing.assert_close(plain.embed(x), expected)
        assert plain(x).shape == (2, 27, 17, 3)
    assert SCTformer(dim_feat=16, depth=1, num_heads=2, freq_prune_layer=[0],
                     line_pose_graph=False).line_pose_graph is None
