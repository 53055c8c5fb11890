"""`levee stream get SEQ`: the operator reads the event a log line names, with no NATS tool installed."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from events.store import JetStreamEventStore, Write
from services import cli_stream
from services.cli import _parser
from services.cli_stream import print_message
from services.settings import Settings


def settings_for(nats_url: str, store: JetStreamEventStore) -> Settings:
    return Settings(nats_url=nats_url, nats_stream=store.spec.name)


async def test_the_message_at_a_sequence_is_printed_as_json(
    nats_url: str, store: JetStreamEventStore
) -> None:
    subject = store.spec.event_subject(uuid.uuid4())
    body = {"originator_version": 1, "description": "水浸"}
    [seq] = await store.append([Write(subject, json.dumps(body).encode(), expected_last_seq=0)])
    out = io.StringIO()
    assert await print_message(settings_for(nats_url, store), seq, out=out) == 0
    printed = json.loads(out.getvalue())
    assert (printed["seq"], printed["subject"], printed["data"]) == (seq, subject, body)
    assert printed["time"]  # when the server stored it


async def test_a_sequence_with_no_message_says_so_and_fails(
    nats_url: str, store: JetStreamEventStore, capsys: pytest.CaptureFixture[str]
) -> None:
    out = io.StringIO()
    assert await print_message(settings_for(nats_url, store), 999, out=out) == 1
    assert out.getvalue() == ""
    assert "no message at that sequence" in capsys.readouterr().out


async def test_a_body_that_is_not_json_is_printed_in_base64(
    nats_url: str, store: JetStreamEventStore
) -> None:
    [seq] = await store.append(
        [Write(store.spec.event_subject(uuid.uuid4()), b"\xff\x00", expected_last_seq=0)]
    )
    out = io.StringIO()
    assert await print_message(settings_for(nats_url, store), seq, out=out) == 0
    assert json.loads(out.getvalue())["data"] == {"base64": "/wA="}


def test_the_command_line_takes_a_sequence() -> None:
    args = _parser().parse_args(["stream", "get", "42"])
    assert args.seq == 42
    with pytest.raises(SystemExit):
        _parser().parse_args(["stream", "get", "forty-two"])


async def test_unreachable_nats_fails_with_a_reason(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_stream, "CONNECT_BOUND", 1.0)
    settings = Settings(nats_url="nats://127.0.0.1:9")  # nothing listens on the discard port
    assert await print_message(settings, 1, out=io.StringIO()) == 1
    assert "NATS not reachable" in capsys.readouterr().out
