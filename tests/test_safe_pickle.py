"""The restricted unpickler: data loads (any protocol, NumPy 1.x and 2 layouts), code does not run."""

from __future__ import annotations

import collections
import os
import pickle

import numpy as np
import pytest

from lib.data.convert_h36m import convert_h36m
from lib.data.datareader_h36m import DataFormatError, DataReaderH36M
from lib.data.dataset_motion_3d import ClipFolder
from lib.utils.atomic_io import atomic_pickle_dump
from lib.utils.safe_pickle import UnsafePickleError, load_pickle, loads
from tools import make_synthetic_h36m as synth_cli


class _RunsCode:
    """Unpickling this calls ``os.mkdir(marker)``: the side effect shows whether code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _data() -> dict:
    return {
        "f32": np.arange(12, dtype=np.float32).reshape(2, 3, 2),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "names": np.array(["s_01_act_02", "s_09_act_03"]),
        "objects": np.array(["a", "bc"], dtype=object),
        "scalars": (np.float64(1.5), np.int64(-3), np.str_("x"), np.bool_(True)),
        "plain": [1, 2.5, 1j, True, None, "text", b"\x00\xff", {1, 2}, frozenset({3})],
        "ordered": collections.OrderedDict(b=1, a=2),
    }


def _assert_same(got, want) -> None:
    assert type(got) is type(want)
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.flags.f_contiguous == want.flags.f_contiguous
        np.testing.assert_array_equal(got, want)
    elif isinstance(want, dict):
        assert list(got) == list(want)
        for key in want:
            _assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            _assert_same(g, w)
    else:
        assert got == want


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_data_round_trips_in_every_protocol(protocol):
    data = _data()
    _assert_same(loads(pickle.dumps(data, protocol=protocol)), data)


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_code_in_a_pickle_is_refused_and_not_run(tmp_path, protocol):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"train": _RunsCode(str(marker))}, protocol=protocol))
    with pytest.raises(UnsafePickleError) as err:
        load_pickle(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert ("'posix.mkdir'" in message) or ("'os.mkdir'" in message) or ("'nt.mkdir'" in message)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the same bytes through plain pickle do run the code
    assert marker.exists()


def test_system_call_global_is_refused(tmp_path):
    # the classic exploit, written by hand: GLOBAL os.system, call it with a shell command
    marker = tmp_path / "touched"
    payload = b"cos\nsystem\n(V" + f"touch {marker}".encode() + b"\ntR."
    with pytest.raises(UnsafePickleError, match=r"<crafted>: refused to load global 'os\.system'"):
        loads(payload, source="<crafted>")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["builtins eval", "builtins getattr", "numpy load", "numpy.testing rundocs",
                                  "copyreg _reconstructor", "subprocess Popen", "numpy frombuffer"])
def test_other_globals_are_refused(name):
    module, attr = name.split()
    with pytest.raises(UnsafePickleError, match=f"'{module}.{attr}'"):
        loads(b"c" + module.encode() + b"\n" + attr.encode() + b"\n.")


def test_persistent_ids_are_refused():
    with pytest.raises(UnsafePickleError, match="persistent id"):
        loads(b"Pabc\n.")


def test_numpy_1x_pickle_loads():
    # NumPy 1.x names its array rebuilder numpy.core.multiarray._reconstruct (NumPy 2 writes numpy._core);
    # MotionBERT's files are protocol 2, where the names are plain text in GLOBAL opcodes.
    data = {"joint_2d": np.arange(34, dtype=np.float32).reshape(1, 17, 2), "factor": np.float64(4.5),
            "source": np.array(["s_09_act_02_subact_01_ca_01"])}
    raw = pickle.dumps(data, protocol=2)
    old = raw.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in old and b"numpy._core" not in old
    assert b"cnumpy.core.multiarray\nscalar\n" in old and b"c_codecs\nencode\n" in old
    _assert_same(loads(old), data)


def test_project_outputs_load(tmp_path):
    # what the project writes: the synthetic generator's pickle and the converter's clip pickles
    out = tmp_path / "syn.pkl"
    assert synth_cli.main(["--train-subjects", "S6", "--test-subjects", "S9", "--actions", "Posing",
                           "--frames", "20", "20", "--out", str(out)]) == 0
    data = load_pickle(out)
    assert data["test"]["joint_2d"].shape[1:] == (17, 2) and data["test"]["source"].dtype.kind in "OU"
    counts = convert_h36m(str(tmp_path), "syn.pkl", tmp_path / "clips", clip_len=8, stride=4, fmt="pkl")
    reader = DataReaderH36M(8, 1, 4, 8, dt_root=str(tmp_path), dt_file="syn.pkl")
    _, test_data, _, test_labels = reader.get_sliced_data()
    folder = ClipFolder(str(tmp_path / "clips" / "test"))
    assert len(folder) == counts["test"] == len(test_data)
    x, y = folder[len(folder) - 1]
    np.testing.assert_array_equal(x, test_data[-1])
    np.testing.assert_array_equal(y, test_labels[-1])
    atomic_pickle_dump(_data(), tmp_path / "atomic.pkl")
    _assert_same(load_pickle(tmp_path / "atomic.pkl"), _data())


def test_reader_and_clip_folder_refuse_code(tmp_path):
    marker = tmp_path / "ran"
    with open(tmp_path / "h36m.pkl", "wb") as fh:
        pickle.dump({"train": _RunsCode(str(marker)), "test": {}}, fh, protocol=2)
    with pytest.raises(DataFormatError, match="h36m.pkl: refused to load global"):
        DataReaderH36M(8, 1, 4, 8, dt_root=str(tmp_path), dt_file="h36m.pkl")
    clips = tmp_path / "clips"
    clips.mkdir()
    with open(clips / "00000000.pkl", "wb") as fh:
        pickle.dump({"data_input": _RunsCode(str(marker)), "data_label": np.zeros(3)}, fh)
    with pytest.raises(UnsafePickleError, match="00000000.pkl"):
        ClipFolder(str(clips))[0]
    assert not marker.exists()
