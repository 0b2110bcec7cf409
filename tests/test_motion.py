"""Motion on the simulator's own scenes: people moving trigger it; a still scene, a change
of light and a masked area do not."""

import numpy as np
import pytest

from camera_sim.scenes import SCENES, background, render
from detectors.motion import MotionDetector, MotionSettings

W, H = 320, 180


def frames(scene: str, times: list[float]) -> list[np.ndarray]:
    s = SCENES[scene]
    bg = background(W, H, s.palette)
    return [render(s, t, W, H, bg) for t in times]


def run(detector: MotionDetector, images: list[np.ndarray]) -> list[bool]:
    return [detector.update(img).motion for img in images]


def test_a_walking_person_triggers_motion_where_he_walks() -> None:
    detector = MotionDetector()
    detector.update(frames("street", [0.5])[0])  # empty street: the reference
    result = detector.update(frames("street", [6.0])[0])  # person_a walking at x~0.2
    assert result.motion
    x1, _y1, x2, y2 = result.regions[0].box
    assert x1 < 0.3 < x2 or x1 < 0.2 < x2
    assert y2 > 0.6  # his feet are on the pavement


def test_a_still_scene_has_no_motion() -> None:
    detector = MotionDetector()
    assert run(detector, frames("quiet", [0, 1, 2, 3, 4, 5, 6])) == [False] * 7


def test_a_change_of_light_is_not_motion() -> None:
    detector = MotionDetector()
    still = frames("quiet", [0.0])[0]
    detector.update(still)
    for gain in (1.35, 0.6, 0.3):  # clouds, dusk, night mode
        dimmed = np.clip(still.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        result = detector.update(dimmed)
        assert not result.motion, gain


def test_lights_switched_on_over_most_of_the_picture_are_relearned() -> None:
    detector = MotionDetector()
    still = frames("quiet", [0.0])[0]
    detector.update(still)
    lit = still.copy()
    lit[:, : int(W * 0.8)] = 255 - lit[:, : int(W * 0.8)]  # most of the picture changes
    result = detector.update(lit)
    assert result.lighting_change and not result.motion
    assert not detector.update(lit).motion  # and it is the new normal


def test_a_masked_area_is_ignored() -> None:
    # person_a walks along the bottom left; mask that part of the picture.
    mask = ((0.0, 0.25), (0.6, 0.25), (0.6, 1.0), (0.0, 1.0))
    detector = MotionDetector(MotionSettings(masks=(mask,)))
    assert run(detector, frames("street", [0.5, 4.0, 6.0, 8.0])) == [False] * 4


@pytest.mark.parametrize("sensitivity", [0.2, 0.5, 0.9])
def test_sensitivity_and_minimum_area_gate_small_changes(sensitivity: float) -> None:
    still = frames("quiet", [0.0])[0]
    detector = MotionDetector(MotionSettings(sensitivity=sensitivity, min_area=0.01))
    detector.update(still)
    speck = still.copy()
    speck[90:94, 150:154] = 255  # a 4x4 px insect: far below 1 % of the picture
    assert not detector.update(speck).motion
