"""Regenerate the README's screenshots: ``make screenshots`` (or ``.venv/bin/python
scripts/screenshots.py``).

Starts the real ``server.py --demo`` in a temporary directory (its own demo database, so the
charts hold only what this run stored) with eight exchanges x four pairs (USD venues on
BTC/ETH/SOL/XRP-USD, the USDT venues on the same bases against USDT), lets it run for
``--warmup`` seconds (60), then takes, in Debian's headless Chromium:

- ``docs/img/wall.png``: the wall view at 1920x1080 (``--wall-query``, default a 15-minute chart
  span so the charts are full after a minute of demo);
- ``docs/img/phone.png``: a 390x844 phone, the top of its one-column page.

Then stops the server. PNGs are written with 256-colour palettes when Pillow is installed
(``--no-palette`` keeps Chromium's own), which keeps them a commit-friendly size.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.browser import (  # noqa: E402  (after the path is set)
    CHROMIUM_ARGS,
    Child,
    child_env,
    chromium_executable,
    free_port,
    get_json,
    spawn,
    wait_for,
)

USD_VENUES = ("bitfinex", "coinbase", "kraken", "bitstamp", "gemini")
USDT_VENUES = ("binance", "okx", "bybit")
BASES = ("BTC", "ETH", "SOL", "XRP")
DEMO_ENV = {
    "EXCHANGES": ",".join(USD_VENUES + USDT_VENUES),
    "PAIRS": ",".join(f"{base}-USD" for base in BASES),
    **{f"{name.upper()}_PAIRS": ",".join(f"{base}-USDT" for base in BASES)
       for name in USDT_VENUES},
}
FEEDS = len(USD_VENUES + USDT_VENUES) * len(BASES)
READY_JS = f"""() => document.body.dataset.connection === "connected"
    && document.querySelectorAll('#board tr.venue[data-state="live"]').length === {FEEDS}
    && document.querySelectorAll("#board td.last[data-value]").length === {FEEDS}"""


def start_demo(workdir: Path) -> tuple[Child, str]:
    port = free_port()
    env = child_env({"HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING",
                     **DEMO_ENV})
    server = spawn("server", [sys.executable, str(ROOT / "server.py"), "--demo"], workdir, env)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if server.popen.poll() is not None:
            raise RuntimeError(f"server exited:\n{server.output_tail()}")
        return get_json(f"{url}/healthz", timeout=2).get("status") == "ok"

    wait_for(healthy, 30, "the server's /healthz")
    return server, url


def shoot(url: str, out: Path, size: tuple[int, int], timeout: float = 60) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(),
                                             args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                          device_scale_factor=1)
            page = context.new_page()
            page.goto(url)
            page.wait_for_function(READY_JS, timeout=timeout * 1000)
            # a first click, as a person would make: the page's one-time "click to allow alert
            # sounds" note goes away (the title is plain text: the click does nothing else)
            page.click(".dash-title")
            page.wait_for_timeout(2500)  # the charts' 2-second render, the ages, a fit
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
        finally:
            browser.close()


def palette(path: Path) -> bool:
    """Rewrite a PNG with a 256-colour palette (Pillow), if Pillow is installed."""
    try:
        from PIL import Image
    except ImportError:
        return False
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                              dither=Image.Dither.NONE)
    small.save(path, optimize=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/screenshots.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img",
                        help="where wall.png and phone.png go (docs/img)")
    parser.add_argument("--warmup", type=float, default=60,
                        help="seconds of demo before the screenshots (60)")
    parser.add_argument("--wall-query", default="?span=15m",
                        help="URL parameters of the wall view (?span=15m)")
    parser.add_argument("--phone-query", default="", help="URL parameters of the phone view")
    parser.add_argument("--no-palette", action="store_true",
                        help="keep Chromium's full-colour PNGs")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop the server
    workdir = Path(tempfile.mkdtemp(prefix="screenshots-"))
    server: Child | None = None
    try:
        server, url = start_demo(workdir)
        print(f"demo on {url} ({FEEDS} feeds); warming up for {args.warmup:g} s", flush=True)
        time.sleep(args.warmup)
        for name, size, query in (("wall", (1920, 1080), args.wall_query),
                                  ("phone", (390, 844), args.phone_query)):
            out = args.out / f"{name}.png"
            shoot(url + query, out, size)
            reduced = not args.no_palette and palette(out)
            print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: "
                  f"{size[0]}x{size[1]}, {out.stat().st_size / 1024:.0f} KiB"
                  f"{', 256 colours' if reduced else ''}", flush=True)
    finally:
        if server is not None:
            server.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
