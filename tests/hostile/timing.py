"""Render every hostile markdown shape at growing sizes and print the times.

Run: ``python tests/hostile/timing.py [sizes…]`` (default 2 KB 8 KB 32 KB 128 KB).
Times must grow about linearly with size (a shape whose 128 KB time is more than
~6x its 32 KB time is flagged ``SUPERLINEAR``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hostile_corpus import MARKDOWN_SHAPES, markdown_shape

from gmi_magics.display.markup import markdown_to_html
from gmi_magics.display.streaming_markdown import StreamingMarkdown


def _seconds(render: object, text: str) -> float:
    started = time.perf_counter()
    render(text)  # type: ignore[operator]
    return time.perf_counter() - started


def _streamed(text: str) -> None:
    live = StreamingMarkdown()
    for cut in (len(text) // 7, len(text) // 3, len(text) // 2, len(text) - 1, len(text)):
        live.render(text[:cut])


def main(sizes: list[int]) -> None:
    print(f"{'shape':36}" + "".join(f"{size // 1000:>7} KB" for size in sizes) + "   streamed")
    for name in MARKDOWN_SHAPES:
        times = [_seconds(markdown_to_html, markdown_shape(name, size)) for size in sizes]
        streamed = _seconds(_streamed, markdown_shape(name, sizes[-1]))
        flag = ""
        if len(times) > 1 and times[-1] > 0.2 and times[-1] > 6 * times[-2]:
            flag = "  SUPERLINEAR"
        cells = "".join(f"{t:10.3f}" for t in times)
        print(f"{name:36}{cells}{streamed:10.3f}{flag}", flush=True)


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [2_000, 8_000, 32_000, 128_000])
