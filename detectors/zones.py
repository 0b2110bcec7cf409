"""Zones and lines drawn on a camera's picture, in normalised coordinates (0..1).

Normalised so that a zone drawn on the wall's thumbnail holds for the sub stream,
the main stream and a camera whose resolution changes. An object's position is
the bottom centre of its box, where its feet (or wheels) touch the ground.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Point = tuple[float, float]
Polygon = tuple[Point, ...]
Box = tuple[float, float, float, float]   # x1, y1, x2, y2

DIRECTIONS = ("left_to_right", "right_to_left", "top_to_bottom", "bottom_to_top")


def anchor(box: Box) -> Point:
    """Where an object stands: the bottom centre of its box."""
    return ((box[0] + box[2]) / 2, box[3])


def polygon_mask(polygon: Polygon, shape: tuple[int, int]) -> np.ndarray:
    """255 inside *polygon* on an image of *shape* (height, width), 0 elsewhere."""
    height, width = shape
    mask = np.zeros(shape, np.uint8)
    points = np.array([[x * width, y * height] for x, y in polygon], np.float32)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255)
    return mask


def contains(polygon: Polygon, point: Point) -> bool:
    contour = np.array(polygon, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) >= 0


def box_overlap(box: Box, polygon: Polygon) -> float:
    """Fraction of *box* inside *polygon* (approximate, on a 64x64 grid)."""
    x1, y1, x2, y2 = box
    if x2 <= x1 or y2 <= y1:
        return 0.0
    xs = np.linspace(x1, x2, 8)
    ys = np.linspace(y1, y2, 8)
    inside = sum(contains(polygon, (x, y)) for x in xs for y in ys)
    return inside / 64


@dataclass(frozen=True)
class Line:
    a: Point
    b: Point

    def side(self, p: Point) -> float:
        """Positive on one side, negative on the other, zero on the line."""
        (ax, ay), (bx, by) = self.a, self.b
        return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)

    def crossing(self, before: Point, after: Point) -> str | None:
        """The direction (one of :data:`DIRECTIONS`) if moving from *before* to *after*
        crosses the segment, else None. Named in picture terms, whichever way the line
        was drawn."""
        s0, s1 = self.side(before), self.side(after)
        if s0 == 0 or s0 * s1 > 0:
            return None
        if s1 == 0:
            return None  # touching is not crossing; the next position decides
        # Does the movement pass between the segment's ends (not beyond them)?
        mover = Line(before, after)
        if mover.side(self.a) * mover.side(self.b) > 0:
            return None
        (ax, ay), (bx, by) = self.a, self.b
        nx, ny = -(by - ay), bx - ax      # the side where side() is positive
        if s1 < 0:
            nx, ny = -nx, -ny             # the way the object went
        if abs(nx) >= abs(ny):
            return "left_to_right" if nx > 0 else "right_to_left"
        return "top_to_bottom" if ny > 0 else "bottom_to_top"
