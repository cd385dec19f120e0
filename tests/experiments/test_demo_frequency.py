"""The foundation demo on bundled photos: pictures plus numbers from the float split."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hfc_det.views.frequency import split_frequencies
from hfc_det.utils.sample_images import bundled_photos

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_photos_are_rgb_uint8():
    photos = bundled_photos(["camera", "china"])
    assert set(photos) == {"camera", "china"}
    for img in photos.values():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    with pytest.raises(ValueError, match="unknown"):
        bundled_photos(["no_such_photo"])


def test_demo_frequency_writes_pictures_and_summary(tmp_path):
    out = tmp_path / "freq"
    subprocess.run([sys.executable, str(ROOT / "tools/demo_frequency.py"), "--output", str(out),
                    "--radii", "8", "400", "--photos", "coffee"], check=True, capture_output=True)
    assert (out / "coffee.png").stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    rows = summary["photos"]["coffee"]["rows"]
    img = bundled_photos(["coffee"])["coffee"].astype(np.float64).transpose(2, 0, 1)
    low, high = split_frequencies(img, 8)
    assert rows[0]["lfc_range"] == pytest.approx([low.min(), low.max()], abs=1e-3)
    assert rows[0]["hfc_abs_max"] == pytest.approx(np.abs(high).max(), abs=1e-3)
    assert rows[1]["keeps_whole_spectrum"] is True  # 400 > the largest distance of 400x600 (360.6)
    assert not list(out.glob("*.tmp"))


def test_demo_frequency_bad_radius_is_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools/demo_frequency.py"), "--output",
                           str(tmp_path / "x"), "--radii", "-3"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr
