#!/usr/bin/env python3
"""Regenerate screenshots/ — one PNG (and SVG) per wizard screen — from the same app states as the
snapshot tests (tests/test_tui_support.py): real git fixtures, one real pipeline run with the stand-in
builder and the fake Hub, a fixed environment report. ``App.run_test`` + ``save_screenshot`` (SVG), then
SVG → PNG with cairosvg when it is installed (``pip install -e '.[screenshots]'``).

    .venv/bin/python scripts/make_screenshots.py [--size 100x32] [--out screenshots] [--theme textual-light]
"""

from __future__ import annotations

import argparse
import os
import asyncio
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASE = Path("/tmp/lmi-wizard-shots")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


async def shoot(prep: dict, screen: str, size: tuple[int, int], out: Path, theme: str | None) -> Path:
    from tests.support.tui import screen_app, settle_screen

    app = screen_app(prep, screen)
    async with app.run_test(size=size) as pilot:
        if theme:
            app.theme = theme
        await settle_screen(pilot)
        svg = out / f"{SCREEN_FILES[screen]}.svg"
        app.save_screenshot(filename=svg.name, path=str(out))
    return svg


SCREEN_FILES = {"environment": "1-environment", "environment-no-gpu": "1b-environment-no-gpu",
                "checkout": "2-checkout", "model": "3-model", "build": "4-build-flags",
                "triton": "5-triton-config", "destination": "6-tokenizer-destination", "review": "7-review",
                "run": "8-run", "done": "9-done"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="100x32")
    p.add_argument("--out", default=str(ROOT / "screenshots"))
    p.add_argument("--theme", default=None)
    args = p.parse_args(argv)
    w, h = (int(x) for x in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from tests.hubserver import FakeHub, baichuan_repo
    from tests.support.tui import SCREENS, make_remotes, prepare_screens

    shutil.rmtree(BASE, ignore_errors=True)
    BASE.mkdir(parents=True)
    try:
        import cairosvg  # type: ignore
    except ImportError:
        cairosvg = None
        print("cairosvg not installed: writing SVG only (pip install cairosvg)", file=sys.stderr)
    with FakeHub([baichuan_repo()]) as hub:
        prep = prepare_screens(BASE, make_remotes(BASE / "remotes"), hub)
        for screen in SCREENS:
            svg = asyncio.run(shoot(prep, screen, (w, h), out, args.theme))
            if cairosvg is not None:
                png = svg.with_suffix(".png")
                cairosvg.svg2png(url=str(svg), write_to=str(png))
                print(png)
            else:
                print(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
