"""Re-take docs/img/report.png: the demo's two real nights (`backlinks demo`), their client report,
shown in headless Chromium with the network cut off, as a reader would open the file.

    .venv/bin/python docs/report_screenshot.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Route, sync_playwright

from crawler.demo.run import run_demo
from crawler.shell.render.browser import find_browser

OUT = Path(__file__).resolve().parent / "img" / "report.png"
VIEW = {"width": 1200, "height": 2300}  # the header, the counts, the trend charts and the first changes


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        report = run_demo(Path(folder), say=lambda *parts: None)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=find_browser(None))
            page = browser.new_page(viewport=VIEW)

            def offline(route: Route) -> None:
                if route.request.url == report.as_uri():
                    route.continue_()
                else:
                    raise SystemExit(f"the report asked for {route.request.url}")

            page.route("**/*", offline)
            page.goto(report.as_uri(), wait_until="load")
            page.screenshot(path=OUT)
            browser.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
