"""The poll queue decides who is polled next: due time first, then priority among due tasks."""

from tui.core.poll_queue import PollQueue


def by_priority(table: dict[str, float]):
    return lambda key, now: table.get(key, 0.0)


def test_nothing_is_ready_before_it_is_due():
    queue = PollQueue(by_priority({}))
    queue.schedule("p", "a", due=10.0)
    assert queue.pop_ready("p", now=9.9) is None
    assert queue.next_due("p") == 10.0
    assert queue.pop_ready("p", now=10.0) == "a"
    assert len(queue) == 0


def test_among_due_tasks_the_highest_priority_goes_first():
    queue = PollQueue(by_priority({"low": 0.1, "high": 0.9, "mid": 0.5}))
    for key in ("low", "high", "mid"):
        queue.schedule("p", key, due=1.0)
    assert [queue.pop_ready("p", now=2.0) for _ in range(3)] == ["high", "mid", "low"]


def test_rescheduling_forgets_the_earlier_entry():
    queue = PollQueue(by_priority({}))
    queue.schedule("p", "a", due=1.0)
    queue.schedule("p", "a", due=50.0)
    assert queue.pop_ready("p", now=2.0) is None
    assert queue.due_at("a") == 50.0
    assert queue.pop_ready("p", now=50.0) == "a"
    assert queue.pop_ready("p", now=100.0) is None


def test_discarded_tasks_never_come_back():
    queue = PollQueue(by_priority({}))
    queue.schedule("p", "a", due=1.0)
    queue.discard("a")
    assert queue.pop_ready("p", now=5.0) is None
    assert queue.next_due("p") is None
    assert "a" not in queue


def test_lanes_are_independent():
    queue = PollQueue(by_priority({}))
    queue.schedule("kyy", "a", due=1.0)
    queue.schedule("anyfast", "b", due=1.0)
    assert queue.pop_ready("kyy", now=2.0) == "a"
    assert queue.pop_ready("kyy", now=2.0) is None
    assert queue.pop_ready("anyfast", now=2.0) == "b"


def test_waiting_tasks_are_reprioritized_as_time_passes():
    weights = {"old": 0.1, "new": 0.5}
    queue = PollQueue(by_priority(weights), reprioritize_every=5.0)
    queue.schedule("p", "old", due=0.0)
    queue.schedule("p", "new", due=0.0)
    queue.schedule("p", "other", due=0.0)
    assert queue.pop_ready("p", now=1.0) == "new"
    weights["old"] = 0.9  # it has waited long: now the likeliest to be done
    assert queue.pop_ready("p", now=10.0) == "old"
