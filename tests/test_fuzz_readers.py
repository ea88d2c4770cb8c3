"""Every reader a user can reach, fed corrupted files: a clean refusal (its own error, one line naming the file) or a
valid result with finite numbers, never another exception or NaN (the rule of :mod:`tests.fuzz_inputs`).

Two kinds of test: a table of hand-made corruptions per format (truncation, non-finite values, wrong types and
shapes, empty, huge values, wrong encoding), each with the refusal it must get, and property-based tests
(hypothesis) that mutate valid files at random. The fast set runs a few dozen random files per reader; the slow
set (``pytest -m slow tests/test_fuzz_readers.py``) a thousand.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from demo.sct_demo.keypoint_files import KeypointFileError, load_keypoints
from demo.sct_demo.pipeline import DemoError, video_info
from lib.data.datareader_h36m import DataFormatError, load_h36m_pickle
from lib.data.dataset_motion_3d import ClipFolder
from lib.data.sources.bvh import BVHError, parse_bvh
from lib.engine.evaluate_3dhp import load_predictions
from lib.utils.checkpoint import CheckpointError
from lib.utils.config import ConfigError, load_config, parse_override, validate_config
from tests.fuzz_inputs import (
    BVH_ERRORS,
    CONFIG_TEXT,
    H36M_ERRORS,
    THREEDHP_ERRORS,
    RuleBroken,
    all_finite,
    alphapose_entries,
    check_3dhp,
    check_config,
    check_h36m,
    check_keypoints,
    check_model,
    check_world,
    checkpoint_bytes,
    demo_npz_arrays,
    gzip_bytes,
    h36m_dict,
    openpose_doc,
    read_3dhp,
    read_bvh_world,
    read_checkpoint,
    refused_or_valid,
    small_bvh_text,
    threedhp_dicts,
    write_npz_object,
)

FAST = settings(max_examples=25, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=1000, deadline=None, database=None, suppress_health_check=list(HealthCheck))
BUDGETS = [pytest.param(FAST, id="fast"), pytest.param(LONG, id="long", marks=pytest.mark.slow)]


def damaged(data: bytes, max_cut: int) -> st.SearchStrategy[bytes]:
    """``data`` with up to ``max_cut`` bytes cut off its end and one byte replaced."""
    def apply(edit: tuple[int, int, int]) -> bytes:
        at, value, cut = edit
        out = bytearray(data[:len(data) - cut])
        if at < len(out):
            out[at] = value
        return bytes(out)

    return st.tuples(st.integers(0, len(data)), st.integers(0, 255), st.integers(0, max_cut)).map(apply)


def run_property(budget: settings, strategy, check) -> None:
    """Run ``check(example)`` on ``budget.max_examples`` examples drawn from ``strategy``."""
    def example(value) -> None:
        check(value)

    budget(given(strategy)(example))()


# ------------------------------------------------------------------------------------------------ BVH

def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


BVH = small_bvh_text()
FRAMES_LINE = BVH.splitlines().index("Frames: 12")


def _bvh_with(line: int, text: str) -> str:
    lines = BVH.splitlines()
    lines[line] = text
    return "\n".join(lines) + "\n"


def _bvh_value(frame: int, column: int, value: str) -> str:
    row = FRAMES_LINE + 2 + frame
    parts = BVH.splitlines()[row].split()
    parts[column] = value
    return _bvh_with(row, " ".join(parts))


BVH_CASES = [
    # (name, text or bytes, the refusal as a regular expression)
    ("nan value", _bvh_value(5, 7, "nan"), r"line \d+: frame 5: value 8 \(LHipJoint \w+\) is nan; expected finite"),
    ("inf value", _bvh_value(0, 0, "inf"), r"frame 0: value 1 \(Hips Xposition\) is inf; expected finite"),
    ("-inf value", _bvh_value(11, 95, "-inf"), r"frame 11: value 96 .* is -inf"),
    ("overflowing value", _bvh_value(3, 2, "1e400"), r"frame 3: value 3 .* is 1e400"),
    ("huge position", _bvh_value(3, 0, "1e300"), r"frame 3: joint '\w+' has a coordinate of .* mm; expected a person"),
    ("zero frames", _bvh_with(FRAMES_LINE, "Frames: 0"), r"'Frames: 0': the file has no motion; expected at least 1"),
    ("negative frames", _bvh_with(FRAMES_LINE, "Frames: -3"), r"'Frames: -3': the file has no motion"),
    ("frames not a number", _bvh_with(FRAMES_LINE, "Frames: many"), r"'Frames: many' is not a whole number"),
    ("frame time nan", _bvh_with(FRAMES_LINE + 1, "Frame Time: nan"), r"'Frame Time: nan': expected a finite"),
    ("frame time zero", _bvh_with(FRAMES_LINE + 1, "Frame Time: 0"), r"'Frame Time: 0': expected a finite"),
    ("frame time text", _bvh_with(FRAMES_LINE + 1, "Frame Time: fast"), r"'Frame Time: fast' is not a number"),
    ("offset nan", BVH.replace("OFFSET 0 0 0", "OFFSET 0 nan 0", 1), r"OFFSET 0 nan 0 is not finite"),
    ("more frames declared", _bvh_with(FRAMES_LINE, "Frames: 13"), r"'Frames: 13' but only 12 frame lines"),
    ("value not a number", _bvh_value(2, 4, "1,5"), r"frame 2 holds something that is not a number"),
    ("short frame line", _bvh_with(FRAMES_LINE + 4, "0 0 0"), r"frame 2 holds 3 values"),
    ("truncated in the hierarchy", BVH[:BVH.index("MOTION")], r"no MOTION section"),
    ("truncated in the motion", BVH[:len(BVH) - 900], r"'Frames: 12' but only \d+ frame lines"),
    ("empty", "", r"expected 'HIERARCHY'"),
    ("unicode digit count", BVH.replace("CHANNELS 6", "CHANNELS ６", 1), r"CHANNELS needs a count"),
    ("latin-1 bytes", BVH.encode().replace(b"Hips", b"H\xefps", 1), r"no joint map fits|no joint 'H"),
    ("utf-16", BVH.encode("utf-16"), r"expected 'HIERARCHY'"),
    ("gzip cut off", gzip_bytes(BVH)[:-40], r"cannot be decompressed"),
    ("gzip of nothing", gzip_bytes(""), r"expected 'HIERARCHY'"),
    ("gzip magic only", b"\x1f\x8b", r"cannot be decompressed"),
]


@pytest.mark.parametrize("name, content, message", BVH_CASES, ids=[c[0] for c in BVH_CASES])
def test_bvh_corruptions_are_refused_in_one_line(tmp_path, name, content, message):
    path = tmp_path / ("clip.bvh.gz" if isinstance(content, bytes) and content[:2] == b"\x1f\x8b" else "clip.bvh")
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    refusal = refused_or_valid(read_bvh_world, path, BVH_ERRORS, check_world)
    assert refusal is not None, f"{name}: accepted"
    assert re.search(message, str(refusal).strip("'\"")), str(refusal)


def test_the_valid_bvh_and_its_gzip_are_read(tmp_path):
    (tmp_path / "a.bvh").write_text(BVH)
    (tmp_path / "a.bvh.gz").write_bytes(gzip_bytes(BVH))
    plain, packed = read_bvh_world(tmp_path / "a.bvh"), read_bvh_world(tmp_path / "a.bvh.gz")
    assert plain.shape == (5, 17, 3)  # 11 intervals at 120 fps = 0.0917 s -> frames 0..4 at 50 fps
    np.testing.assert_array_equal(plain, packed)


def test_a_bvh_larger_than_the_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr("lib.data.sources.bvh.MAX_BVH_CHARS", 1000)
    (tmp_path / "big.bvh").write_text(BVH)
    with pytest.raises(BVHError, match=r"big.bvh: more than 0 MiB of text; expected a BVH file of at most"):
        read_bvh_world(tmp_path / "big.bvh")


TOKENS = ["nan", "inf", "-inf", "1e400", "-1e308", "0", "-", ".", "{", "}", "\n", " ", "", "Frames:", "JOINT",
          "End Site", "CHANNELS 3", "OFFSET", "\x00", "é", "\ufffd", "9" * 30]


@st.composite
def mutated_text(draw, text: str, tokens: list[str]) -> str:
    """``text`` with one to four places replaced by a token or random characters."""
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 12))
        text = text[:at] + draw(st.sampled_from(tokens) | st.text(max_size=6)) + text[at + cut:]
    return text


@pytest.mark.parametrize("budget", BUDGETS)
def test_mutated_bvh_text_is_refused_or_valid(tmp_path, budget):
    path = tmp_path / "clip.bvh"

    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        refused_or_valid(read_bvh_world, path, BVH_ERRORS, check_world)

    run_property(budget, mutated_text(BVH, TOKENS), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_damaged_bvh_gz_is_refused_or_valid(tmp_path, budget):
    path = tmp_path / "clip.bvh.gz"
    run_property(budget, damaged(gzip_bytes(BVH), 60), lambda data: refused_or_valid(
        read_bvh_world, _write(path, data), BVH_ERRORS, check_world))


def test_parse_bvh_refusals_name_the_source_and_line():
    with pytest.raises(BVHError, match=r"^x.bvh: line \d+: frame 0: value 1 \(Hips Xposition\) is nan"):
        parse_bvh(_bvh_value(0, 0, "nan"), "x.bvh")


# ------------------------------------------------------------------------------------------------ keypoints

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=60) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=80)


def _alphapose_file(tmp_path: Path, entries) -> Path:
    path = tmp_path / "alphapose-results.json"
    path.write_text(json.dumps(entries))
    return path


def _entry_with(k: int, **changes) -> list[dict]:
    entries = alphapose_entries()
    entries[k].update(changes)
    return entries


def _huge_keypoints(value: float, column: int) -> list[float]:
    kp = np.array(alphapose_entries()[0]["keypoints"]).reshape(17, 3)
    kp[4, column] = value
    return kp.reshape(-1).tolist()


ALPHAPOSE_CASES = [
    ("keypoints a string", _entry_with(3, keypoints="1,2,3"), r"entry 3: the keypoints must hold numbers only"),
    ("keypoints a dict", _entry_with(0, keypoints={"x": 1}), r"entry 0: the keypoints must hold numbers only"),
    ("keypoints nested strings", _entry_with(1, keypoints=[["a"] * 3] * 17), r"entry 1: the keypoints must hold"),
    ("keypoints too few", _entry_with(2, keypoints=[1.0] * 50), r"entry 2: expected 17 joints .* got 50"),
    ("keypoints 1e30 px", _entry_with(3, keypoints=_huge_keypoints(1e30, 0)),
     r"entry 3: joint 4 x = 1e\+30 px is beyond ±100000 px; expected pixel coordinates"),
    ("keypoints -1e6 px", _entry_with(3, keypoints=_huge_keypoints(-1e6, 1)), r"joint 4 y = -1e\+06 px is beyond"),
    ("score 1e9", _entry_with(3, keypoints=_huge_keypoints(1e9, 2)), r"joint 4 score = 1e\+09 is beyond ±100"),
    ("keypoints a huge integer", _entry_with(0, keypoints=[10**400] * 51), r"entry 0: the keypoints must hold"),
    ("frame number huge", _entry_with(0, image_id="99999999999.jpg"), r"entry 0: image_id .* is frame 99999999999"),
    ("no frame number", _entry_with(0, image_id="img.jpg"), r"entry 0 has no frame number"),
    ("idx a string", _entry_with(0, idx="one"), r"entry 0: idx is 'one'; expected AlphaPose's integer track id"),
    ("idx a float", _entry_with(0, idx=1.5), r"entry 0: idx is 1.5"),
    ("a list of numbers", [1, 2, 3], r"is not AlphaPose results JSON"),
    ("an empty list", [], r"no person in .*alphapose-results.json"),
]


@pytest.mark.parametrize("name, entries, message", ALPHAPOSE_CASES, ids=[c[0] for c in ALPHAPOSE_CASES])
def test_alphapose_corruptions_are_refused_in_one_line(tmp_path, name, entries, message):
    refusal = refused_or_valid(load_keypoints, _alphapose_file(tmp_path, entries), (KeypointFileError,))
    assert refusal is not None and re.search(message, str(refusal)), str(refusal)


@pytest.mark.parametrize("data, message", [
    (b"", r"cannot read .* as JSON"),
    (json.dumps(alphapose_entries()).encode()[:-7], r"cannot read .* as JSON"),
    (json.dumps(alphapose_entries()).encode("utf-16"), r"cannot read .* as JSON"),
    (b"\xff\xfe\x00[", r"cannot read .* as JSON"),
    (b"[" * 100_000, r"cannot read .* as JSON"),
    (json.dumps([{**alphapose_entries()[0], "keypoints": [float("nan")] * 51}]).encode(),
     r"entry 0 contains NaN or infinite values"),
])
def test_damaged_alphapose_bytes_are_refused(tmp_path, data, message):
    path = tmp_path / "alphapose-results.json"
    path.write_bytes(data)
    refusal = refused_or_valid(load_keypoints, path, (KeypointFileError,))
    assert refusal is not None and re.search(message, str(refusal)), str(refusal)


@pytest.mark.parametrize("budget", BUDGETS)
def test_alphapose_entries_with_any_json_values_are_refused_or_valid(tmp_path, budget):
    def check(change: tuple[int, str, object]) -> None:
        k, key, value = change
        entries = alphapose_entries()
        entries[k][key] = value
        refused_or_valid(load_keypoints, _alphapose_file(tmp_path, entries), (KeypointFileError,), check_keypoints)

    run_property(budget, st.tuples(st.integers(0, 5), st.sampled_from(["keypoints", "image_id", "idx"]), JSON_VALUES),
                 check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_any_json_document_is_refused_or_valid_as_alphapose(tmp_path, budget):
    run_property(budget, JSON_VALUES, lambda doc: refused_or_valid(
        load_keypoints, _alphapose_file(tmp_path, doc), (KeypointFileError,), check_keypoints))


def _openpose_folder(tmp_path: Path, docs: list) -> Path:
    folder = tmp_path / "openpose"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for t, doc in enumerate(docs):
        (folder / f"video_{t:012d}_keypoints.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return folder


@pytest.mark.parametrize("docs, message", [
    ([openpose_doc(), "{\"people\": [", openpose_doc()], r"video_000000000001_keypoints.json as JSON"),
    ([openpose_doc(), {"people": ["x"]}], r"000001_keypoints.json person 0 is 'x'; expected an object"),
    ([{"people": [{"pose_keypoints_2d": "0 0 0"}]}], r"person 0: the keypoints must hold numbers only"),
    ([{"people": [{"pose_keypoints_2d": [1e30] * 75}]}], r"person 0: joint 0 x = 1e\+30 px is beyond"),
    ([{"people": [{"pose_keypoints_2d": [0.5] * 74}]}], r"expected 25 joints .* got 74"),
    ([{"people": "none"}], r"is not an OpenPose keypoints file"),
    ([{"people": []}], r"no person in"),
])
def test_openpose_corruptions_are_refused_in_one_line(tmp_path, docs, message):
    folder = _openpose_folder(tmp_path, docs)
    with pytest.raises(KeypointFileError) as err:
        load_keypoints(folder)
    assert "\n" not in str(err.value) and "openpose" in str(err.value) and re.search(message, str(err.value))


@pytest.mark.parametrize("budget", BUDGETS)
def test_openpose_people_with_any_json_values_are_refused_or_valid(tmp_path, budget):
    def check(value: object) -> None:
        docs = [openpose_doc(0), {"people": [value]}, openpose_doc(2)]
        refused_or_valid(load_keypoints, _openpose_folder(tmp_path, docs), (KeypointFileError,), check_keypoints)

    run_property(budget, JSON_VALUES | st.fixed_dictionaries({"pose_keypoints_2d": JSON_VALUES}), check)


def _npz(tmp_path: Path, **changes) -> Path:
    arrays = demo_npz_arrays()
    arrays.update(changes)
    path = tmp_path / "keypoints_2d.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


NPZ_CASES = [
    ("h36m strings", dict(h36m=np.full((1, 6, 17, 3), "abc")), r"'h36m' holds <U3 values; expected numbers"),
    ("zero frames", dict(h36m=np.zeros((1, 0, 17, 3), np.float32)), r"'h36m' has shape \(1, 0, 17, 3\), no frame"),
    ("zero people", dict(h36m=np.zeros((0, 6, 17, 3), np.float32)), r"no person; expected at least one person"),
    ("h36m nan", dict(h36m=np.full((1, 6, 17, 3), np.nan, np.float32)), r"NaN or infinite values"),
    ("h36m 1e30", dict(h36m=np.full((1, 6, 17, 3), 1e30, np.float32)), r"person 0, frame 0, joint 0 x = 1e\+30"),
    ("h36m wrong shape", dict(h36m=np.zeros((6, 17, 3), np.float32)), r"'h36m' must be \(people, frames, 17, 3\)"),
    ("h36m complex", dict(h36m=np.zeros((1, 6, 17, 3), complex)), r"'h36m' holds complex128 values"),
    ("h36m missing", dict(h36m=None), r"has no 'h36m' array"),
    ("missing wrong shape", dict(missing=np.zeros(4, bool)), r"'missing' must be \(1, 6\), got \(4,\)"),
    ("missing strings", dict(missing=np.array(["yes"] * 6)), r"'missing' holds <U3 values"),
    ("boxes wrong shape", dict(boxes=np.zeros((1, 6, 4))), r"'boxes' must be \(1, 6, 5\), got \(1, 6, 4\)"),
    ("boxes beyond float32", dict(boxes=np.full((1, 6, 5), 1e300)), r"'boxes' holds infinite values or corners"),
    ("h36m beyond float32", dict(h36m=np.full((1, 6, 17, 3), 1e300)), r"'h36m' contains NaN or infinite values"),
    ("width zero", dict(width=np.array(0)), r"'width' is 0; expected an integer > 0 and <= 100000"),
    ("width nan", dict(width=np.array(np.nan)), r"'width' is nan; expected an integer > 0"),
    ("width a string", dict(width=np.array("640")), r"'width' is '640'; expected an integer"),
    ("height an array", dict(height=np.array([480, 480])), r"'height' is \[480, 480\]; expected an integer"),
    ("fps inf", dict(fps=np.array(np.inf)), r"'fps' is inf; expected a number > 0 and <= 10000"),
    ("fps negative", dict(fps=np.array(-25.0)), r"'fps' is -25.0; expected a number > 0"),
    ("coco nan", dict(coco=np.full((1, 6, 17, 3), np.nan, np.float32)), r"'coco' contains NaN or infinite"),
    ("object array", dict(h36m=np.array([{"a": 1}], dtype=object)), r"cannot read .* as an npz file"),
]


@pytest.mark.parametrize("name, changes, message", NPZ_CASES, ids=[c[0] for c in NPZ_CASES])
def test_demo_npz_corruptions_are_refused_in_one_line(tmp_path, name, changes, message):
    refusal = refused_or_valid(load_keypoints, _npz(tmp_path, **changes), (KeypointFileError,))
    assert refusal is not None and re.search(message, str(refusal)), str(refusal)


def test_an_npy_file_named_npz_is_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, demo_npz_arrays()["h36m"])
    refusal = refused_or_valid(load_keypoints, _write(tmp_path / "keypoints_2d.npz", buf.getvalue()),
                               (KeypointFileError,))
    assert refusal is not None and "a single ndarray (an .npy file), not an npz archive" in str(refusal)


@pytest.mark.parametrize("cut", [0, 10, 100, -10])
def test_truncated_demo_npz_is_refused(tmp_path, cut):
    data = _npz(tmp_path).read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:cut])
    refusal = refused_or_valid(load_keypoints, path, (KeypointFileError,))
    assert refusal is not None and "cannot read" in str(refusal)


NUMERIC_DTYPES = (hnp.boolean_dtypes() | hnp.integer_dtypes() | hnp.floating_dtypes() | hnp.complex_number_dtypes()
                  | hnp.unicode_string_dtypes())


@st.composite
def npz_changes(draw) -> dict:
    key = draw(st.sampled_from(["h36m", "missing", "boxes", "width", "height", "fps", "coco"]))
    shape = draw(st.sampled_from([(), (1,), (1, 6), (1, 6, 5), (1, 6, 17, 3), (2, 6, 17, 3), (1, 0, 17, 3)]))
    return {key: draw(hnp.arrays(NUMERIC_DTYPES, shape))}


@pytest.mark.parametrize("budget", BUDGETS)
def test_demo_npz_with_any_arrays_is_refused_or_valid(tmp_path, budget):
    run_property(budget, npz_changes(), lambda changes: refused_or_valid(
        load_keypoints, _npz(tmp_path, **changes), (KeypointFileError,), check_keypoints))


# ------------------------------------------------------------------------------------------------ configs


def _yaml(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


CONFIG_CASES = [
    ("not YAML", "epochs: [1, 2\nfoo: : bar\n",
     r"^\S+c.yaml: line 2, column 4: not valid YAML \(expected ',' or '\]', but got ':'\); expected a YAML mapping"),
    ("a tab", "epochs: 3\n\tbatch_size: 4\n", r"line 2, column 1: not valid YAML"),
    ("latin-1", "epochs: 3\n# réglage\n".encode("latin-1"),
     r"line 2: byte 13 is not UTF-8 text \(invalid continuation byte\)"),
    ("deep nesting", "a: " + "[" * 1000, r"nested too deeply to read; expected a flat YAML mapping"),
    ("a list", "- 1\n- 2\n", r"expected a mapping of key: value at the top level"),
    ("dim_feat 1e8", "dim_feat: 100000000\n", r"key 'dim_feat' is 100000000; allowed: an integer \[1, 8192\]"),
    ("depth 1000", "depth: 1000\n", r"key 'depth' is 1000; allowed: an integer \[1, 256\]"),
    ("a huge model", "dim_feat: 8192\ndepth: 64\n", r"about 137,445 million parameters; allowed: at most 1,000"),
    ("a huge batch", "batch_size: 4096\n", r"8,663,334,912 values of hidden features per layer; allowed: at most 2,1"),
    ("long clips", "clip_len: 5000\nmaxlen: 5000\nbatch_size: 16\n", r"temporal attention maps per layer"),
    ("clip_len 1e6", "clip_len: 1000000\n", r"key 'clip_len' is 1000000; allowed: an integer \[1, 10000\]"),
    ("batch 1e9", "batch_size: 1000000000\n", r"key 'batch_size' is 1000000000; allowed: an integer \[1, 65536\]"),
    ("mlp_ratio inf", "mlp_ratio: .inf\n", r"key 'mlp_ratio' is inf; allowed: a finite number \(0, 64\]"),
    ("epochs 1e12", "epochs: 1000000000000\n", r"key 'epochs' is 1000000000000; allowed: an integer \[1, 100000\]"),
]


@pytest.mark.parametrize("name, text, message", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_corruptions_are_refused_in_one_line(tmp_path, name, text, message):
    refusal = refused_or_valid(load_config, _yaml(tmp_path, text), (ConfigError,))
    assert refusal is not None and re.search(message, str(refusal)), str(refusal)


def test_the_shipped_configs_are_inside_the_bounds():
    for path in sorted((Path(__file__).resolve().parent.parent / "configs").rglob("*.yaml")):
        load_config(path)


YAML_TOKENS = ["dim_feat", "depth", "batch_size", "clip_len", ":", " ", "\n", "\t", "[", "]", "{", "}", "-", "&a",
               "*a", "!!python/object:os.system", ".nan", ".inf", "1e8", "100000000", "'", '"', "#", "\x00", "é"]


@pytest.mark.parametrize("budget", BUDGETS)
def test_mutated_yaml_is_refused_or_valid(tmp_path, budget):
    run_property(budget, mutated_text(CONFIG_TEXT, YAML_TOKENS), lambda text: refused_or_valid(
        load_config, _yaml(tmp_path, text), (ConfigError,), check_config))


SIZE_KEYS = ["dim_feat", "dim_rep", "depth", "num_heads", "mlp_ratio", "maxlen", "clip_len", "batch_size", "epochs",
             "num_joints"]
SIZES = st.integers(-5, 2**40) | st.floats(allow_nan=True) | st.sampled_from([1, 2, 8, 64, 8192, 10_000, 65_536])


@pytest.mark.parametrize("budget", BUDGETS)
def test_any_model_and_batch_sizes_are_refused_or_bounded(budget):
    def check(sizes: dict) -> None:
        try:
            cfg = validate_config(sizes, "c.yaml")
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("c.yaml: ")
            return
        check_config(cfg)
        params = cfg.depth * 4 * (4 + 2 * cfg.mlp_ratio) * cfg.dim_feat ** 2
        assert params <= 1e9 and cfg.batch_size * cfg.clip_len * cfg.num_joints * cfg.dim_feat <= 2**31

    run_property(budget, st.dictionaries(st.sampled_from(SIZE_KEYS), SIZES, max_size=5), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_any_override_is_refused_or_valid(tmp_path, budget):
    path = _yaml(tmp_path, CONFIG_TEXT)

    def check(text: str) -> None:
        try:
            parse_override(text)
        except ConfigError as exc:
            assert "\n" not in str(exc)
        refusal = refused_or_valid(lambda p: load_config(p, [text]), path, (ConfigError,), check_config, names="")
        assert refusal is None or repr(text) in str(refusal) or "c.yaml" in str(refusal), str(refusal)

    run_property(budget, st.tuples(st.sampled_from(SIZE_KEYS + ["learning_rate", "x", ""]), st.text(max_size=12))
                 .map(lambda kv: f"{kv[0]}={kv[1]}") | st.text(max_size=12), check)


# ------------------------------------------------------------------------------------------------ checkpoints

CHECKPOINT = checkpoint_bytes()


@pytest.mark.parametrize("cut", [0, 1, 100, len(CHECKPOINT) // 2, len(CHECKPOINT) - 1])
def test_truncated_checkpoints_are_refused(tmp_path, cut):
    path = tmp_path / "best_epoch.bin"
    path.write_bytes(CHECKPOINT[:cut])
    refusal = refused_or_valid(read_checkpoint, path, (CheckpointError,), check_model)
    assert refusal is not None and "cannot read checkpoint" in str(refusal)


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path):
    import torch

    state = torch.load(__import__("io").BytesIO(CHECKPOINT), weights_only=True)
    name = sorted(state["model_pos"])[3]
    state["model_pos"][name].view(-1)[0] = float("nan")
    path = tmp_path / "best_epoch.bin"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=rf"best_epoch.bin: weight '{name[7:]}' holds 1 NaN or infinite value"):
        read_checkpoint(path)


@pytest.mark.parametrize("budget", BUDGETS)
def test_damaged_checkpoints_are_refused_or_valid(tmp_path, budget):
    path = tmp_path / "best_epoch.bin"
    run_property(budget, damaged(CHECKPOINT, 200), lambda data: refused_or_valid(
        read_checkpoint, _write(path, data), (CheckpointError,), check_model))


# ------------------------------------------------------------------------------------------------ data files

H36M = h36m_dict()


def _h36m_file(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "h36m.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


@st.composite
def h36m_changes(draw) -> dict:
    data = copy.deepcopy(H36M)
    split = draw(st.sampled_from(["train", "test"]))
    key = draw(st.sampled_from(sorted(data[split])))
    if draw(st.booleans()):
        del data[split][key]
    else:
        shape = draw(st.sampled_from([(), (10,), (10, 17), (10, 17, 1), (10, 17, 2), (10, 17, 3), (9, 17, 3)]))
        data[split][key] = draw(hnp.arrays(NUMERIC_DTYPES, shape))
    return data


@pytest.mark.parametrize("budget", BUDGETS)
def test_h36m_pickles_with_any_arrays_are_refused_or_valid(tmp_path, budget):
    run_property(budget, h36m_changes(), lambda data: refused_or_valid(
        load_h36m_pickle, _h36m_file(tmp_path, data), H36M_ERRORS, check_h36m))


@pytest.mark.parametrize("budget", BUDGETS)
def test_damaged_h36m_pickles_are_refused_or_valid(tmp_path, budget):
    path = tmp_path / "h36m.pkl"
    run_property(budget, damaged(pickle.dumps(H36M, protocol=4), 100), lambda data: refused_or_valid(
        load_h36m_pickle, _write(path, data), H36M_ERRORS, check_h36m))


@pytest.mark.parametrize("which", ["data_train_3dhp.npz", "data_test_3dhp.npz"])
@pytest.mark.parametrize("budget", BUDGETS)
def test_3dhp_files_with_any_arrays_are_refused_or_valid(tmp_path, budget, which):
    train, test = threedhp_dicts()
    path = tmp_path / which

    def check(change: tuple[str, np.ndarray]) -> None:
        key, value = change
        data = copy.deepcopy(train if "train" in which else test)
        seq = data["S1 Seq1"][0]["S1 Seq1 0"] if "train" in which else data["TS1"]
        seq[key] = value
        write_npz_object(path, data)
        refused_or_valid(read_3dhp, path, THREEDHP_ERRORS, check_3dhp)

    shapes = st.sampled_from([(), (8,), (8, 17, 2), (8, 17, 3), (7, 17, 3), (8, 16, 3)])
    run_property(budget, st.tuples(st.sampled_from(["data_2d", "data_3d", "valid"]),
                                   shapes.flatmap(lambda s: hnp.arrays(NUMERIC_DTYPES, s))), check)


@pytest.mark.parametrize("cut", [0, 30, 200, -20])
def test_truncated_3dhp_files_are_refused(tmp_path, cut):
    path = tmp_path / "data_test_3dhp.npz"
    write_npz_object(path, threedhp_dicts()[1])
    path.write_bytes(path.read_bytes()[:cut])
    refusal = refused_or_valid(read_3dhp, path, THREEDHP_ERRORS, check_3dhp)
    assert refusal is not None


# ------------------------------------------------------------------------------------------------ videos


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for t in range(10):
        writer.write(np.full((48, 64, 3), t * 20, np.uint8))
    writer.release()
    return path.read_bytes()


def _read_video(path: Path):
    width, height, fps, count = video_info(path)
    assert width > 0 and height > 0 and count >= 0
    return width, height


@pytest.mark.parametrize("content", [b"", b"not a video", b"\x00" * 4096, "video".encode("utf-16")])
def test_files_that_are_not_videos_are_refused(tmp_path, content):
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    refusal = refused_or_valid(_read_video, path, (DemoError,))
    assert refusal is not None and "not a video OpenCV can decode" in str(refusal)


@pytest.mark.parametrize("budget", BUDGETS)
def test_damaged_videos_are_refused_or_read(tmp_path, small_video, budget):
    path = tmp_path / "clip.avi"
    run_property(budget, damaged(small_video, len(small_video)), lambda data: refused_or_valid(
        _read_video, _write(path, data), (DemoError,)))


def test_the_rule_catches_a_reader_that_leaks_an_exception(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"")
    with pytest.raises(RuleBroken, match="ZeroDivisionError escaped"):
        refused_or_valid(lambda p: 1 / 0, path, (BVHError,))
    with pytest.raises(RuleBroken, match="not one line naming the file"):
        refused_or_valid(lambda p: (_ for _ in ()).throw(BVHError("two\nlines")), path, (BVHError,))
    assert zipfile.is_zipfile(_npz(tmp_path))  # the npz helper writes a real archive


# ------------------------------------------------------------------------------------------------ found by the long run


def test_an_override_with_a_line_break_is_refused_in_one_line(tmp_path):
    for text in ("epochs=[\n", "dim_feat=,\n", "\x1f\n"):
        with pytest.raises(ConfigError) as err:
            load_config(_yaml(tmp_path, CONFIG_TEXT), [text])
        assert "\n" not in str(err.value) and repr(text) in str(err.value)


def test_a_checkpoint_without_weights_is_refused_naming_the_file(tmp_path):
    import torch

    path = tmp_path / "best_epoch.bin"
    torch.save({"epoch": 3, "model_pos": {"w": "not a tensor"}}, path)
    with pytest.raises(CheckpointError, match=r"^checkpoint \S+best_epoch.bin: no model weights found"):
        read_checkpoint(path)


def test_3dhp_poses_of_strings_are_refused(tmp_path):
    train, test = threedhp_dicts()
    test["TS1"]["data_2d"] = np.full((8, 17, 2), "")
    path = tmp_path / "data_test_3dhp.npz"
    write_npz_object(path, test)
    with pytest.raises(THREEDHP_ERRORS[0], match=r"'data/TS1/data_2d' must be an array \(N, 17, 2\), got <U1 values"):
        read_3dhp(path)


def test_a_pickle_that_calls_a_string_is_refused(tmp_path):
    path = _write(tmp_path / "h36m.pkl", b"\x80\x04X\x01\x00\x00\x00a)R.")  # REDUCE on the str 'a'
    refusal = refused_or_valid(load_h36m_pickle, path, H36M_ERRORS)
    assert refusal is not None and "cannot be read as a pickle (TypeError" in str(refusal)


def _npy_claiming(shape: tuple[int, ...]) -> bytes:
    """An .npy member whose header declares ``shape`` (float32) but holds 64 bytes of data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\x00" * 64


def test_length_fields_claiming_terabytes_are_refused(tmp_path):
    packed = bytearray(pickle.dumps(H36M, protocol=4))
    packed[9] = 0x7F  # the protocol-4 frame length: about 2**62 bytes
    refusal = refused_or_valid(load_h36m_pickle, _write(tmp_path / "h36m.pkl", bytes(packed)), H36M_ERRORS)
    assert refusal is not None and "cannot be read as a pickle" in str(refusal)
    npz = tmp_path / "keypoints_2d.npz"
    with zipfile.ZipFile(npz, "w") as archive:
        archive.writestr("h36m.npy", _npy_claiming((10**12, 17, 3)))
    refusal = refused_or_valid(load_keypoints, npz, (KeypointFileError,))
    assert refusal is not None and "cannot read" in str(refusal)


def test_too_many_person_frames_are_refused_before_allocating(tmp_path):
    entries = alphapose_entries(1)
    entries += [{**entries[0], "image_id": "999999.jpg", "idx": 2}]  # 2 people x 1,000,000 frames
    refusal = refused_or_valid(load_keypoints, _alphapose_file(tmp_path, entries), (KeypointFileError,))
    assert refusal is not None and "2 people x 1000000 frames is more than 1000000 person-frames" in str(refusal)


# ------------------------------------------------------------------------------------------------ clips, predictions


def _read_clip(path: Path):
    return ClipFolder(str(path.parent))[0]


def check_clip(pair) -> None:
    x, y = pair
    if x.ndim != 3 or x.shape[2] != 3 or y.shape != x.shape:
        raise RuleBroken(f"clip of shapes {x.shape}, {y.shape} accepted")
    all_finite(x, y)


@pytest.mark.parametrize("budget", BUDGETS)
def test_clip_pickles_with_any_arrays_are_refused_or_valid(tmp_path, budget):
    path = tmp_path / "H36M-X" / "train" / "00000000.pkl"
    path.parent.mkdir(parents=True)
    good = np.zeros((8, 17, 3), np.float32)

    def check(change: tuple[str, np.ndarray]) -> None:
        clip = {"data_input": good, "data_label": good, change[0]: change[1]}
        path.write_bytes(pickle.dumps(clip))
        refused_or_valid(_read_clip, path, (DataFormatError,), check_clip)

    shapes = st.sampled_from([(), (8,), (8, 17, 2), (8, 17, 3), (7, 17, 3), (8, 16, 3)])
    run_property(budget, st.tuples(st.sampled_from(["data_input", "data_label"]),
                                   shapes.flatmap(lambda s: hnp.arrays(NUMERIC_DTYPES, s))), check)


@pytest.mark.parametrize("budget", BUDGETS)
def test_3dhp_prediction_files_with_any_arrays_are_refused_or_valid(tmp_path, budget):
    path = tmp_path / "data_test_3dhp.npz"
    write_npz_object(path, threedhp_dicts()[1])
    gt = read_3dhp(path)
    pred = tmp_path / "predictions.npz"

    def check(arrays: dict[str, np.ndarray]) -> None:
        np.savez(pred, **arrays)
        refused_or_valid(lambda p: load_predictions(p, gt), pred, THREEDHP_ERRORS,
                         lambda out: all_finite(*out.values()))

    shapes = st.sampled_from([(), (8, 17, 3), (7, 17, 3), (8, 17, 2)])
    run_property(budget, st.dictionaries(st.sampled_from(["TS1", "TS2", "x"]),
                                         shapes.flatmap(lambda s: hnp.arrays(NUMERIC_DTYPES, s)), max_size=2), check)


def test_a_clip_of_another_shape_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "H36M-X" / "train" / "00000000.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"data_input": np.zeros(5), "data_label": np.zeros((8, 17, 3))}))
    with pytest.raises(DataFormatError, match=r"00000000.pkl: 'data_input' has shape \(5,\), expected \(frames, "):
        _read_clip(path)
    path.write_bytes(pickle.dumps({"data_input": np.zeros((8, 17, 3)), "data_label": np.zeros((8, 16, 3))}))
    with pytest.raises(DataFormatError, match=r"'data_label' has shape \(8, 16, 3\), .* like data_input \(8, 17, 3\)"):
        _read_clip(path)


def test_torch_warnings_of_a_refused_checkpoint_are_not_shown(tmp_path, monkeypatch):
    import warnings

    import torch

    def warn_then_fail(*args, **kwargs):  # what torch.load does on some damaged files (found by the long run)
        warnings.warn("Detected pickle protocol 75 in the checkpoint", UserWarning, stacklevel=1)
        raise RuntimeError("Trying to call reduce for unrecognized function")

    path = _write(tmp_path / "best_epoch.bin", CHECKPOINT)
    monkeypatch.setattr(torch, "load", warn_then_fail)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(CheckpointError, match=r"cannot read checkpoint \S+best_epoch.bin: Trying to call"):
            read_checkpoint(path)
    assert [str(w.message) for w in caught] == []
    monkeypatch.undo()
    with warnings.catch_warnings(record=True) as caught:  # a file that is read keeps torch's warnings
        warnings.simplefilter("always")
        data = bytearray(CHECKPOINT)
        data[data.index(b"\x80\x02") + 1] = 75  # data.pkl's protocol byte: torch warns and reads it
        check_model(read_checkpoint(_write(path, bytes(data))))
    assert any("pickle protocol 75" in str(w.message) for w in caught)
