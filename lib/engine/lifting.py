"""The one prediction path of every lifting caller: test-time flip averaging and whole-video lifting.

* :func:`predict_with_flip`: a batch of windows ``(B, T, J, 3) -> (B, T, J, 3)``, averaged with the
  prediction for the horizontally flipped input flipped back. The Human3.6M and MPI-INF-3DHP evaluations,
  ``sct.Lifter`` (hence the demo) and the ONNX export's checks all call it.
* :func:`lift_video`: a whole sequence ``(T, J, 3)`` cut into the windows of a
  :class:`~lib.utils.sliding_windows.WindowPlan`, predicted in batches and blended back to one pose per frame.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..utils.skeleton import H36M_SKELETON, Skeleton, flip_pose
from ..utils.sliding_windows import Blender, WindowPlan


def predict_with_flip(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, flip: bool,
                      skeleton: Skeleton = H36M_SKELETON) -> torch.Tensor:
    """``model(x)`` for windows ``x`` ``(B, T, J, 3)``; with ``flip``, the mean of it and
    ``flip(model(flip(x)))``, mirroring with ``skeleton``'s left/right joints. Returns float32."""
    pred = model(x)
    if flip:
        pairs = (skeleton.left, skeleton.right)
        pred = (pred + flip_pose(model(flip_pose(x, *pairs)), *pairs)) / 2
    return pred.float()


@torch.no_grad()
def lift_video(model: nn.Module, inputs: np.ndarray, plan: WindowPlan, *, device: torch.device | str = "cpu",
               flip: bool = True, batch_size: int = 8, skeleton: Skeleton = H36M_SKELETON,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Lift a whole sequence ``(T, J, C)`` (normalised x, y, confidence) to root-relative 3D ``(T, J, 3)``.

    The windows of ``plan`` are predicted ``batch_size`` at a time (:func:`predict_with_flip`), blended
    (:meth:`WindowPlan.blend`) and made root-relative. ``model`` must be in eval mode on ``device``.
    ``progress`` is called with the number of windows done after each batch.
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    if plan.num_frames != len(inputs):
        raise ValueError(f"the plan is for {plan.num_frames} frames, the inputs have {len(inputs)}")
    frames = plan.frames()
    blender = Blender(plan, (inputs.shape[1], 3))
    for start in range(0, len(frames), batch_size):
        batch = torch.from_numpy(inputs[frames[start:start + batch_size]]).to(device)
        blender.add(start, predict_with_flip(model, batch, flip=flip, skeleton=skeleton).cpu().numpy())
        if progress is not None:
            progress(len(batch))
    poses = blender.result()
    poses -= poses[:, skeleton.root:skeleton.root + 1]
    return poses.astype(np.float32)
