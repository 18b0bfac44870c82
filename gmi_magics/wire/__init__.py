"""The wire: HTTP, SSE, retries and the record/replay cache (the only httpx user)."""
