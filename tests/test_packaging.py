"""`pip install .` gives one top-level package, `sct`, that works outside the checkout: a wheel is built,
installed into a fresh environment and lifts with the shipped lifter."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_only_sct_and_lifts_with_the_shipped_lifter(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheel"), str(ROOT)], check=True, capture_output=True, text=True,
                   cwd=tmp_path)
    (wheel,) = (tmp_path / "wheel").glob("sct-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"sct"}
    for data in ("sct/_checkpoints/sct/best_epoch.bin", "sct/_checkpoints/dstformer/best_epoch.bin",
                 "sct/_configs/mocap/sct.yaml", "sct/_lib/model/sctformer.py",
                 "sct/_lib/data/sources/mocap_maps/cmu.json"):
        assert data in names, data

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of the checkout on the path
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, text=True, cwd=tmp_path, env=env)
    # the dependencies (torch, numpy, ...) come from this environment, appended after the fresh site-packages
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    code = (
        "import numpy as np, sct\n"
        "from sct import Lifter\n"
        "kp = np.load(r'%s')\n"
        "xy, conf = sct.coco_to_h36m(kp[..., :2], kp[..., 2])\n"
        "poses = Lifter.pretrained('mocap-sct', device='cpu').lift(np.concatenate([xy, conf[..., None]], -1),"
        " 1000, 1002)\n"
        "print(sct.__file__); print(poses.shape, bool(np.isfinite(poses).all()))\n"
        "import importlib.util; print(importlib.util.find_spec('lib'), importlib.util.find_spec('tools'))\n"
    ) % (ROOT / "demo" / "sample_coco_keypoints.npy")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    where, shape, found = done.stdout.strip().splitlines()
    assert Path(where).is_relative_to(env_dir)
    assert shape == "(150, 17, 3) True"
    assert found == "None None"  # no generic top-level names
