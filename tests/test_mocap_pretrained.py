"""``tools/mocap_pretrained.py``: where ``--bvh`` is looked up and how a bad one is reported."""

from __future__ import annotations

import pytest

from tools import mocap_pretrained


class _Stop(Exception):
    pass


def test_missing_bvh_folder_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert mocap_pretrained.main(["--bvh", "no_such_corpus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: --bvh {tmp_path / 'no_such_corpus'} is not a folder")


def test_relative_bvh_is_taken_from_the_callers_folder(tmp_path, monkeypatch):
    """The tool changes into the repository; a relative --bvh still means the user's folder."""
    (tmp_path / "corpus").mkdir()
    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_prepare(cfg, bvh, seed):
        seen["bvh"] = bvh
        raise _Stop

    monkeypatch.setattr(mocap_pretrained, "prepare_data", fake_prepare)
    with pytest.raises(_Stop):
        mocap_pretrained.main(["--bvh", "corpus"])
    assert seen["bvh"] == str(tmp_path / "corpus")
