"""The offline backend's ghost rule (:mod:`demo.sct_demo.track_quality`) and slot logic of
:class:`demo.sct_demo.blazepose.BlazePoseTracker`, with a scripted detector and a stand-in pose estimator
(no mediapipe needed): when exactly a false track ends, what is dropped, and who takes the free slot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from demo.sct_demo.blazepose import BlazePoseTracker, mediapipe_available
from demo.sct_demo.people_video import CROWDED_PEOPLE, CROWDED_PROPS, Prop, draw_prop, scene_boxes
from demo.sct_demo.track_quality import FrameQuality, QualityRule, TrackHealth, frame_quality

RULE = QualityRule()


def skeleton(box: tuple[float, float, float, float], visibility: float = 0.9, collapsed: bool = False) -> np.ndarray:
    """33 BlazePose landmarks ``(33, 3)`` of an upright person filling ``box``; ``collapsed``: every limb
    point on its joint of the trunk (bones of length 0)."""
    x1, y1, x2, y2 = box
    cx, h, w = (x1 + x2) / 2, y2 - y1, x2 - x1
    lm = np.zeros((33, 3))
    lm[:11, :2] = (cx, y1 + 0.06 * h)  # face
    for side, (sh, el, wr, hip, kn, an) in ((-1, (11, 13, 15, 23, 25, 27)), (1, (12, 14, 16, 24, 26, 28))):
        lm[sh, :2] = (cx + side * 0.2 * w, y1 + 0.18 * h)
        lm[el, :2] = (cx + side * 0.25 * w, y1 + 0.35 * h)
        lm[wr, :2] = (cx + side * 0.28 * w, y1 + 0.5 * h)
        lm[hip, :2] = (cx + side * 0.12 * w, y1 + 0.5 * h)
        lm[kn, :2] = (cx + side * 0.13 * w, y1 + 0.75 * h)
        lm[an, :2] = (cx + side * 0.14 * w, y1 + 0.97 * h)
        if collapsed:
            lm[[el, wr], :2] = lm[sh, :2]
            lm[[kn, an], :2] = lm[hip, :2]
    lm[[17, 19, 21], :2] = lm[15, :2]  # hand points on the wrists
    lm[[18, 20, 22], :2] = lm[16, :2]
    lm[29:, :2] = (cx, y2)
    lm[:, 2] = visibility
    return lm


@dataclass
class Scripted:
    """Somebody (or something) in the scripted scene: ``state(t)`` is ``"person"``, ``"faded"`` (landmarks
    of visibility 0.2), ``"collapsed"`` (implausible bones) or None (no pose); the detector reports it with
    ``score`` on the frames where ``detected(t)``."""

    box: tuple[float, float, float, float]
    score: float
    state: Callable[[int], str | None]
    detected: Callable[[int], bool]

    def landmarks(self, t: int) -> np.ndarray | None:
        kind = self.state(t)
        if kind is None:
            return None
        return skeleton(self.box, visibility=0.2 if kind == "faded" else 0.9, collapsed=kind == "collapsed")


def frame_number(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0])


class ScriptedDetector:
    def __init__(self, scene: list[Scripted]) -> None:
        self.scene = scene

    def detect(self, frame: np.ndarray) -> np.ndarray:
        t = frame_number(frame)
        rows = [[*s.box, s.score] for s in self.scene if s.detected(t)]
        return np.array(rows, dtype=np.float32).reshape(-1, 5)

    def detect_around(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        return self.detect(frame)


class StandInPose:
    """Binds, on its first frame, to the scripted entity under the box centre and then returns its
    landmarks frame by frame (as BlazePose in tracking mode follows whoever it first found)."""

    def __init__(self, scene: list[Scripted]) -> None:
        self.scene, self.target, self.closed = scene, None, False

    def estimate(self, frame_rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        if self.target is None:
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            self.target = next(s for s in self.scene if s.box[0] <= cx <= s.box[2] and s.box[1] <= cy <= s.box[3])
        return self.target.landmarks(frame_number(frame_rgb))

    def close(self) -> None:
        self.closed = True


def run_scene(scene: list[Scripted], num_frames: int, max_people: int) -> BlazePoseTracker:
    tracker = BlazePoseTracker(det_every=5, max_people=max_people, detector=ScriptedDetector(scene),
                               pose_factory=lambda: StandInPose(scene))
    for t in range(num_frames):
        tracker.update(np.full((200, 400, 3), t, dtype=np.uint8))
    tracker.close()
    return tracker


def by_id(tracker: BlazePoseTracker) -> dict[int, object]:
    return {pt.track.track_id: pt for pt in tracker.done}


def test_frame_quality_signals():
    box = (100.0, 20.0, 160.0, 200.0)
    good = frame_quality(0, skeleton(box), np.array(box), None, RULE, confirmed=False)
    assert good.pose and not good.bad and good.bones == 1.0 and good.visibility == pytest.approx(0.9)
    faded = frame_quality(0, skeleton(box, visibility=0.2), np.array(box), None, RULE, confirmed=True)
    assert faded.bad and faded.visibility == pytest.approx(0.2)
    collapsed = frame_quality(0, skeleton(box, collapsed=True), np.array(box), None, RULE, confirmed=True)
    assert collapsed.bad and collapsed.bones == 0.0 and collapsed.visibility == pytest.approx(0.9)
    # a limb three torsos long is implausible too: one bone of eight -> 7/8 plausible, still >= 0.75
    long_arm = skeleton(box)
    long_arm[15, :2] = long_arm[13, :2] + [0, 3 * 0.32 * 180]
    assert frame_quality(0, long_arm, None, None, RULE, confirmed=True).bones == pytest.approx(7 / 8)
    # the detector agrees when one of its boxes holds most of the track's box and is of its size
    elsewhere = np.array([[300, 20, 360, 200, 1.0]])
    here = np.array([[95, 10, 165, 210, 1.0]])
    huge = np.array([[0, 0, 400, 600, 1.0]])  # holds the box, but 3.3 times its height
    for dets, agrees in ((elsewhere, False), (here, True), (huge, False), (np.vstack([elsewhere, here]), True)):
        q = frame_quality(0, skeleton(box), np.array(box), dets, RULE, True)
        assert q.detector is agrees and not q.bad  # one frame's disagreement alone is not bad (see TrackHealth)
    # no pose: bad only while the track never had a good frame
    assert frame_quality(0, None, None, None, RULE, confirmed=False).bad
    assert not frame_quality(0, None, None, None, RULE, confirmed=True).bad


def test_health_ends_on_the_sixth_bad_frame_of_ten():
    health = TrackHealth(RULE)
    ends = [health.add(FrameQuality(frame=t, pose=True, bad=True)) for t in range(8)]
    assert ends == [False] * 5 + [True] * 3
    assert health.ghost
    # a real person with a bad frame in three survives; one that turns bad ends 6 frames later
    health = TrackHealth(RULE)
    assert not any(health.add(FrameQuality(frame=t, pose=True, bad=t % 3 == 0)) for t in range(30))
    ends = [health.add(FrameQuality(frame=t, pose=True, bad=True)) for t in range(30, 34)]
    # the window ending at frame 33 (frames 24..33) holds bad frames 24, 27, 30, 31, 32, 33: the 6th
    assert ends.index(True) == 3
    assert health.final_frames() == list(range(24, 34))
    # the detector: from its second run in a row that does not agree, every frame is bad until it agrees
    health = TrackHealth(RULE)
    verdicts = {0: True, 5: False, 10: False, 15: True, 20: False, 25: True}
    bad = []
    for t in range(30):
        health.add(FrameQuality(frame=t, pose=True, detector=verdicts.get(t)))
        bad.append(health.history[-1].bad)
    assert bad == [False] * 10 + [True] * 5 + [False] * 15
    with pytest.raises(ValueError, match="max_bad"):
        QualityRule(window=5, max_bad=6)


def test_jump_and_scale_are_recorded():
    box, far = (100.0, 20.0, 160.0, 200.0), (300.0, 20.0, 360.0, 200.0)
    first = frame_quality(0, skeleton(box), np.array(box), None, RULE, False)
    moved = frame_quality(2, skeleton(far), np.array(far), None, RULE, True, first)
    assert moved.jump == pytest.approx(200 / (0.94 * 180) / 2)  # full box face to feet; two frames later
    assert moved.scale == pytest.approx(1.0) and not moved.bad
    doubled = frame_quality(1, skeleton(box) * [1, 2, 1], None, None, RULE, True, first)
    assert doubled.scale == pytest.approx(2.0)


def test_ghost_dies_and_later_people_take_the_free_slots():
    always = lambda t: True  # noqa: E731
    a = Scripted((10, 10, 60, 160), 2.0, lambda t: "person" if t < 40 else None, lambda t: t < 40)
    ghost = Scripted((200, 10, 250, 160), 1.5, lambda t: "faded", always)
    b = Scripted((100, 10, 150, 160), 0.8, lambda t: "person" if t < 60 else "collapsed", always)
    c = Scripted((300, 10, 350, 160), 1.0, lambda t: "person", lambda t: t >= 45)
    tracker = run_scene([a, ghost, b, c], num_frames=70, max_people=2)
    tracks = by_id(tracker)
    # frame 0: two slots, the two highest detector scores (a, then the ghost); b waits
    ta, tg, tb, tc = tracks[0], tracks[1], tracks[2], tracks[3]
    assert (ta.start, tg.start, tb.start, tc.start) == (0, 0, 10, 55)
    # the ghost (visibility 0.2) ends on its 6th frame, frame 5; none of its frames is kept
    assert tg.end == "ghost" and tg.health.history[-1].frame == 5 and not tg.landmarks and not tg.track.boxes
    assert [q.visibility for q in tg.health.history] == pytest.approx([0.2] * 6)
    # its slot goes to b at the next detection (frame 10), the ghost's region being blocked
    assert sorted(tb.landmarks)[0] == 10
    # a leaves at frame 40 and is lost after more than 10 frames without a pose (frame 50) ...
    assert ta.end == "lost" and max(ta.landmarks) == 39
    # ... and c, who appeared at frame 45, gets the slot at the next detection (frame 55)
    assert sorted(tc.landmarks) == list(range(55, 70)) and tc.end == ""
    # b's pose collapses at frame 60: it ends on frame 65 and frames 60-65 are dropped
    assert tb.end == "ghost" and tb.health.history[-1].frame == 65
    assert sorted(tb.landmarks) == list(range(10, 60)) and sorted(tb.track.boxes) == list(range(10, 60))
    assert tb.track.last_frame == 59 and tb.pose.closed
    assert [pt.track.track_id for pt in tracker.all_tracks] == [0, 2, 3]


def test_a_detection_without_a_pose_frees_its_slot_and_is_not_taken_again():
    """A false detection on which BlazePose finds nobody: ended on its 6th frame, not 11, and its region
    stays blocked for 50 frames, so the real person seen later by the detector gets the slot."""
    decoy = Scripted((200, 10, 250, 160), 3.0, lambda t: None, lambda t: True)
    person = Scripted((10, 10, 60, 160), 1.0, lambda t: "person", lambda t: t >= 3)
    tracker = run_scene([decoy, person], num_frames=60, max_people=1)
    tracks = by_id(tracker)
    assert tracks[0].end == "ghost" and tracks[0].health.history[-1].frame == 5
    # nobody followed from frame 6: the detector runs on every frame then, and finds the person
    assert tracks[1].start == 6 and sorted(tracks[1].landmarks) == list(range(6, 60))
    assert len(tracks) == 2  # the decoy never came back (blocked until frame 55, the slot taken since 6)


def test_a_track_the_detector_stops_confirming_dies_fifteen_frames_later():
    """A plausible, visible skeleton that the detector reported once (frame 0) and never again: the checks at
    frames 5 and 10 disagree, frames 10-15 are bad, it ends on frame 15 with frames 10-15 dropped, and the
    person the detector does see takes the slot on the next frame."""
    decoy = Scripted((200, 10, 250, 160), 3.0, lambda t: "person", lambda t: t == 0)
    person = Scripted((10, 10, 60, 160), 1.0, lambda t: "person", lambda t: True)
    tracker = run_scene([decoy, person], num_frames=30, max_people=1)
    tracks = by_id(tracker)
    assert [q.detector for q in tracks[0].health.history if q.detector is not None] == [True, False, False, False]
    assert tracks[0].end == "ghost" and tracks[0].health.history[-1].frame == 15
    assert sorted(tracks[0].landmarks) == list(range(10))
    assert tracks[1].start == 16 and sorted(tracks[1].landmarks) == list(range(16, 30))


def test_a_second_skeleton_inside_a_followed_person_ends():
    person = Scripted((10, 10, 110, 310), 2.0, lambda t: "person", lambda t: True)
    upper = Scripted((30, 20, 90, 150), 1.0, lambda t: "person", lambda t: True)  # upper body, inside
    tracker = run_scene([person, upper], num_frames=3, max_people=2)
    tracks = by_id(tracker)
    assert tracks[1].end == "duplicate" and sorted(tracks[1].landmarks) == [0]
    assert tracks[0].end == "" and sorted(tracks[0].landmarks) == [0, 1, 2]


@pytest.mark.parametrize("args", [["--num-person", "0"], ["--det-every", "0"], ["--frames", "-1"],
                                  ["--csv", "no_such_folder/ghosts.csv"], ["--csv", "."]])
def test_measure_ghosts_refuses_bad_input_in_one_line(args, tmp_path, monkeypatch, capsys):
    from tools.measure_ghosts import main

    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(mediapipe_available(), reason="checks the message given without mediapipe")
def test_measure_ghosts_without_mediapipe_says_how_to_install(tmp_path, capsys):
    from tools.measure_ghosts import main

    assert main(["--csv", str(tmp_path / "ghosts.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "make demo-offline" in err[0]
    assert not (tmp_path / "ghosts.csv").exists()


def test_crowded_scene_ground_truth_and_props():
    t = 40
    boxes = dict(scene_boxes(CROWDED_PEOPLE, CROWDED_PROPS, t))
    walker = CROWDED_PEOPLE[3]  # walks in from the left at 2.5 px per frame
    x = walker.x + walker.speed * t
    np.testing.assert_allclose(boxes["person3"], [x - 50, 360, x + 50, 560])
    assert set(boxes) == {"person0", "person1", "person2", "person3", "person4", "poster", "tree", "coat"}
    img = np.zeros((576, 768, 3), np.uint8)
    draw_prop(img, Prop("tree", 400, 500, 200), np.full((10, 10, 3), 255, np.uint8))
    assert img[430, 400].any() and not img[430, 300].any()  # the trunk, not beside it
    with pytest.raises(ValueError, match="unknown prop"):
        draw_prop(img, Prop("lamp", 100, 100, 50), np.zeros((10, 10, 3), np.uint8))
