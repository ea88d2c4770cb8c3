"""Training runs: resume continues epoch, lr and optimiser state exactly; fine-tuning; no_eval; evaluate."""

import json

import pytest
import torch

import train
from lib.utils.checkpoint import load_checkpoint_file
from tests._train_data import one_thread, write_config, write_tiny_h36m  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data_keys(tmp_path_factory):
    return write_tiny_h36m(tmp_path_factory.mktemp("tiny"))


def _train(capsys, cfg, ck, *extra):
    code = train.main(["--config", str(cfg), "-c", str(ck), "--workers", "0", "--no-progress",
                       "--device", "cpu", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_resume_continues_epoch_lr_and_optimizer(capsys, tmp_path, data_keys):
    cfg = write_config(tmp_path / "c.yaml", data_keys, epochs=3, lr_decay=0.5, checkpoint_frequency=2)
    straight = tmp_path / "straight"
    _train(capsys, cfg, straight)
    # the same run stopped after one epoch, then resumed twice (auto-resume from latest_epoch.bin)
    split = tmp_path / "split"
    _train(capsys, cfg, split, "epochs=1")
    first = load_checkpoint_file(split / "latest_epoch.bin")
    assert first["epoch"] == 1 and first["lr"] == pytest.approx(0.001 * 0.5)
    out = _train(capsys, cfg, split, "epochs=2")
    assert "resuming" in out and "[2]" in out and "[1]" not in out
    out = _train(capsys, cfg, split)
    assert "[3]" in out and "[2]" not in out

    a = load_checkpoint_file(straight / "latest_epoch.bin")
    b = load_checkpoint_file(split / "latest_epoch.bin")
    assert a["epoch"] == b["epoch"] == 3
    assert a["lr"] == pytest.approx(0.001 * 0.5 ** 3) and b["lr"] == pytest.approx(a["lr"])
    assert b["optimizer"]["param_groups"][0]["lr"] == pytest.approx(a["lr"])
    for name, tensor in a["model_pos"].items():
        assert name.startswith("module.")
        torch.testing.assert_close(b["model_pos"][name], tensor, rtol=1e-5, atol=1e-6)
    for key, state in a["optimizer"]["state"].items():
        torch.testing.assert_close(b["optimizer"]["state"][key]["exp_avg_sq"], state["exp_avg_sq"],
                                   rtol=1e-5, atol=1e-9)
        assert float(b["optimizer"]["state"][key]["step"]) == float(state["step"])
    assert b["min_loss"] == pytest.approx(a["min_loss"])
    # released layout and checkpoint files
    assert set(a) == {"epoch", "lr", "optimizer", "model_pos", "min_loss", "model_args", "recipe"}
    assert a["recipe"] == {"seed": 0, "config": str(cfg), "overrides": []}
    assert b["recipe"]["overrides"] == []  # the last command's (epochs= was given only to stop early)
    assert (straight / "epoch_1.bin").is_file() and not (straight / "epoch_0.bin").exists()
    best = load_checkpoint_file(straight / "best_epoch.bin")
    assert best["min_loss"] == pytest.approx(a["min_loss"])
    assert list((straight / "logs").iterdir())  # TensorBoard event file


def test_resume_from_a_fresh_checkout_that_keeps_only_the_latest_checkpoint(capsys, tmp_path, data_keys):
    """A work folder committed with latest_epoch.bin alone (checkpoint/work/<run>/) continues in a clone:
    the epoch, lr and optimizer go on, the best epoch is chosen again, and another seed is refused."""
    import shutil

    cfg = write_config(tmp_path / "c.yaml", data_keys, epochs=2, lr_decay=0.5)
    first = tmp_path / "first"
    _train(capsys, cfg, first, "--seed", "3", "epochs=1")
    clone = tmp_path / "clone"
    clone.mkdir()
    shutil.copy(first / "latest_epoch.bin", clone / "latest_epoch.bin")
    code = train.main(["--config", str(cfg), "-c", str(clone), "--workers", "0", "--no-progress",
                       "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {clone / 'latest_epoch.bin'} was trained with --seed 3, this run has "
                                 "--seed 0: resume with --seed 3 (or train into another folder)"]
    assert sorted(p.name for p in clone.iterdir()) == ["latest_epoch.bin"]
    out = _train(capsys, cfg, clone, "--seed", "3")
    assert f"WARNING: no best_epoch.bin in {clone}" in out and "from 2 on" in out
    assert "[2]" in out and "[1]" not in out
    latest, best = load_checkpoint_file(clone / "latest_epoch.bin"), load_checkpoint_file(clone / "best_epoch.bin")
    assert latest["epoch"] == best["epoch"] == 2 and latest["recipe"]["seed"] == 3
    assert latest["lr"] == pytest.approx(0.001 * 0.25)
    # the same two epochs in one go give the same weights
    straight = tmp_path / "straight"
    _train(capsys, cfg, straight, "--seed", "3")
    ref = load_checkpoint_file(straight / "latest_epoch.bin")
    for name, tensor in ref["model_pos"].items():
        torch.testing.assert_close(latest["model_pos"][name], tensor, rtol=1e-5, atol=1e-6)


def test_evaluate_prints_protocol_lines_and_saves_json_in_the_output_dir(capsys, tmp_path, data_keys):
    cfg = write_config(tmp_path / "c.yaml", data_keys, epochs=1)
    ck = tmp_path / "ck"
    out = _train(capsys, cfg, ck)
    trained_e1 = float(out.split(" e1 ")[1].split()[0])
    beside = sorted(ck.iterdir())
    training_json = (ck / "best_epoch_results.json").read_bytes()
    # the checkpoint's folder stands for a shared or read-only one: the evaluation writes into -c only
    code = train.main(["--config", str(cfg), "-e", str(ck / "best_epoch.bin"), "-c", str(tmp_path / "ev"),
                       "--workers", "0", "--no-progress", "--device", "cpu"])
    out, _ = capsys.readouterr()
    assert code == 0
    line = next(ln for ln in out.splitlines() if ln.startswith("Protocol #1 Error (MPJPE): "))
    p1 = float(line.split(": ")[1].split()[0])
    assert line.endswith(" mm") and p1 == pytest.approx(trained_e1, abs=1e-5)
    assert any(ln.startswith("Protocol #2 Error (P-MPJPE): ") for ln in out.splitlines())
    assert sorted(ck.iterdir()) == beside and (ck / "best_epoch_results.json").read_bytes() == training_json
    assert [p.name for p in (tmp_path / "ev").iterdir()] == ["best_epoch_results.json"]
    saved = json.loads((tmp_path / "ev" / "best_epoch_results.json").read_text())
    assert saved["p1"] == pytest.approx(p1) and set(saved["per_action"]) == {"Directions", "Discussion", "Eating"}
    assert saved["checkpoint"] == str(ck / "best_epoch.bin")


def test_no_eval_and_finetune_from_other_shapes(capsys, tmp_path, data_keys):
    cfg = write_config(tmp_path / "c.yaml", data_keys, epochs=1, no_eval=True)
    base = tmp_path / "base"
    out = _train(capsys, cfg, base)
    assert "e1" not in out
    assert (base / "latest_epoch.bin").is_file() and not (base / "best_epoch.bin").exists()
    # fine-tune a model with another dim_rep: the head and pre-logits are skipped with a warning
    other = write_config(tmp_path / "o.yaml", data_keys, epochs=1, dim_rep=12, finetune=True)
    out = _train(capsys, other, tmp_path / "ft", "-p", str(base), "-ms", "latest_epoch.bin")
    warning = next(ln for ln in out.splitlines() if ln.startswith("WARNING:") and "skipped" in ln)
    assert "head.weight" in warning
    # the names with equal shapes are the pretrained ones
    from lib.engine.trainer import load_pretrained
    from lib.model import build_model
    from lib.utils.config import load_config

    model = build_model(load_config(other))
    messages = []
    load_pretrained(model, str(base / "latest_epoch.bin"), messages.append)
    src = load_checkpoint_file(base / "latest_epoch.bin")["model_pos"]
    state = model.state_dict()
    same = [k for k in state if state[k].shape == src[f"module.{k}"].shape]
    assert len(same) > 10 and "head.weight" not in same
    for k in same:
        torch.testing.assert_close(state[k], src[f"module.{k}"])


@pytest.mark.parametrize("amp, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_mixed_precision_training(monkeypatch, tmp_path, data_keys, amp, dtype):
    import lib.model
    from lib.engine import trainer

    seen, scalers, initial = set(), [], {}
    build_model = lib.model.build_model

    def build_and_watch(cfg, **kwargs):
        model = build_model(cfg, **kwargs)
        initial.update({k: v.clone() for k, v in model.state_dict().items()})
        layer = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
        layer.register_forward_hook(lambda _m, _i, out: seen.add(out.dtype))
        return model

    make_grad_scaler = trainer.make_grad_scaler

    def watch_scaler(device_type, enabled):
        scalers.append(enabled)
        return make_grad_scaler(device_type, enabled)

    monkeypatch.setattr(lib.model, "build_model", build_and_watch)
    monkeypatch.setattr(trainer, "make_grad_scaler", watch_scaler)
    cfg = write_config(tmp_path / "c.yaml", data_keys, epochs=1)
    summary = trainer.run(trainer.TrainOptions(config=str(cfg), checkpoint=str(tmp_path / "ck"), amp=amp,
                                               device="cpu", workers=0, progress=False), log=lambda *_: None)
    assert seen == {dtype}  # every forward pass (training and evaluation) ran under autocast
    assert scalers == [amp == "fp16"]  # float16 scales the loss, bfloat16 does not need to
    assert summary.epochs_done == 1 and all(torch.isfinite(torch.tensor(h["loss_total"])) for h in summary.history)
    assert torch.isfinite(torch.tensor(summary.result.p1))
    saved = load_checkpoint_file(tmp_path / "ck" / "latest_epoch.bin")["model_pos"]
    weights = {k.removeprefix("module."): v for k, v in saved.items()}
    assert all(v.dtype == initial[k].dtype and torch.isfinite(v).all() for k, v in weights.items())
    assert not torch.equal(weights["head.weight"], initial["head.weight"])  # the optimiser stepped
