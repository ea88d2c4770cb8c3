"""What the evaluation needs to know about the test split, in one object.

The protocol (:mod:`lib.engine.evaluate`) and the training's consistency checks (:mod:`lib.engine.trainer`)
read the test clips' frame indices, per-frame actions, video names, 2.5D factors and millimetre ground
truth, and turn normalised predictions back into pixels, only through :class:`EvalMetadata`.
:meth:`EvalMetadata.from_reader` builds it from a Human3.6M-layout reader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datareader_h36m import NUM_JOINTS, DataReaderH36M, clip_index_array, denormalize_screen


@dataclass(frozen=True)
class EvalMetadata:
    """The test split as the evaluation sees it (F frames, N clips of T frames).

    Attributes:
        clip_frames: ``(N, T)`` int64 frame indices of each test clip, in clip order.
        clip_wh: ``(N, 2)`` camera resolution ``(w, h)`` of each clip (from its first frame).
        actions: ``(F,)`` action name of each frame.
        sources: ``(F,)`` video name of each frame (``s_09_act_02_subact_01_ca_01``).
        factors: ``(F,)`` ``2.5d_factor``: pixels of depth-scaled coordinates -> millimetres.
        gts: ``(F, J, 3)`` ``joints_2.5d_image`` in millimetres.
    The per-frame arrays are views of the reader's (no copies: the test split can be large).
        path: the data file, for messages.
    """

    clip_frames: np.ndarray
    clip_wh: np.ndarray
    actions: np.ndarray
    sources: np.ndarray
    factors: np.ndarray
    gts: np.ndarray
    path: str = "<test split>"

    @classmethod
    def from_reader(cls, reader: DataReaderH36M) -> EvalMetadata:
        """From a reader's test split; :class:`~lib.data.datareader_h36m.DataFormatError` naming the file
        when it lacks a key the evaluation needs (``action``, ``2.5d_factor``, ``joints_2.5d_image``)."""
        _, split_id_test = reader.get_split_id()
        return cls(clip_frames=clip_index_array(split_id_test, reader.n_frames), clip_wh=reader.get_hw(),
                   actions=reader.test_array("action"), sources=reader.test_array("source"),
                   factors=reader.test_array("2.5d_factor"), gts=reader.test_array("joints_2.5d_image"),
                   path=reader.path)

    @property
    def num_clips(self) -> int:
        return len(self.clip_frames)

    @property
    def clip_len(self) -> int:
        return int(self.clip_frames.shape[1])

    def denormalize(self, pred_clips: np.ndarray) -> np.ndarray:
        """Normalised predictions ``(N, T, 17, 3)`` or ``(N, T, 51)`` -> a new float32 ``(N, T, 17, 3)``: x, y in
        pixels and z on the same pixel scale (times :attr:`factors` it is millimetres)."""
        data = np.asarray(pred_clips, dtype=np.float32).reshape(len(pred_clips), -1, NUM_JOINTS, 3)
        if len(data) != self.num_clips:
            raise ValueError(f"{len(data)} predicted clips, but the test split of {self.path} has {self.num_clips}")
        return denormalize_screen(data, self.clip_wh)
