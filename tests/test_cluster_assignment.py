"""Who reads which camera across workers: pure rules, in milliseconds."""

from collections import Counter

from camera_center.cluster.assignment import Camera, Worker, plan, shares

FLEET = [Camera(f"cam{i:03d}", f"XA{i // 40:02d}") for i in range(400)]


def _settle(cameras: list[Camera], workers: list[Worker], owners: dict[str, str],
            max_moves: int = 10) -> tuple[dict[str, str], int]:
    """Rounds until nothing moves; the owners and the rounds it took."""
    for rounds in range(1, 1000):
        p = plan(cameras, workers, owners, max_moves)
        if p.owners == owners:
            return owners, rounds
        owners = p.owners
    raise AssertionError("the plan never settles")


def test_shares_follow_weights_and_add_up() -> None:
    got = shares([Worker("a", 1), Worker("b", 2), Worker("c", 1, draining=True)], 400)
    assert got == {"a": 133, "b": 267}
    assert sum(shares([Worker(str(i)) for i in range(7)], 400).values()) == 400
    assert shares([Worker("a", draining=True)], 10) == {}


def test_an_empty_center_is_spread_evenly_with_each_commune_on_one_worker() -> None:
    p = plan(FLEET, [Worker("w1"), Worker("w2"), Worker("w3"), Worker("w4")], {})
    assert Counter(p.owners.values()) == {"w1": 100, "w2": 100, "w3": 100, "w4": 100}
    assert len(p.placed) == 400 and p.moved == ()
    split = [a for a in {c.area_id for c in FLEET}
             if len({p.owners[c.camera_id] for c in FLEET if c.area_id == a}) > 1]
    # 10 communes of 40 over 4 workers of 100: at most 2 communes must be split.
    assert len(split) <= 2


def test_a_dead_workers_cameras_are_all_placed_in_one_round_and_nothing_else_moves() -> None:
    workers = [Worker("w1"), Worker("w2"), Worker("w3")]
    owners, _ = _settle(FLEET, workers, {})
    survivors = [w for w in workers if w.node_id != "w2"]
    p = plan(FLEET, survivors, owners, max_moves=10)
    orphaned = {c for c, n in owners.items() if n == "w2"}
    assert set(p.placed) == orphaned and p.moved == ()
    assert all(p.owners[c] == n for c, n in owners.items() if n != "w2")
    assert Counter(p.owners.values()) == {"w1": 200, "w3": 200}


def test_a_joining_worker_takes_its_share_a_few_cameras_per_round() -> None:
    three = [Worker("w1"), Worker("w2"), Worker("w3")]
    owners, _ = _settle(FLEET, three, {})
    four = [*three, Worker("w4")]
    p = plan(FLEET, four, owners, max_moves=10)
    assert len(p.moved) == 10 and p.placed == ()
    assert sum(1 for c in FLEET if p.owners[c.camera_id] != owners[c.camera_id]) == 10
    settled, rounds = _settle(FLEET, four, owners, max_moves=10)
    assert Counter(settled.values())["w4"] == 100 and rounds >= 10
    moved = sum(1 for c in FLEET if settled[c.camera_id] != owners[c.camera_id])
    assert moved == 100, "only the cameras the new worker needed moved"


def test_draining_empties_a_worker_and_pins_hold() -> None:
    workers = [Worker("w1"), Worker("w2")]
    owners, _ = _settle(FLEET, workers, {})
    pinned = [Camera(c.camera_id, c.area_id, "w1") if c.camera_id == "cam399" else c
              for c in FLEET]
    p = plan(pinned, [Worker("w1"), Worker("w2", draining=True)], owners)
    assert set(p.owners.values()) == {"w1"} and p.owners["cam399"] == "w1"
    # Pinned to a worker that is draining: drained all the same (the pin names it).
    p = plan([Camera("cam1", "XA00", "w2")], [Worker("w1"), Worker("w2", draining=True)],
             {"cam1": "w2"})
    assert p.owners == {"cam1": "w1"}
    # Pins are never moved to even the shares.
    p = plan([Camera(f"c{i}", "XA00", "w1") for i in range(10)],
             [Worker("w1"), Worker("w2")], {})
    assert set(p.owners.values()) == {"w1"} and p.moved == ()


def test_weights_and_load_decide_where_the_orphans_go() -> None:
    p = plan(FLEET[:300], [Worker("big", 2), Worker("small", 1)], {})
    assert Counter(p.owners.values()) == {"big": 200, "small": 100}
    # Equal shares and areas: the less loaded worker takes the odd camera.
    p = plan([Camera("c1", "XA00")], [Worker("a", load=0.9), Worker("b", load=0.2)], {})
    assert p.owners == {"c1": "b"}


def test_with_no_live_worker_nothing_is_placed() -> None:
    p = plan(FLEET[:3], [Worker("w1", draining=True)], {"cam000": "w1"})
    assert p.owners == {} and len(p.unplaced) == 3
