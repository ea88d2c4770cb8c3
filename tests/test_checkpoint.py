import pytest
import torch

from lib.model import build_model
from lib.utils.checkpoint import (
    CheckpointError,
    extract_state_dict,
    load_checkpoint_file,
    load_model_weights,
    save_checkpoint,
)


@pytest.fixture
def model(tiny_sct_config):
    return build_model(tiny_sct_config)


def _released_layout(state, prefix="module."):
    return {"epoch": 3, "lr": 1e-4, "optimizer": {}, "min_loss": 40.0,
            "model_pos": {prefix + k: v for k, v in state.items()}}


@pytest.mark.parametrize("layout", ["prefixed", "plain", "bare"])
def test_loads_every_layout(tmp_path, model, tiny_sct_config, layout):
    state = model.state_dict()
    obj = {"prefixed": _released_layout(state), "plain": _released_layout(state, ""), "bare": state}[layout]
    path = tmp_path / "ckpt.bin"
    save_checkpoint(path, obj)
    fresh = build_model(tiny_sct_config)
    assert load_model_weights(fresh, path) == []
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_mismatch_lists_missing_unexpected_and_shapes(tmp_path, model, tiny_sct_config):
    state = model.state_dict()
    state.pop("head.bias")
    state["extra.weight"] = torch.zeros(2)
    state["head.weight"] = torch.zeros(5, 24)
    path = tmp_path / "bad.bin"
    save_checkpoint(path, _released_layout(state))
    with pytest.raises(CheckpointError) as info:
        load_model_weights(build_model(tiny_sct_config), path)
    message = str(info.value)
    assert str(path) in message
    assert "missing 1: head.bias" in message
    assert "unexpected 1: extra.weight" in message
    assert "wrong shape 1: head.weight (checkpoint (5, 24), model (3, 24))" in message


def test_non_strict_skips_and_reports(model, tiny_sct_config):
    state = model.state_dict()
    state["head.weight"] = torch.zeros(5, 24)
    fresh = build_model(tiny_sct_config)
    skipped = load_model_weights(fresh, {"model_pos": state}, strict=False)
    assert skipped == ["head.weight"]
    assert torch.equal(fresh.head.bias, model.head.bias)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint_file(tmp_path / "nope.bin")
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint_file(corrupt)
    with pytest.raises(CheckpointError, match="no model weights"):
        extract_state_dict({"epoch": 1})


class _TouchOnLoad:
    """Unpickling this calls ``Path.touch(marker)``: code that a trusting loader would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (type(self.marker).touch, (self.marker,))


def test_refuses_pickled_code(tmp_path):
    path, marker = tmp_path / "evil.bin", tmp_path / "code_ran"
    torch.save({"model_pos": {"w": torch.ones(1)}, "payload": _TouchOnLoad(marker)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_file(path)
    assert str(info.value).startswith(f"refusing to load checkpoint {path}: it holds pickled Python objects other "
                                      "than tensors and plain values, which could run code when loaded")
    assert not marker.exists()  # the payload never ran
    # a truncated file is not mistaken for one with code in it
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match=f"^cannot read checkpoint {path}: "):
        load_checkpoint_file(path)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.bin"
    save_checkpoint(path, {"a": torch.ones(1)})

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        save_checkpoint(path, {"a": torch.zeros(1)})
    assert torch.equal(load_checkpoint_file(path)["a"], torch.ones(1))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.bin"]
