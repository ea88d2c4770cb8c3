"""A small BVH (Biovision Hierarchy) reader with vectorised forward kinematics.

Only what turning motion capture into joint positions needs: the hierarchy (names, parents, offsets,
channels; end sites become joints named ``<parent>_end``), the motion block, and world positions of every
joint in every frame. Rotation channels are applied in the order listed (``Zrotation Yrotation Xrotation``
means ``R = Rz @ Ry @ Rx``), degrees; position channels add to the joint's offset.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass

import numpy as np

from ...utils.rotations import axis_rotation

MAX_BVH_CHARS = 256 * 2**20
"""The longest BVH text read (256 MiB, decompressed; the largest CMU file this project uses is 4.2 MB): a file, or a
gzip stream that inflates, beyond this would exhaust memory while parsing."""


class BVHError(ValueError):
    """A file that is not valid BVH; the message names the file and the line."""


@dataclass
class BVHMotion:
    """A parsed BVH file.

    ``names`` (J,), ``parents`` (J,) (-1 for the root), ``offsets`` (J, 3), ``channels`` per joint (list of
    channel names, empty for end sites), ``motion`` (T, C) float64 channel values, ``frame_time`` seconds.
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[list[str]]
    motion: np.ndarray
    frame_time: float

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        """Index of the joint called ``name`` (KeyError naming the known joints when absent)."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no joint '{name}' in the BVH hierarchy (joints: {', '.join(self.names)})") from None

    def positions(self) -> np.ndarray:
        """World positions (T, J, 3) of every joint in every frame, in the file's units and axes."""
        t = len(self.motion)
        n = len(self.names)
        glob_rot = np.zeros((n, t, 3, 3))
        glob_pos = np.zeros((n, t, 3))
        col = 0
        for j in range(n):
            rot = np.broadcast_to(np.eye(3), (t, 3, 3)).copy()
            trans = np.broadcast_to(self.offsets[j], (t, 3)).copy()
            for ch in self.channels[j]:
                values = self.motion[:, col]
                col += 1
                axis = "XYZ".index(ch[0].upper())
                if ch.lower().endswith("rotation"):
                    rot = rot @ axis_rotation(axis, np.deg2rad(values))
                else:
                    trans[:, axis] += values
            p = self.parents[j]
            if p < 0:
                glob_rot[j] = rot
                glob_pos[j] = trans
            else:
                glob_rot[j] = glob_rot[p] @ rot
                glob_pos[j] = glob_pos[p] + np.einsum("tij,tj->ti", glob_rot[p], trans)
        return glob_pos.transpose(1, 0, 2)


_CHANNEL_NAMES = {f"{a}{kind}" for a in "XYZ" for kind in ("position", "rotation")}


def parse_bvh(text: str, source: str = "<string>") -> BVHMotion:
    """Parse BVH text; :class:`BVHError` naming ``source`` and the line for anything malformed."""
    lines = text.splitlines()
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    pending: int | None = None  # joint declared, waiting for its "{"
    i = 0

    def fail(msg: str, line: int) -> BVHError:
        return BVHError(f"{source}: line {line + 1}: {msg}")

    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or lines[i].strip().upper() != "HIERARCHY":
        raise fail("expected 'HIERARCHY' (not a BVH file)", i)
    i += 1
    while i < len(lines):
        tok = lines[i].split()
        i += 1
        if not tok:
            continue
        key = tok[0].upper()
        if key in ("ROOT", "JOINT"):
            if key == "ROOT" and names:
                raise fail("a second ROOT is not supported", i - 1)
            if key == "JOINT" and not stack:
                raise fail("JOINT outside the ROOT's braces", i - 1)
            if len(tok) < 2:
                raise fail(f"{tok[0]} without a name", i - 1)
            names.append(" ".join(tok[1:]))
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            pending = len(names) - 1
        elif key == "END":
            if not stack:
                raise fail("End Site outside a joint", i - 1)
            names.append(f"{names[stack[-1]]}_end")
            parents.append(stack[-1])
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            pending = len(names) - 1
        elif key == "{":
            if pending is None:
                raise fail("'{' without a joint", i - 1)
            stack.append(pending)
            pending = None
        elif key == "}":
            if not stack:
                raise fail("unbalanced '}'", i - 1)
            stack.pop()
        elif key == "OFFSET":
            if not stack or len(tok) != 4:
                raise fail("OFFSET needs three numbers inside a joint", i - 1)
            try:
                offset = [float(v) for v in tok[1:4]]
            except ValueError:
                raise fail(f"bad OFFSET numbers {tok[1:4]}", i - 1) from None
            if not all(math.isfinite(v) for v in offset):
                raise fail(f"OFFSET {' '.join(tok[1:4])} is not finite; expected three finite numbers", i - 1)
            offsets[stack[-1]] = offset
        elif key == "CHANNELS":
            if not stack or len(tok) < 2 or not (tok[1].isascii() and tok[1].isdigit()) or len(tok) != 2 + int(tok[1]):
                raise fail("CHANNELS needs a count and that many channel names", i - 1)
            bad = [c for c in tok[2:] if c not in _CHANNEL_NAMES]
            if bad:
                raise fail(f"unknown channel(s) {bad}", i - 1)
            channels[stack[-1]] = tok[2:]
        elif key == "MOTION":
            break
        else:
            raise fail(f"unexpected '{tok[0]}' in the hierarchy", i - 1)
    else:
        raise fail("no MOTION section", len(lines) - 1)
    if stack or pending is not None or not names:
        raise fail("unbalanced braces or empty hierarchy before MOTION", i - 1)

    def header(prefix: str, convert, expected: str) -> tuple[float, str, int]:
        """The value after ``prefix`` on the next non-blank line: (converted value, its text, line index)."""
        nonlocal i
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].strip().lower().startswith(prefix):
            raise fail(f"expected '{prefix.title()}'", i)
        text = lines[i].split(":", 1)[1].strip()
        i += 1
        try:
            return convert(text), text, i - 1
        except ValueError:
            raise fail(f"'{prefix.title()} {text}' is not {expected}", i - 1) from None

    n_frames, _, frames_line = header("frames:", int, "a whole number; expected the number of frame lines")
    if n_frames < 1:
        raise fail(f"'Frames: {n_frames}': the file has no motion; expected at least 1 frame", frames_line)
    frame_time, text_time, time_line = header("frame time:", float,
                                              "a number; expected seconds per frame, e.g. 0.0083333")
    if not (math.isfinite(frame_time) and frame_time > 0):
        raise fail(f"'Frame Time: {text_time}': expected a finite number of seconds > 0", time_line)
    n_ch = sum(len(c) for c in channels)
    rows = [(k, ln) for k, ln in enumerate(lines[i:], start=i) if ln.strip()]
    if len(rows) < n_frames:
        raise fail(f"'Frames: {n_frames}' but only {len(rows)} frame lines", len(lines) - 1)
    values = []
    for k, (line, ln) in enumerate(rows[:n_frames]):
        parts = ln.split()
        if len(parts) != n_ch:
            raise fail(f"frame {k} holds {len(parts)} values, the hierarchy declares {n_ch} channels", line)
        try:
            values.append([float(v) for v in parts])
        except ValueError:
            raise fail(f"frame {k} holds something that is not a number", line) from None
    motion = np.array(values, dtype=np.float64).reshape(n_frames, n_ch)
    bad = np.argwhere(~np.isfinite(motion))
    if len(bad):
        k, c = (int(v) for v in bad[0])
        joint, channel = _channel_owner(channels, c)
        raise fail(f"frame {k}: value {c + 1} ({names[joint]} {channel}) is {rows[k][1].split()[c]}; expected "
                   f"finite numbers ({len(bad)} non-finite value(s) in all)", rows[k][0])
    return BVHMotion(names, parents, np.array(offsets, dtype=np.float64), channels, motion, frame_time)


def _channel_owner(channels: list[list[str]], column: int) -> tuple[int, str]:
    """``(joint index, channel name)`` of a column of the motion block."""
    for j, names in enumerate(channels):
        if column < len(names):
            return j, names[column]
        column -= len(names)
    raise IndexError(column)


def read_bvh(path: str | os.PathLike) -> BVHMotion:
    """Read and parse a BVH file, plain or gzip-compressed (``.bvh.gz``; told apart by the gzip magic
    bytes, not the name). ``FileNotFoundError`` if missing, :class:`BVHError` if malformed."""
    with open(path, "rb") as fh:
        compressed = fh.read(2) == b"\x1f\x8b"
    try:
        if compressed:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                text = fh.read(MAX_BVH_CHARS + 1)
        else:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read(MAX_BVH_CHARS + 1)
    except (OSError, EOFError, zlib.error) as exc:  # a cut-off or corrupt gzip stream
        raise BVHError(f"{path}: cannot be decompressed ({exc}); expected a BVH file or a complete .bvh.gz") from exc
    if len(text) > MAX_BVH_CHARS:
        raise BVHError(f"{path}: more than {MAX_BVH_CHARS // 2**20} MiB of text{' once decompressed' * compressed}; "
                       "expected a BVH file of at most that size (split longer captures)")
    return parse_bvh(text, str(path))
