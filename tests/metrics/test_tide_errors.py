"""The TIDE error breakdown on hand-made cases whose dAPs are computed by hand."""
import numpy as np
import pytest

pytest.importorskip("tidecv")

from hfc_det.metrics.tide_errors import MAIN_ERRORS, tide_errors  # noqa: E402
from helpers.coco_reference import make_gt  # noqa: E402

A, B = [10.0, 10.0, 30.0, 30.0], [60.0, 60.0, 30.0, 30.0]


def _gt():
    return make_gt([1], [{"id": 1, "image_id": 1, "category_id": 1, "bbox": A, "area": 900, "iscrowd": 0},
                         {"id": 2, "image_id": 1, "category_id": 5, "bbox": B, "area": 900, "iscrowd": 0}])


def _dets(*rows):
    return np.array([[*box, score, cat] for box, score, cat in rows], dtype=np.float64)


def test_classification_error_like_the_issue():
    """Object 1 (class 1) detected as class 9, object 2 found. AP50 is the mean over the
    classes with ground truth or detections: class 1 0, class 5 100, class 9 (one false
    positive) 0 -> 33.3. Fixing the class error gives classes 1 and 5 at 100: dAP 66.7."""
    got = tide_errors(_gt(), {"v": {1: _dets((A, 0.89, 9), (B, 0.6, 5))}}, [1])["v"]
    assert got["ap50"] == pytest.approx(100 / 3)
    assert got["main"]["Cls"] == pytest.approx(200 / 3)
    assert all(got["main"][k] == pytest.approx(0) for k in MAIN_ERRORS if k != "Cls")


def test_localisation_background_and_duplicate():
    """Class 1: one box at IoU 0.43 with its object (a localisation error) -> AP 0.
    Class 5: a background box (0.95) above the true one (0.8) and a duplicate below (0.7):
    precision 1/2 at full recall -> AP 50. mAP 25. Fixing the box: class 1 100 -> dAP 50;
    removing the background box: class 5 100 -> dAP 25; the duplicate ranks below the true
    positive and costs nothing; no object is missed."""
    shifted = [22.0, 10.0, 30.0, 30.0]  # intersection 18 x 30 = 540, union 1260
    dets = _dets((shifted, 0.9, 1), ([0.0, 70.0, 10.0, 10.0], 0.95, 5), (B, 0.8, 5), (B, 0.7, 5))
    got = tide_errors(_gt(), {"v": {1: dets}}, [1])["v"]
    assert got["ap50"] == pytest.approx(25)
    assert got["main"]["Loc"] == pytest.approx(50)
    assert got["main"]["Bkg"] == pytest.approx(25)
    assert got["main"]["Dupe"] == pytest.approx(0) and got["main"]["Miss"] == pytest.approx(0)
    assert got["main"]["Cls"] == pytest.approx(0) and got["main"]["Both"] == pytest.approx(0)


def test_missed_object_and_views_kept_apart():
    """One view finds only object 2: class 1 missed -> mAP 50, Miss dAP 50; another finds both."""
    got = tide_errors(_gt(), {"half": {1: _dets((B, 0.9, 5))}, "all": {1: _dets((A, 0.9, 1), (B, 0.9, 5))}}, [1])
    assert got["half"]["ap50"] == pytest.approx(50) and got["half"]["main"]["Miss"] == pytest.approx(50)
    assert got["all"]["ap50"] == pytest.approx(100)
    assert all(v == pytest.approx(0) for v in got["all"]["main"].values())


def test_no_ground_truth_and_no_detections():
    """No ground truth: undefined, nothing returned. A view without detections (tidecv divides
    by zero there): said so, no numbers made up."""
    empty = make_gt([1], [])
    assert tide_errors(empty, {"v": {1: _dets((A, 0.9, 1))}}, [1]) == {}
    got = tide_errors(_gt(), {"none": {}, "some": {1: _dets((A, 0.9, 1))}}, [1])
    assert got["none"]["ap50"] is None and got["none"]["main"] == {} and "no detections" in got["none"]["note"]
    assert got["some"]["ap50"] == pytest.approx(50)
