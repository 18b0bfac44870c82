"""The content model: image token rule, budget with images, /models flags, eliding,
retry's split, refusals."""

from __future__ import annotations

import pytest
from chatfiles import data_url, png

from gmi_magics.chat.budget import TokenEstimator
from gmi_magics.chat.content import (
    UNKNOWN_IMAGE_TOKENS,
    ImagesNotAcceptedError,
    accepts_images,
    compose,
    elide_images,
    image_tokens,
    images_refused,
    split_sent,
)
from gmi_magics.errors import status_error


@pytest.mark.parametrize(
    ("size", "tokens"),
    [
        ((512, 512), 85 + 170 * 1),
        ((1024, 1024), 85 + 170 * 4),  # shrunk to 768x768: 2x2 tiles
        ((4096, 1024), 85 + 170 * 4),  # fit 2048x512: 4x1 tiles
        ((100, 50), 85 + 170),
        (None, UNKNOWN_IMAGE_TOKENS),
    ],
)
def test_image_tokens_rule(size, tokens):
    assert image_tokens(size) == tokens


def test_message_tokens_count_images_by_size_not_base64_length():
    estimator = TokenEstimator()
    image = {"type": "image_url", "image_url": {"url": data_url(png(512, 512))}}
    message = {"role": "user", "content": [{"type": "text", "text": "x" * 40}, image]}
    assert estimator.message_tokens(message) == 4 + 10 + 255
    assert estimator.message_tokens({"role": "user", "content": "x" * 40}) == 14


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"id": "a", "input_modalities": ["text", "image"]}, True),
        ({"id": "a", "modalities": {"input": ["image"]}}, True),
        ({"id": "a", "architecture": {"input_modalities": ["image", "text"]}}, True),
        ({"id": "a", "capabilities": {"vision": True}}, True),
        ({"id": "a", "supports_vision": True}, True),
        ({"id": "a", "input_modalities": ["text"]}, False),
        ({"id": "a", "capabilities": {"vision": "yes"}}, False),
        ({"id": "a", "modalities": "image"}, False),
        ("not a dict", False),
    ],
)
def test_accepts_images(entry, expected):
    assert accepts_images(entry) is expected


def test_elide_images_keeps_everything_but_the_base64():
    url = data_url(png(300, 300))
    request = {
        "messages": [
            {
                "role": "user",
                "content": compose(
                    "hi", [{"type": "image_url", "image_url": {"url": url, "detail": "low"}}]
                ),
            }
        ]
    }
    shown = elide_images(request)
    part = shown["messages"][0]["content"][1]["image_url"]
    assert part["url"].startswith("data:image/png;base64,… ") and part["detail"] == "low"
    assert request["messages"][0]["content"][1]["image_url"]["url"] == url  # not changed


def test_split_sent_recovers_context_and_images():
    image = {"type": "image_url", "image_url": {"url": data_url(png(2, 2))}}
    content = compose("Why?", [image], "<notebook_context>x</notebook_context>")
    assert split_sent(content, "Why?") == ("<notebook_context>x</notebook_context>", [image])
    assert split_sent(compose("Why?", [image]), "Why?") == ("", [image])


def test_images_refused_only_for_image_complaints():
    gmi = status_error(
        400, '{"error": {"message": "unknown variant `image_url`, expected `text`"}}'
    )
    assert isinstance(images_refused(gmi, "m"), ImagesNotAcceptedError)
    other = status_error(400, '{"error": {"message": "Invalid max_tokens value"}}')
    assert images_refused(other, "m") is other
    assert isinstance(images_refused(status_error(413, "too large"), "m"), ImagesNotAcceptedError)
    assert images_refused(status_error(500, "image broke"), "m") is not None
