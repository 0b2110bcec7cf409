"""Tamper: a covered lens, a blurred (sprayed) lens and a camera turned away are seen;
people and a bus passing are not tamper."""

import cv2
import numpy as np

from camera_sim.scenes import SCENES, background, render
from detectors.tamper import TamperDetector

W, H = 320, 180


def scene_frame(scene: str, t: float) -> np.ndarray:
    s = SCENES[scene]
    return render(s, t, W, H, background(W, H, s.palette))


def learned(scene: str = "tamper") -> TamperDetector:
    detector = TamperDetector()
    for t in (0.0, 2.0, 4.0, 6.0, 8.0):
        assert not detector.update(scene_frame(scene, t)).tampered
    return detector


def test_the_simulated_cover_is_reported_as_covered() -> None:
    detector = learned()
    result = detector.update(scene_frame("tamper", 14.0))  # covered 12-20 s
    assert result.kind == "covered"
    assert not detector.update(scene_frame("tamper", 22.0)).tampered  # uncovered again


def test_a_blurred_but_lit_lens_is_reported_as_blurred() -> None:
    detector = learned()
    sprayed = cv2.GaussianBlur(scene_frame("tamper", 10.0), (0, 0), 12)
    assert detector.update(sprayed).kind == "blurred"


def test_a_camera_turned_away_is_reported_once_it_stays_turned() -> None:
    detector = learned("street")
    turned = np.ascontiguousarray(scene_frame("intrusion", 0.0)[::-1])  # another view
    assert not detector.update(turned).tampered  # one frame could be a passing bus
    assert detector.update(turned).kind == "moved"


def test_people_and_a_bus_passing_are_not_tamper() -> None:
    detector = learned("street")
    for t in range(10, 30):
        assert not detector.update(scene_frame("street", float(t))).tampered, t
