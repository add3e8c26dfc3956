"""process_batch, the ingest agent's one domain function, on a real model and database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
from factories import make_event

from llmwatch.embedding import Embedder
from llmwatch.schemas.embedded import from_wire, from_wire_many, pack, to_wire
from llmwatch.storage import Store
from llmwatch.streams.pipeline import RawMessage, process_batch

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


def msg(offset: int, value: bytes | None, key: bytes | None = b"app/model") -> RawMessage:
    return RawMessage("llmwatch.events", 2, offset, key, value)


def test_valid_invalid_and_feedback_each_go_their_way(embedder: Embedder, store: Store) -> None:
    feedback = (b'{"kind":"feedback","feedback_id":"fb-1","event_id":"evt-000001",'
                b'"timestamp":"2026-11-01T12:00:05Z","thumbs":"down"}')
    batch = [msg(10, make_event(1).model_dump_json().encode()), msg(11, b"{broken", b"k"),
             msg(12, feedback), msg(13, make_event(2).model_dump_json().encode())]
    out = process_batch(batch, embedder=embedder, store=store, now=NOW)
    assert (out.new_events, out.new_feedback, len(out.dead_letters)) == (2, 1, 1)
    letter = out.dead_letters[0]
    assert letter.reason.startswith("not JSON")
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        "llmwatch.events", 2, 11)
    assert letter.original_value() == b"{broken" and letter.rejected_at == NOW
    assert [e.source.offset for e in out.embedded if e.source] == [10, 13]
    assert store.counts().events == 2


def test_a_replayed_batch_adds_nothing(embedder: Embedder, store: Store) -> None:
    batch = [msg(i, make_event(i).model_dump_json().encode()) for i in range(6)]
    first = process_batch(batch, embedder=embedder, store=store, now=NOW)
    again = process_batch(batch, embedder=embedder, store=store, now=NOW)
    assert (first.new_events, again.new_events) == (6, 0)
    assert len(again.embedded) == 6  # still handed on: detectors see at-least-once too
    assert store.counts().events == 6


def test_enriched_wire_format_round_trips(embedder: Embedder) -> None:
    item = embedder.embed_events([make_event(5)])[0]
    back = from_wire(to_wire(item))
    assert back.event == item.event
    assert back.prompt_vector.dtype == np.float32
    np.testing.assert_allclose(back.prompt_vector, item.prompt_vector, atol=1e-3)  # float16
    np.testing.assert_allclose(back.response_vector, item.response_vector, atol=1e-3)


def test_enriched_records_pack_many_events_under_the_size_limit(embedder: Embedder) -> None:
    items = embedder.embed_events([make_event(i) for i in range(40)])
    wires = [to_wire(i) for i in items]
    one = pack(wires, 1_000_000)
    assert len(one) == 1
    assert [e.event for e in from_wire_many(one[0])] == [i.event for i in items]
    small = pack(wires, 3 * max(len(w) for w in wires))  # two or three a record
    assert len(small) > 10 and all(len(r) <= 3 * max(len(w) for w in wires) for r in small)
    assert [e.event for r in small for e in from_wire_many(r)] == [i.event for i in items]
    assert [e.event for e in from_wire_many(wires[0])] == [items[0].event]  # unpacked too


def test_enriched_records_of_the_previous_version_still_read(embedder: Embedder) -> None:
    import base64
    import json

    item = embedder.embed_events([make_event(6)])[0]
    doc = json.loads(to_wire(item))
    del doc["vector_dtype"]  # written before float16: float32 vectors, no marker
    doc["prompt_vector"] = base64.b64encode(item.prompt_vector.astype("<f4").tobytes()).decode()
    doc["response_vector"] = base64.b64encode(
        item.response_vector.astype("<f4").tobytes()).decode()
    back = from_wire(json.dumps(doc).encode())
    assert back.prompt_vector.tobytes() == item.prompt_vector.tobytes()


def test_one_unstorable_message_is_dead_lettered_and_the_rest_stored(
    embedder: Embedder, postgres_url: str
) -> None:
    """Defence in depth: what the gate did not foresee (here a constraint of the operator's
    database) fails the batch, which is retried one by one; only that message is lost to a
    dead letter. A NUL byte, which PostgreSQL text cannot hold, never gets that far."""
    from sqlalchemy import text

    from llmwatch.storage import upgrade

    store = Store(postgres_url)
    upgrade(store.engine)
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE events ADD CONSTRAINT no_poison "
                          "CHECK (prompt_text NOT LIKE '%poison%')"))
    poison = make_event(2, prompt="a poison pill").model_dump_json().encode()
    nul = json.dumps({**json.loads(make_event(4).model_dump_json()),  # the contract refuses
                      "prompt": "null byte \u0000 inside"}).encode()  # it: sent by hand
    batch = [msg(1, make_event(1).model_dump_json().encode()), msg(2, poison),
             msg(3, make_event(3).model_dump_json().encode()), msg(4, nul)]
    out = process_batch(batch, embedder=embedder, store=store, now=NOW)
    assert sorted(store.event_ids()) == ["evt-000001", "evt-000003"]
    assert out.new_events == 2 and [e.event.event_id for e in out.embedded] == [
        "evt-000001", "evt-000003"]
    nul_letter, letter = sorted(out.dead_letters, key=lambda x: x.stage)
    assert (letter.stage, letter.source_offset) == ("store", 2)
    assert "no_poison" in letter.reason and letter.original_value() == poison
    assert "poison pill" not in letter.reason  # the error names the rule, not the data
    assert (nul_letter.stage, nul_letter.source_offset) == ("decode", 4)
    assert "prompt: contains NUL (U+0000)" in nul_letter.reason
    store.dispose()


def test_every_call_is_scored_and_the_scores_are_stored(embedder: Embedder,
                                                        store: Store) -> None:
    from llmwatch.detectors.quality import ExemplarIndex, QualityScorer

    scorer = QualityScorer(ExemplarIndex.of(embedder))
    leak = make_event(1, prompt="What is my card number?",
                      response="Your card is 4111 1111 1111 1111.")
    refusal = make_event(2, response="I'm sorry, but I can't help with that.")
    batch = [msg(1, leak.model_dump_json().encode()), msg(2, refusal.model_dump_json().encode())]
    out = process_batch(batch, embedder=embedder, store=store, now=NOW, scorer=scorer)
    assert out.embedded[0].quality and out.embedded[0].quality["pii_response"][1] is True
    row, scores = store.event("evt-000001")  # type: ignore[misc]
    by_name = {s.name: s for s in scores}
    assert by_name["pii_response"].flagged and by_name["pii_response"].details["spans"] == [
        ["CARD", 13, 32]]
    assert not by_name["refusal"].flagged
    _, scores2 = store.event("evt-000002")  # type: ignore[misc]
    assert {s.name: s.flagged for s in scores2}["refusal"]
    process_batch(batch, embedder=embedder, store=store, now=NOW, scorer=scorer)  # replay
    assert len(store.event("evt-000001")[1]) == len(scores)  # type: ignore[index]
