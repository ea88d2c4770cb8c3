"""A test video of walking people, made without any download (used to measure the demo's speed).

Each person is drawn with OpenCV: trousers, shirt, arms swinging, and as face a photograph shipped with
matplotlib (``sample_data/grace_hopper.jpg``, a U.S. Navy photograph of Rear Admiral Grace Hopper, in the
public domain), so that face-keyed pose detectors such as BlazePose have a real face to find. People walk
sideways at a constant speed on a blurred-noise background; heights and positions are given per person.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import matplotlib
import numpy as np

FACE_PHOTO = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
FACE_BOX = (150, 90, 370, 330)  # x1, y1, x2, y2 of the head in the photograph


@dataclass
class WalkingPerson:
    """Feet at ``(x, y)`` pixels in frame 0, ``height`` pixels tall, walking ``speed`` pixels per frame."""

    x: float
    y: float
    height: float
    speed: float
    shirt: tuple[int, int, int] = (40, 40, 160)
    trousers: tuple[int, int, int] = (60, 40, 20)


DEFAULT_PEOPLE = (
    WalkingPerson(150, 420, 170, 1.5, (40, 40, 160), (60, 40, 20)),
    WalkingPerson(600, 300, 110, -1.2, (30, 120, 30), (50, 50, 50)),
    WalkingPerson(380, 520, 200, 0.8, (150, 60, 40), (30, 30, 90)),
)


def _line(img: np.ndarray, a, b, colour, width: float) -> None:
    cv2.line(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, max(2, int(width)), cv2.LINE_AA)


def draw_person(img: np.ndarray, person: WalkingPerson, t: int, face: np.ndarray, period: float = 24.0) -> None:
    """Draw ``person`` at frame ``t`` onto the BGR image (in place)."""
    h, s = person.height, person.height / 170.0
    x, foot = person.x + person.speed * t, person.y
    phase = np.sin(2 * np.pi * t / period)
    hip, shoulder = np.array([x, foot - 0.53 * h]), np.array([x, foot - 0.82 * h])
    for side in (-1, 1):
        swing = phase * side
        knee = hip + [0.07 * h * swing + side * 6 * s, 0.25 * h]
        ankle = knee + [0.05 * h * swing, 0.23 * h]
        _line(img, hip + [side * 8 * s, 0], knee, person.trousers, 16 * s)
        _line(img, knee, ankle, person.trousers, 14 * s)
        _line(img, ankle, ankle + [10 * s, 3 * s], (20, 20, 20), 8 * s)
    _line(img, hip, shoulder, person.shirt, 34 * s)
    for side in (-1, 1):
        swing = -phase * side
        elbow = shoulder + [side * 16 * s + 0.08 * h * swing, 0.16 * h]
        wrist = elbow + [0.07 * h * swing, 0.15 * h]
        _line(img, shoulder + [side * 14 * s, 2 * s], elbow, person.shirt, 12 * s)
        _line(img, elbow, wrist, (150, 170, 210), 9 * s)
    fw = int(0.16 * h)
    fh = int(fw * face.shape[0] / face.shape[1])
    x0, y0 = int(x - fw / 2), int(foot - 0.93 * h - fh / 2)
    if x0 < 0 or y0 < 0 or x0 + fw > img.shape[1] or y0 + fh > img.shape[0]:
        return
    mask = np.zeros((fh, fw), np.uint8)
    cv2.ellipse(mask, (fw // 2, fh // 2), (fw // 2 - 1, fh // 2 - 1), 0, 0, 360, 255, -1)
    roi = img[y0:y0 + fh, x0:x0 + fw]
    roi[mask > 0] = cv2.resize(face, (fw, fh), interpolation=cv2.INTER_AREA)[mask > 0]


@dataclass
class Prop:
    """Something that is not a person, with its foot at ``(x, y)`` and ``height`` pixels tall: ``"tree"``
    (a trunk under a crown), ``"poster"`` (the face photograph on a pole: BlazePose's face-keyed detector
    finds a face there and draws a body below it) or ``"coat"`` (trousers and a shirt on a stand, no head)."""

    kind: str
    x: float
    y: float
    height: float


def draw_prop(img: np.ndarray, prop: Prop, face: np.ndarray) -> None:
    """Draw ``prop`` onto the BGR image (in place)."""
    x, foot, h = prop.x, prop.y, prop.height
    if prop.kind == "tree":
        _line(img, (x, foot), (x, foot - 0.6 * h), (30, 60, 90), 0.11 * h)
        cv2.ellipse(img, (int(x), int(foot - 0.7 * h)), (int(0.25 * h), int(0.3 * h)), 0, 0, 360, (40, 110, 40), -1)
    elif prop.kind == "poster":
        _line(img, (x, foot), (x, foot - 0.7 * h), (50, 50, 50), 0.06 * h)
        fw, fh = int(0.55 * h * face.shape[1] / face.shape[0]), int(0.55 * h)
        x0, y0 = int(x - fw / 2), int(foot - h)
        img[y0:y0 + fh, x0:x0 + fw] = cv2.resize(face, (fw, fh), interpolation=cv2.INTER_AREA)
    elif prop.kind == "coat":
        body = img.copy()
        draw_person(body, WalkingPerson(x, foot, h, 0.0, (70, 70, 70), (40, 40, 40)), 6, face)
        neck = int(foot - 0.86 * h)
        img[neck:] = body[neck:]
        _line(img, (x, neck), (x, neck - 0.1 * h), (50, 50, 50), 0.03 * h)
    else:
        raise ValueError(f"unknown prop {prop.kind!r}: tree, poster or coat")


# A street with more people than the demo's three slots, two of them walking in later, a man standing at a
# tripod, and things that fool the HOG people detector (docs/DEMO.md, "Ghost tracks").
CROWDED_PEOPLE = (
    WalkingPerson(110, 330, 150, 0.0, (90, 30, 30), (40, 40, 40)),       # at a tripod, standing still
    WalkingPerson(250, 470, 180, 1.2, (40, 40, 160), (60, 40, 20)),
    WalkingPerson(820, 300, 120, -2.0, (30, 120, 30), (50, 50, 50)),     # walks in from the right
    WalkingPerson(-120, 560, 200, 2.5, (150, 60, 40), (30, 30, 90)),     # walks in from the left
    WalkingPerson(700, 250, 110, -1.0, (30, 110, 140), (70, 50, 30)),
)
CROWDED_PROPS = (Prop("poster", 330, 360, 200), Prop("tree", 470, 330, 190), Prop("coat", 640, 420, 170))


def scene_boxes(people: tuple[WalkingPerson, ...], props: tuple[Prop, ...], t: int) -> list[tuple[str, np.ndarray]]:
    """Where everybody and every prop is at frame ``t``: ``(name, box (x1, y1, x2, y2))``, people named
    ``person0``, ``person1``, ... and props by their kind (the ground truth of the test video)."""
    boxes = []
    for i, p in enumerate(people):
        x = p.x + p.speed * t
        boxes.append((f"person{i}", np.array([x - 0.25 * p.height, p.y - p.height, x + 0.25 * p.height, p.y])))
    for prop in props:
        h = prop.height
        boxes.append((prop.kind, np.array([prop.x - 0.3 * h, prop.y - h, prop.x + 0.3 * h, prop.y])))
    return boxes


def write_people_video(path: str | Path, num_frames: int = 150, size: tuple[int, int] = (768, 576),
                       people: tuple[WalkingPerson, ...] = DEFAULT_PEOPLE, fps: float = 25.0, seed: int = 0,
                       props: tuple[Prop, ...] = ()) -> None:
    """Write an mp4 (mp4v) of ``people`` walking in front of ``props`` (scenery, drawn behind everybody);
    nearer people (larger ``y``) are drawn over farther ones."""
    photo = cv2.imread(str(FACE_PHOTO))
    if photo is None:
        raise FileNotFoundError(f"cannot read {FACE_PHOTO} (shipped with matplotlib)")
    face = photo[FACE_BOX[1]:FACE_BOX[3], FACE_BOX[0]:FACE_BOX[2]]
    w, h = size
    noise = np.random.default_rng(seed).uniform(120, 170, (max(h // 8, 1), max(w // 8, 1), 3)).astype(np.uint8)
    background = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    scenery = background.copy()
    for prop in props:
        draw_prop(scenery, prop, face)
    background = scenery
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise OSError(f"cannot write {path}")
    try:
        for t in range(num_frames):
            frame = background.copy()
            for person in sorted(people, key=lambda p: p.y):
                draw_person(frame, person, t, face)
            writer.write(frame)
    finally:
        writer.release()
