"""The canned answer of the stand-in server when nothing is enqueued, and how it reads
a request (message text, images sent)."""

from __future__ import annotations

import json
from typing import Any

from .chat.content import DATA_URL, is_image, part_url, url_image_size
from .standin_scripts import Reply, Script, reply, status

__all__ = ["IMAGE_REFUSAL", "canned_reply", "default_script", "message_text", "seen_images"]


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return json.dumps(content)
    texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return "\n\n".join(t for t in texts if isinstance(t, str))


def seen_images(content: Any) -> str:
    """``I see 2 images (PNG 640×480, JPEG 300×200).`` for the images in ``content``."""
    shown = []
    for part in content if isinstance(content, list) else ():
        url = part_url(part) if is_image(part) else None
        if url is None:
            continue
        match, size = DATA_URL.match(url), url_image_size(url)
        kind = match.group(1).upper() if match else "unreadable"
        shown.append(f"{kind} {size[0]}×{size[1]}" if size else kind)
    if not shown:
        return ""
    noun = "image" if len(shown) == 1 else "images"
    return f"I see {len(shown)} {noun} ({', '.join(shown)}).\n\n"


def default_script(
    body: dict[str, Any], models: list[str], image_models: set[str] | None = None
) -> Script:
    """The deterministic answer when nothing is enqueued.

    With ``image_models`` set, any other model refuses image parts as GMI does (400).
    """
    model = body.get("model")
    if model not in models:
        return status(404, f"No matching target server found for model {model}")
    if image_models is not None and model not in image_models and _has_images(body):
        return status(400, IMAGE_REFUSAL)
    return canned_reply(body)


IMAGE_REFUSAL = {
    "error": {
        "message": "Backend request failed with status 400",
        "type": "backend_error",
        "code": 400,
        "details": json.dumps(
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Failed to deserialize the JSON body into the target type: "
                    "messages[0]: unknown variant `image_url`, expected `text`",
                }
            }
        ),
    }
}


def _has_images(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    return any(
        isinstance(m, dict) and isinstance(m.get("content"), list)
        and any(is_image(p) for p in m["content"])
        for m in messages
    )  # fmt: skip


def canned_reply(body: dict[str, Any]) -> Reply:
    """A deterministic reply to the request, for demos.

    A tool call when the request offers tools the message names (or asks about the
    weather); the tool's result quoted after a tool message; a JSON object for
    ``response_format: json_object``; a Python block when asked for code; otherwise
    markdown quoting the last message, after a line naming the images it was sent
    ("I see 1 image (PNG 640×480).").
    """
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last = messages[-1] if messages else {}
    content = last.get("content")
    text, seen = message_text(content), seen_images(content)
    text = text.rpartition("</notebook_context>")[2].strip() or text  # the question itself
    if last.get("role") == "tool":
        return reply(f"**Stand-in reply** (offline demo): the tool returned\n\n> {text[:200]}\n")
    call = _default_tool_call(body.get("tools") or [], text)
    if call is not None:
        return reply(tool_calls=[call], finish_reason="tool_calls")
    if (body.get("response_format") or {}).get("type") == "json_object":
        return reply(json.dumps({"stand_in": True, "question": text[:200], "answer": 42}))
    if "```" in text or "code" in text.lower():
        return reply(
            f"{seen}**Stand-in reply** (offline demo, canned code):\n\n"
            "```python\nprint('hello from the stand-in server')\n```\n"
        )
    return reply(
        f"{seen}**Stand-in reply** (offline demo, canned reply) to: \n\n"
        f"> {text[:200]}\n\nHere is a small table:\n\n"
        "| n | n² |\n|---|----|\n| 1 | 1 |\n| 2 | 4 |\n"
    )


def _default_tool_call(tools: list[Any], text: str) -> dict[str, Any] | None:
    functions = [t.get("function") or {} for t in tools if isinstance(t, dict)]
    named = [f for f in functions if f.get("name") and f["name"] in text]
    chosen = named or (functions if "weather" in text.lower() else [])
    if not chosen:
        return None
    params = chosen[0].get("parameters") or {}
    props = params.get("properties") or {}
    args = {
        name: "Qingdao"
        for name in params.get("required") or []
        if (props.get(name) or {}).get("type") == "string"
    }
    function = {"name": chosen[0].get("name", ""), "arguments": json.dumps(args)}
    return {
        "index": 0,
        "id": "call_standin_0",
        "type": "function",
        "function": function,
    }
