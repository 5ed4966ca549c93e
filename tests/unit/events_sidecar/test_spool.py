"""The disk spool: order, durability of the replay position, the bound, torn tails, dead letters."""

from __future__ import annotations

import pytest

from headrace.events.sidecar.spool import DeadLetters, Spool, SpoolFull, SpoolInUse


def _records(start: int, stop: int) -> list[dict]:
    return [{"n": i, "pad": "x" * 100} for i in range(start, stop)]


def test_records_come_back_in_order_and_commit_consumes_them(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(_records(0, 3))
    spool.append(_records(3, 5))
    assert len(spool) == 5

    first = spool.peek(max_records=2)
    assert [r["n"] for r in first.records] == [0, 1]
    assert [r["n"] for r in spool.peek(max_records=2).records] == [0, 1]  # peek does not consume
    spool.commit(first)
    assert [r["n"] for r in spool.peek().records] == [2, 3, 4]
    assert len(spool) == 3


def test_the_replay_position_survives_reopening(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=1024)  # ~9 records per segment
    spool.append(_records(0, 10))
    spool.append(_records(10, 30))
    spool.commit(spool.peek(max_records=12))
    spool.close()

    reopened = Spool(tmp_path, max_bytes=10**6, segment_bytes=1024)
    assert len(reopened) == 18
    ordered = []
    while batch := reopened.peek(max_records=4).records:
        ordered += [r["n"] for r in batch]
        reopened.commit(reopened.peek(max_records=4))
    assert ordered == list(range(12, 30))
    reopened.close()
    assert len(Spool(tmp_path, max_bytes=10**6)) == 0


def test_consumed_segments_are_deleted_so_space_comes_back(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6, segment_bytes=1024)
    for i in range(10):
        spool.append(_records(i * 5, i * 5 + 5))
    full_size = spool.size_bytes
    assert len(list(tmp_path.glob("*.jsonl"))) > 3
    while len(spool):
        spool.commit(spool.peek(max_records=7))
    assert spool.size_bytes == 0 < full_size
    assert list(tmp_path.glob("*.jsonl")) == []


def test_a_full_spool_refuses_instead_of_dropping(tmp_path):
    spool = Spool(tmp_path, max_bytes=2000)
    spool.append(_records(0, 10))  # ~1200 bytes
    with pytest.raises(SpoolFull):
        spool.append(_records(10, 20))
    assert [r["n"] for r in spool.peek().records] == list(range(10))  # what was there is intact
    spool.commit(spool.peek())
    spool.append(_records(10, 12))  # after replay it takes events again (the segment was reused)


def test_a_torn_last_line_from_a_crash_is_cut_on_reopen(tmp_path):
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.append(_records(0, 2))
    segment = next(tmp_path.glob("*.jsonl"))
    with open(segment, "ab") as fh:
        fh.write(b'{"n": 2, "pad": "xx')  # a write cut short by kill -9: never acknowledged
    spool.close()
    reopened = Spool(tmp_path, max_bytes=10**6)
    assert len(reopened) == 2
    reopened.append(_records(3, 4))
    assert [r["n"] for r in reopened.peek().records] == [0, 1, 3]


def test_dead_letters_keep_the_event_and_the_reasons(tmp_path):
    letters = DeadLetters(tmp_path / "dead.jsonl")
    letters.add([({"n": 1}, [{"field": "site_id", "message": "unknown"}])])
    letters.add([({"n": 2}, None)])
    read = letters.read()
    assert [d["event"]["n"] for d in read] == [1, 2]
    assert read[0]["errors"] == [{"field": "site_id", "message": "unknown"}] and read[0]["at"]


def test_an_emptied_spool_frees_its_space_even_when_smaller_than_a_segment(tmp_path):
    spool = Spool(tmp_path, max_bytes=1500)
    for _ in range(5):
        spool.append(_records(0, 10))  # ~1200 bytes: it only fits when the last round was freed
        spool.commit(spool.peek())
    assert len(spool) == 0 and spool.size_bytes == 0
    spool.close()
    assert len(Spool(tmp_path, max_bytes=1500)) == 0


def test_a_second_sidecar_on_the_same_directory_is_refused(tmp_path):
    first = Spool(tmp_path, max_bytes=10**6)
    with pytest.raises(SpoolInUse):
        Spool(tmp_path, max_bytes=10**6)
    first.close()
    Spool(tmp_path, max_bytes=10**6).close()  # free again once the first let go
