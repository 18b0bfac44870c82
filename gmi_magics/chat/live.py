"""``LiveReply``: feeds one turn's deltas and tool results to a ``Renderer``.

Cells and the chat panel both stream through it, so both show the same thing: the
renderer starts on the first delta (a failure before it shows no stub), the text the
model said before its tool calls stays above the final answer, and so does the
reasoning of every round, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..tools.registry import ToolResult
from ..types import Delta, Renderer, Reply, ToolBlock


class LiveReply:
    """One reply on its way to ``renderer``."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.started = False
        self._round: list[str] = []  # answer text of the current request round
        self._round_reasoning: list[str] = []
        self._earlier: list[str] = []  # text of rounds that ended in tool calls
        self._earlier_reasoning: list[str] = []  # their reasoning, in order

    def update(self, delta: Delta) -> None:
        """A streamed delta of the current round."""
        if not self.started:
            self._start()
        if delta.content or delta.reasoning:
            self._round.append(delta.content)
            self._round_reasoning.append(delta.reasoning)
            self.renderer.update(delta.content, delta.reasoning)

    def tool(self, result: ToolResult) -> None:
        """A tool call of this turn has run: its round's text and reasoning are done."""
        self._start()
        said = "".join(self._round).strip()
        thought = "".join(self._round_reasoning).strip()
        if said:
            self._earlier.append(said)
        if thought:
            self._earlier_reasoning.append(thought)
        if said or thought:  # the next round starts a new paragraph
            self.renderer.update("\n\n" if said else "", "\n\n" if thought else "")
        self._round, self._round_reasoning = [], []
        call = result.call
        self.renderer.tool(
            ToolBlock(call.name, call.arguments, result.output, result.seconds, result.error)
        )

    def finish(self, reply: Reply, notes: Sequence[str] = (), error: str = "") -> Reply:
        """Show the reply with what every earlier round said and thought kept above it.

        Returns the reply as shown (all rounds), e.g. for ``-o``.
        """
        self._start()
        if self._earlier or self._earlier_reasoning:
            text = "\n\n".join([*self._earlier, reply.text]).strip()
            reasoning = "\n\n".join([*self._earlier_reasoning, reply.reasoning]).strip()
            reply = replace(reply, text=text, reasoning=reasoning)
        self.renderer.finish(reply, notes=notes, error=error)
        return reply

    def _start(self) -> None:
        if not self.started:
            self.renderer.start()
            self.started = True
