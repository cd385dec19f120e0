"""Debian's headless Chromium for the browser tests (the report page, the docs site).

Playwright drives /usr/bin/chromium (``apt-get install -y chromium``); no browser is
downloaded. Tests that need it are skipped, with the reason, only when it is missing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HFC_DET_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason=f"no Chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (as root)",
)
