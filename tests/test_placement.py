"""sct.placement: root-relative poses placed in the camera frame from their 2D keypoints."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lib.data.sources.h36m_cameras import load_h36m_cameras
from lib.data.sources.mocap import bvh_to_world
from sct.placement import default_focal, place_in_camera, root_translation, skeleton_height, smooth_over_time

CMU_CLIP = Path(__file__).parent / "data" / "cmu_mocap" / "06_01.bvh.gz"


@pytest.fixture(scope="module")
def seen_by_camera() -> dict:
    """Real motion (CMU 06_01, held out from the shipped lifters' training) seen by Human3.6M camera S9/ca_01:
    camera-frame joints (1, T, 17, 3) mm and their exact projections (1, T, 17, 2) px."""
    camera = load_h36m_cameras()["S9"][0]
    cam = camera.world_to_camera(bvh_to_world(CMU_CLIP))[None]
    focal = float(camera.focal_length.mean())
    size = (camera.res_w, camera.res_h)
    center = np.array(size) / 2
    uv = focal * cam[..., :2] / cam[..., 2:3] + center
    return {"cam": cam, "uv": uv, "focal": focal, "size": size}


def test_recovers_a_known_translation_from_exact_projections(seen_by_camera):
    cam, uv = seen_by_camera["cam"], seen_by_camera["uv"]
    relative = cam - cam[..., :1, :]
    t = root_translation(relative, uv, seen_by_camera["size"], seen_by_camera["focal"], smooth_sigma=0)
    assert t.shape == cam[..., 0, :].shape
    np.testing.assert_allclose(t, cam[..., 0, :], atol=1e-3)  # mm: exact data, exact answer
    placed = place_in_camera(relative, uv, seen_by_camera["size"], seen_by_camera["focal"], smooth_sigma=0)
    np.testing.assert_allclose(placed, cam, atol=1e-3)


def test_depth_scales_with_the_focal_length_and_height(seen_by_camera):
    """A 10 % longer focal length puts the person 10 % further away; a 10 % taller pose too."""
    cam, uv, f, size = (seen_by_camera[k] for k in ("cam", "uv", "focal", "size"))
    relative = cam - cam[..., :1, :]
    z_true = cam[..., 0, 2]
    z_focal = root_translation(relative, uv, size, 1.1 * f, smooth_sigma=0)[..., 2]
    z_height = root_translation(1.1 * relative, uv, size, f, smooth_sigma=0)[..., 2]
    np.testing.assert_allclose(z_focal / z_true, 1.1, atol=0.01)
    np.testing.assert_allclose(z_height / z_true, 1.1, atol=0.01)


def test_noisy_keypoints_confidence_and_smoothing(seen_by_camera):
    cam, uv, f, size = (seen_by_camera[k] for k in ("cam", "uv", "focal", "size"))
    rng = np.random.default_rng(0)
    relative = cam - cam[..., :1, :]
    noisy = uv + rng.normal(scale=3.0, size=uv.shape)
    noisy[:, :, 13] += 200.0  # one wrong wrist in every frame ...
    conf = np.ones(uv.shape[:-1] + (1,))
    conf[:, :, 13] = 0.0  # ... that the detector marks as unsure: ignored
    t = root_translation(relative, np.concatenate([noisy, conf], -1), size, f, smooth_sigma=2)
    depth_err = np.abs(t[..., 2] - cam[..., 0, 2]) / cam[..., 0, 2]
    assert np.median(depth_err) < 0.02
    t_raw = root_translation(relative, np.concatenate([noisy, conf], -1), size, f, smooth_sigma=0)
    assert np.abs(np.diff(t[0, :, 2])).mean() < np.abs(np.diff(t_raw[0, :, 2])).mean()


def test_frames_not_seen_are_nan_and_do_not_disturb_the_others(seen_by_camera):
    cam, uv, f, size = (seen_by_camera[k] for k in ("cam", "uv", "focal", "size"))
    relative = np.concatenate([cam - cam[..., :1, :]] * 2)  # two people: the second never seen
    kpts = np.concatenate([uv] * 2)
    kpts[0, 10:20] = np.nan
    kpts[1] = np.nan
    t = root_translation(relative, kpts, size, f, smooth_sigma=3)
    assert np.isnan(t[0, 10:20]).all() and np.isnan(t[1]).all()
    seen = np.r_[0:10, 20:cam.shape[1]]
    np.testing.assert_allclose(t[0, seen, 2], cam[0, seen, 0, 2], rtol=0.01)


def test_smooth_over_time_ignores_unseen_frames():
    values = np.array([1.0, 1.0, 100.0, 1.0, 1.0])
    valid = np.array([True, True, False, True, True])
    out = smooth_over_time(values, valid, sigma=1.0)
    np.testing.assert_allclose(out[valid], 1.0)
    assert np.isnan(out[2])


def test_default_focal_is_the_image_diagonal():
    assert default_focal((768, 576)) == pytest.approx(960.0)
    assert math.degrees(2 * math.atan(0.5 * math.hypot(768, 576) / default_focal((768, 576)))) == pytest.approx(
        53.13, abs=0.01)


@pytest.mark.parametrize("focal, message", [
    (0.0, "focal length must be a positive number of pixels, got 0.0 (leave it out to assume the default "
          "field of view)"),
    (-5, "focal length must be a positive number of pixels, got -5"),
    (float("nan"), "focal length must be a positive number of pixels, got nan"),
])
def test_bad_focal_lengths(focal, message):
    with pytest.raises(ValueError) as err:
        root_translation(np.zeros((1, 2, 17, 3)), np.zeros((1, 2, 17, 2)), (640, 480), focal)
    assert str(err.value).startswith(message)


def test_bad_shapes_and_values():
    with pytest.raises(ValueError, match=r"^poses must have shape \(P, T, 17, 3\).*got \(2, 17, 3\)$"):
        root_translation(np.zeros((2, 17, 3)), np.zeros((1, 2, 17, 2)), (640, 480), 500)
    with pytest.raises(ValueError, match=r"^keypoints cover 1 people x 3 frames but the poses 1 x 2"):
        root_translation(np.zeros((1, 2, 17, 3)), np.zeros((1, 3, 17, 2)), (640, 480), 500)
    with pytest.raises(ValueError, match="^keypoints hold infinite values"):
        root_translation(np.zeros((1, 2, 17, 3)), np.full((1, 2, 17, 2), np.inf), (640, 480), 500)
    with pytest.raises(ValueError, match="^image_size must be two positive numbers"):
        root_translation(np.zeros((1, 2, 17, 3)), np.zeros((1, 2, 17, 2)), (0, 480), 500)


def test_a_lifter_like_scale_is_made_metric_frame_by_frame(seen_by_camera):
    """Poses whose size follows the image size (a 2.5D lifter's output: x 1/depth, any unit) are scaled to
    the body height in every frame before placing; one scale for the whole clip would not do."""
    cam, uv, f, size = (seen_by_camera[k] for k in ("cam", "uv", "focal", "size"))
    relative = cam - cam[..., :1, :]
    cam = cam.copy()
    cam[0, :, :, 2] += np.linspace(0, 3000, cam.shape[1])[:, None]  # walks 3 m away from the camera
    uv = f * cam[..., :2] / cam[..., 2:3] + np.array(size) / 2
    depth = cam[..., 0, 2]
    lifter_like = relative / depth[..., None, None]  # shrinks as the person walks away
    height = float(np.median(skeleton_height(relative)))
    placed = place_in_camera(lifter_like, uv, size, f, height_mm=height, smooth_sigma=0)
    np.testing.assert_allclose(placed[..., 0, 2] / depth, 1.0, atol=0.01)
    assert np.abs(skeleton_height(placed - placed[..., :1, :]) - height).max() < 1e-6
    with pytest.raises(ValueError, match="^the body height must be a positive number of millimetres, got -1"):
        place_in_camera(lifter_like, uv, size, f, height_mm=-1)
