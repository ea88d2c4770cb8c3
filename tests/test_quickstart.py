"""The quickstart tool (tools/quickstart.py) end to end with tiny settings, including its pass/fail check."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from lib.data.sources.h36m_render import DetectorNoise
from lib.data.sources.synthetic_h36m import SyntheticConfig
from lib.engine.evaluate import EvalResult
from tools.quickstart import REQUIRED_IMPROVEMENT, QuickstartOptions, QuickstartResult, main, run_quickstart

REPO_ROOT = Path(__file__).resolve().parents[1]


def _result(p1_before: float, p1_after: float) -> QuickstartResult:
    def res(p1: float) -> EvalResult:
        return EvalResult(p1=p1, p2=p1, mpjve=0.0, per_action={})
    return QuickstartResult(res(p1_before), res(p1_after), train_minutes=0.0)


def test_pass_fail_check_is_the_p1_ratio():
    assert _result(300.0, 300.0 / REQUIRED_IMPROVEMENT).passed
    assert not _result(300.0, 300.0 / REQUIRED_IMPROVEMENT * 1.01).passed
    assert _result(300.0, 50.0).improvement == pytest.approx(6.0)


def test_main_exit_code_and_summary_follow_the_check(monkeypatch, capsys):
    import tools.quickstart as quickstart

    monkeypatch.chdir(REPO_ROOT)  # main() moves to the repository root; restored after the test
    threads = torch.get_num_threads()
    try:
        for after, code in ((150.0, 1), (90.0, 0)):
            monkeypatch.setattr(quickstart, "run_quickstart", lambda opts, after=after: _result(300.0, after))
            assert main(["--no-progress"]) == code
            out, err = capsys.readouterr()
            assert f"trained model:   P1 {after:.1f} mm" in out and f"({300.0 / after:.1f}x lower P1" in out
            assert ("quickstart FAILED" in err) == (code == 1)
    finally:
        torch.set_num_threads(threads)


def test_bad_threads_is_exit_2(capsys):
    assert main(["--threads", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --threads must be >= 1"


@pytest.mark.slow
def test_quickstart_tiny_end_to_end(tmp_path, monkeypatch):
    """A tiny quickstart (one action, exact 2D, a 9-frame SCT, 8 short epochs; about 1.5 min on 2 busy cores):
    the untrained model is evaluated, trained, re-evaluated; it must pass its own check (P1 about 471 -> 135
    mm), and a second run reuses data, clips and checkpoints."""
    cfg = yaml.safe_load((REPO_ROOT / "configs/quickstart.yaml").read_text())
    cfg.update(epochs=8, checkpoint_frequency=8, batch_size=8, learning_rate=0.004, maxlen=9, clip_len=9,
               data_stride=9, dim_feat=32, dim_rep=32, depth=2, num_heads=2, freq_prune_layer=[0, 1],
               dt_root=str(tmp_path / "data"), data_root=str(tmp_path / "data" / "clips"))
    config = tmp_path / "quickstart.yaml"
    config.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(tmp_path)
    opts = QuickstartOptions(config=str(config), checkpoint=str(tmp_path / "ckpt"), progress=False,
                             synthetic=SyntheticConfig(actions=["Walking"], test_subjects=["S9"], frames=(150, 200),
                                                       noise=DetectorNoise.with_std(0.0)))
    first = run_quickstart(opts)
    assert first.before.p1 > 0 and first.after.p1 > 0
    assert first.passed, f"untrained P1 {first.before.p1:.1f} mm, trained {first.after.p1:.1f} mm"
    assert (tmp_path / "data" / "h36m_synthetic.pkl").is_file()
    assert (tmp_path / "ckpt" / "best_epoch.bin").is_file()
    again = run_quickstart(opts)  # everything reused: the same best checkpoint evaluates the same
    assert again.after.p1 == pytest.approx(first.after.p1)
