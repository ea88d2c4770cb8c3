"""lib/perf/windowing.py and tools/measure_windowing.py: the measures behind docs/LIFTING.md."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from lib.model import build_model
from lib.perf.windowing import acceleration_error, border_mask
from tests._train_data import write_tiny_h36m
from tests.tiny_models import tiny_config
from tools.measure_windowing import main


def test_acceleration_error_by_hand():
    t = np.arange(6, dtype=np.float64)
    truth = np.zeros((6, 2, 3))
    pred = truth.copy()
    pred[:, :, 0] = t[:, None] ** 2  # constant second difference 2 on every joint
    np.testing.assert_allclose(acceleration_error(pred, truth), [2.0] * 4)
    np.testing.assert_allclose(acceleration_error(truth, truth), 0.0)


def test_border_frames_are_the_four_around_each_window_start():
    mask = border_mask(30, 9)  # frames 1..28; windows start at 9, 18, 27
    frames = np.arange(1, 29)[mask]
    np.testing.assert_array_equal(frames, [7, 8, 9, 10, 16, 17, 18, 19, 25, 26, 27, 28])


@pytest.mark.slow
def test_tool_scores_every_way_and_refuses_bad_input(tmp_path, capsys):
    keys = write_tiny_h36m(tmp_path, clip_len=8)
    cfg = tiny_config(maxlen=8)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    torch.save({"model_pos": build_model(cfg).state_dict()}, tmp_path / "tiny.bin")
    data = f"{keys['dt_root']}/{keys['dt_file']}"
    assert main(["--data", data, "--checkpoint", str(tmp_path / "tiny.bin"), "--config", str(tmp_path / "tiny.yaml"),
                 "--cameras", "--lookahead", "0", "3", "--push-frames", "20", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "P1" not in line]
    assert [r.split(" | ")[0] for r in rows] == ["| consecutive windows", "| overlapping, stride 4 (default)",
                                                  "| stream, look-ahead 0", "| stream, look-ahead 3"]
    assert all(np.isfinite(float(r.split(" | ")[1])) for r in rows)
    assert out.count("stream push (eager, flip") == 2
    assert main(["--data", str(tmp_path / "none.pkl")]) == 2
    assert main(["--data", data, "--lookahead", "81"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: ") and "none.pkl" in err[0]
    assert err[1] == "error: --lookahead 81 must be between 0 and 80"
