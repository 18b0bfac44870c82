"""Turns whose user message is an OpenAI list of parts (text and images): saved, loaded,
sent again, and shown in transcripts as ``[image WxH]``, never as a URL."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
from chatfiles import data_url, image_turn, png

from gmi_magics.chat.persist import LoadedThread, export_markdown, load_threads, save_threads
from gmi_magics.chat.transcript import transcript_markdown
from gmi_magics.chat.turns import Turn, decode_data_url, image_size
from gmi_magics.testing import reply
from gmi_magics.types import Reply

GIF = b"GIF89a" + struct.pack("<HH", 7, 5) + b"\x00" * 8
JPEG = (
    b"\xff\xd8"
    + b"\xff\xe0\x00\x10JFIF\x00"
    + b"\x00" * 9
    + b"\xff\xc0\x00\x11\x08"
    + struct.pack(">HH", 480, 640)
    + b"\x03"
    + b"\x00" * 9
)
WEBP_LOSSLESS = b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f" + struct.pack(
    "<I", (20 - 1) | ((10 - 1) << 14)
)


@pytest.mark.parametrize(
    ("image", "size"),
    [(png(3, 2), (3, 2)), (GIF, (7, 5)), (JPEG, (640, 480)), (WEBP_LOSSLESS, (20, 10))],
    ids=["png", "gif", "jpeg", "webp"],
)
def test_image_size(image: bytes, size: tuple[int, int]) -> None:
    assert image_size(image) == size


def test_image_size_of_garbage_is_unknown() -> None:
    for junk in (b"", b"\x89PNG", b"\xff\xd8\xff", b"hello", b"RIFF....WEBPVP8X"):
        assert image_size(junk) is None


def test_only_base64_image_data_urls_decode() -> None:
    assert decode_data_url(data_url(GIF, "gif")) == GIF
    for url in (
        "https://example.test/cat.png",
        "data:text/html;base64,PGI+",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:image/png;base64,@@@",
        "data:image/png,raw",
    ):
        assert decode_data_url(url) is None


def test_messages_send_the_parts_and_user_stays_the_text() -> None:
    turn = image_turn()
    assert turn.user == "What does this plot show?"
    assert turn.messages()[0] == {"role": "user", "content": turn.content}
    plain = Turn("hi", Reply(text="hello"))
    assert plain.messages()[0] == {"role": "user", "content": "hi"}


def test_content_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    save_threads(path, {"t": LoadedThread(None, "m", [image_turn()])})
    loaded = load_threads(path)["t"].turns[0]
    assert loaded == image_turn()
    assert loaded.content is not None and loaded.content[1]["image_url"]["detail"] == "low"


def test_transcripts_show_images_by_size_never_by_url() -> None:
    turn = image_turn()
    assert turn.content is not None
    unknown = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    turn.content.append(
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{unknown}"}}
    )
    threads = {"t": LoadedThread(None, "m", [turn])}
    for text in (transcript_markdown([turn]), export_markdown(threads)):
        assert "What does this plot show?\n\n[image 3x2]\n\n[image]" in text
        assert "data:" not in text and "base64" not in text


def test_a_conversation_with_images_saves_loads_and_continues(shell, server, tmp_path):
    shell.conversation.turns.append(image_turn())
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save {path}").success
    assert shell.run("%gmi reset").success
    result = shell.run(f"%gmi load {path}")
    assert result.success, result.error
    server.enqueue(reply("It is flat."))
    assert shell.run("%%gmi\nAnd the trend?").success
    sent = server.last_request.json["messages"]
    assert sent[0] == {"role": "user", "content": image_turn().content}
    assert sent[-1] == {"role": "user", "content": "And the trend?"}
    history = shell.run("%gmi history")
    assert "[image 3x2]" in history.plain and "base64" not in history.plain
    assert 'alt="image 3x2"' in history.html  # a thumbnail we encoded (tests/test_images.py)
    out = tmp_path / "chat.md"
    assert shell.run(f"%gmi export {out}").success
    text = out.read_text(encoding="utf-8")
    assert "[image 3x2]" in text and "data:image" not in text
    assert json.loads(path.read_text(encoding="utf-8"))["threads"]["default"]["turns"][0]["content"]
