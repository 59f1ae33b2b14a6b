"""One module per scenario; each exposes ``async def run(bench) -> dict`` of its figures."""
