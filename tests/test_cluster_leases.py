"""Camera ownership across servers: one worker per camera, leases that run out by the
database's clock, epochs that fence off a worker that lost its lease, and the servers'
registry. Real PostgreSQL; the worker's own deadline is a pure object."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from camera_center.auth.roles import system_principal
from camera_center.cluster.lease_clock import LeaseClock
from camera_center.cluster.leases import LeaseStore, LeaseToken, StaleLease, fence
from camera_center.cluster.membership import MemberOptions
from camera_center.cluster.nodes import NodeRegistry, NodeState, node_state
from camera_center.storage import migrate
from camera_center.storage.engine import Database
from tests.conftest import World

# -- the worker's deadline: pure ------------------------------------------------------------


def test_a_lease_is_trusted_until_ttl_after_the_renewal_was_sent_less_the_margin() -> None:
    clock = LeaseClock(ttl_s=10, margin_s=1)
    assert not clock.valid(0)
    clock.renewed(sent_at=100.0)        # the answer may come much later: it does not count
    assert clock.valid(108.9) and not clock.valid(109.0)
    assert clock.remaining(105) == pytest.approx(4)
    clock.renewed(sent_at=50.0)         # a late answer to an old request changes nothing
    assert clock.valid(108.9)


def test_a_worker_resumed_after_a_pause_longer_than_its_lease_is_past_its_deadline() -> None:
    clock = LeaseClock(ttl_s=10, margin_s=1)
    clock.renewed(sent_at=0.0)
    # SIGSTOP at 2 s, SIGCONT at 30 s: the monotonic clock ran on meanwhile.
    assert not clock.valid(30.0) and clock.remaining(30.0) == 0
    clock.renewed(sent_at=31.0)
    clock.lost()                        # the database refused: gone at once
    assert not clock.valid(31.5)


def test_a_margin_as_long_as_the_lease_is_refused() -> None:
    with pytest.raises(ValueError, match="margin"):
        LeaseClock(ttl_s=5, margin_s=5)


def _keeps_its_leases_through(outage_s: float, options: MemberOptions) -> bool:
    """A worker renewed its leases at 0 and its next round (``round_s`` later) meets a database
    that stays away *outage_s*: is its deadline still ahead when a round gets through?
    The worst phase: the outage begins just before that round."""
    clock = LeaseClock(options.lease_s, options.margin_s)
    clock.renewed(sent_at=0.0)
    now, back_at = options.round_s, options.round_s + outage_s
    while now < back_at:    # every round until the database answers fails
        now += options.pause_after(failed=True)
    return clock.valid(now)


def test_after_a_failed_round_the_next_comes_soon_so_a_restart_keeps_the_cameras() -> None:
    options = MemberOptions(lease_s=8.0, margin_s=1.0)
    period = options.round_s
    assert options.pause_after(failed=False) == period
    # The default lease rides out a database restart of up to 4.5 s: a round every
    # 0.5 s after a failure catches the database as soon as it is back.
    assert _keeps_its_leases_through(4.4, options)
    assert not _keeps_its_leases_through(4.6, options)
    # Waiting a whole round after a failure stops every camera after 4 s already.
    patient = MemberOptions(lease_s=8.0, margin_s=1.0, retry_s=period)
    assert _keeps_its_leases_through(3.9, patient)
    assert not _keeps_its_leases_through(4.1, patient)


def test_node_states_follow_heartbeat_age() -> None:
    assert node_state(2, 2, False) is NodeState.UP
    assert node_state(7, 2, False) is NodeState.LATE
    assert node_state(7, 2, True) is NodeState.DRAINING
    assert node_state(13, 2, True) is NodeState.DOWN


# -- the lease store on PostgreSQL ----------------------------------------------------------


def _with_leases(database_url: str,
                 body: Callable[[Database, LeaseStore], Awaitable[None]]) -> None:
    async def main() -> None:
        db = Database(database_url)
        try:
            await migrate.upgrade(db)
            await body(db, LeaseStore(db))
        finally:
            await db.close()

    asyncio.run(main())


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_each_camera_has_one_owner_and_an_expired_lease_passes_with_a_new_epoch(
        database_url: str) -> None:
    async def body(db: Database, leases: LeaseStore) -> None:
        # Two workers race for the same cameras: each camera goes to exactly one.
        a, b = await asyncio.gather(leases.acquire("w1", ["c1", "c2", "c3"], 30),
                                    leases.acquire("w2", ["c2", "c3", "c4"], 30))
        assert not set(a) & set(b) and set(a) | set(b) == {"c1", "c2", "c3", "c4"}
        owners = await leases.owners()
        assert {c: t.node_id for c, t in {**a, **b}.items()} == owners
        held = {**a, **b}["c2"]
        other = "w2" if held.node_id == "w1" else "w1"
        assert await leases.acquire(other, ["c2"], 30) == {}    # held: refused

        stale = (await leases.acquire("w1", ["c9"], 0.2))["c9"]
        await asyncio.sleep(0.5)                                # nobody renewed
        assert "c9" not in await leases.owners()
        taken = await leases.acquire("w2", ["c9"], 30)
        assert taken["c9"].epoch == stale.epoch + 1
        # The old owner can neither renew nor write with its epoch.
        assert await leases.renew([stale], 30) == set()
        async with db.session() as s:
            with pytest.raises(StaleLease, match="does not hold"):
                await fence(s, [stale])
            await fence(s, [taken["c9"]])                        # the new one may

    _with_leases(database_url, body)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_renewal_keeps_a_lease_release_frees_it_and_epochs_never_repeat(
        database_url: str) -> None:
    async def body(db: Database, leases: LeaseStore) -> None:
        held = await leases.acquire("w1", ["c1"], 2)
        assert await leases.renew(held.values(), 30) == {"c1"}
        await asyncio.sleep(2.3)                    # past the first expiry
        assert await leases.acquire("w2", ["c1"], 5) == {}
        await leases.release(held.values())
        moved = await leases.acquire("w2", ["c1"], 5)
        assert moved["c1"].epoch == held["c1"].epoch + 1
        # The same node restarting takes its cameras back with a new epoch, so its
        # former self (paused, not dead) is fenced off too.
        again = await leases.acquire("w2", ["c1"], 5)
        assert again["c1"].epoch == moved["c1"].epoch + 1
        assert await leases.renew(moved.values(), 5) == set()
        assert await leases.epochs(["c1", "nope"]) == {"c1": again["c1"].epoch}
        assert await leases.renew([LeaseToken("c1", "w2", again["c1"].epoch)], 5) \
            == {"c1"}

    _with_leases(database_url, body)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_write_fenced_by_a_lease_holds_off_the_next_owner_until_it_commits(
        database_url: str) -> None:
    async def body(db: Database, leases: LeaseStore) -> None:
        held = await leases.acquire("w1", ["c1"], 2)
        async with db.session() as s:
            await fence(s, [held["c1"]])
            await asyncio.sleep(2.3)            # the lease runs out mid-write
            takeover = asyncio.create_task(leases.acquire("w2", ["c1"], 5))
            await asyncio.sleep(0.3)
            assert not takeover.done(), "the new owner waits for the write to end"
            await s.commit()
        assert (await takeover)["c1"].epoch == held["c1"].epoch + 1

    _with_leases(database_url, body)


def test_leases_refuse_sqlite_with_a_reason(database_url: str) -> None:
    db = Database(database_url)
    try:
        with pytest.raises(ValueError, match="need PostgreSQL"):
            LeaseStore(db)
    finally:
        asyncio.run(db.close())


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_servers_register_by_heartbeat_and_draining_outlives_a_restart(
        database_url: str) -> None:
    async def main() -> None:
        db = Database(database_url)
        await migrate.upgrade(db)
        # UP within 1.5 s of a heartbeat, DOWN after 3 s.
        nodes = NodeRegistry(db, interval_s=0.5)
        try:
            for node, role in (("api-1", "api"), ("w1", "worker"), ("w2", "worker")):
                await nodes.heartbeat(node, role, f"http://{node}:8081", "0.1", 1.0,
                                      cameras=0 if role == "api" else 20, cpu_percent=30,
                                      load=0.4)
            assert await nodes.set_draining("w2", True, system_principal("test"))
            assert not await nodes.set_draining("nope", True, system_principal("test"))
            await nodes.heartbeat("w2", "worker", "http://w2:8081", "0.2", 2.0, 5, 10, 0.1)
            listed = {n.node_id: n for n in await nodes.list()}
            assert listed["w2"].draining and listed["w2"].state is NodeState.DRAINING
            assert listed["w2"].version == "0.2" and listed["w2"].cameras == 5
            assert listed["w1"].state is NodeState.UP and listed["api-1"].role == "api"
            await asyncio.sleep(3.5)                    # w1 stops beating
            await nodes.heartbeat("api-1", "api", "http://api-1:8081", "0.1", 1, 0, 5, 0.1)
            listed = {n.node_id: n for n in await nodes.list()}
            assert listed["w1"].state is NodeState.DOWN
            assert listed["api-1"].state is NodeState.UP
        finally:
            await db.close()

    asyncio.run(main())


def test_admins_see_the_server_that_answers_in_the_servers_list(world: World) -> None:
    """One server on SQLite registers itself at start: the list is never empty."""
    r = world.client.get("/api/v1/cluster/nodes", headers=world.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    [node] = body["items"]
    assert node["node_id"] == body["this_node"] and node["role"] == "all"
    assert node["state"] == "up" and node["version"] and node["cameras"] == 0
    assert 0 <= node["cpu_percent"] <= 100 and node["load"] >= 0
    assert world.client.get("/api/v1/cluster/nodes",
                            headers=world.headers["operator"]).status_code == 403
