"""16-bit and float images reach the model scaled from their real range (16 bits / 257,
[0, 1] floats x 255), never clipped; images whose range is unknown are refused in one line.
Each file is written from a known 8-bit picture, so the expected pixels are that picture."""
import numpy as np
import pytest
from PIL import Image

from hfc_det.utils.image_decoding import UnsupportedImageError, needs_rescaling, read_rgb, to_eight_bit_range

cv2 = pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def picture():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    rgb[0, 0], rgb[0, 1] = 0, 255  # both ends of the range
    return rgb


def _gray(rgb):
    return rgb[:, :, 1]


def test_eight_bit_files_are_pillows_own_conversion(tmp_path, picture):
    Image.fromarray(picture).save(tmp_path / "rgb.png")
    Image.fromarray(_gray(picture)).save(tmp_path / "gray.png")
    assert not needs_rescaling(tmp_path / "rgb.png") and not needs_rescaling(tmp_path / "gray.png")
    got = read_rgb(tmp_path / "rgb.png")
    assert got.dtype == np.uint8 and np.array_equal(got, picture)
    assert np.array_equal(read_rgb(tmp_path / "gray.png"), np.repeat(_gray(picture)[:, :, None], 3, 2))


def test_sixteen_bit_grayscale_png(tmp_path, picture):
    path = tmp_path / "gray16.png"
    Image.fromarray(_gray(picture).astype(np.uint16) * 257).save(path)
    assert Image.open(path).mode == "I;16" and needs_rescaling(path)
    # what Pillow's convert("RGB") makes of it: every non-black pixel clipped to white
    clipped = np.asarray(Image.open(path).convert("RGB"))
    assert (clipped[_gray(picture) > 0] == 255).all()
    got = read_rgb(path)
    assert got.dtype == np.float32 and np.array_equal(got, np.repeat(_gray(picture)[:, :, None], 3, 2))


def test_sixteen_bit_rgb_png(tmp_path, picture):
    path = tmp_path / "rgb16.png"
    sixteen = picture.astype(np.uint16) * 257 + 100  # low bytes Pillow would drop
    assert cv2.imwrite(str(path), sixteen[:, :, ::-1])
    assert needs_rescaling(path)
    np.testing.assert_allclose(read_rgb(path), sixteen / 257.0, rtol=0, atol=1e-4)


def test_float_tiffs_in_0_1(tmp_path, picture):
    gray = tmp_path / "gray_float.tif"
    Image.fromarray((_gray(picture) / 255.0).astype(np.float32)).save(gray)  # mode F
    assert Image.open(gray).mode == "F"
    assert np.array_equal(read_rgb(gray), np.repeat(_gray(picture)[:, :, None], 3, 2).astype(np.float32))
    tifffile = pytest.importorskip("tifffile")
    rgb = tmp_path / "rgb_float.tif"
    tifffile.imwrite(rgb, (picture / 255.0).astype(np.float32), photometric="rgb")
    assert needs_rescaling(rgb)
    assert np.array_equal(read_rgb(rgb), picture.astype(np.float32))


@pytest.mark.parametrize("values, why", [
    (np.linspace(0, 4, 30 * 20, dtype=np.float32).reshape(20, 30), "in [0, 4], not in [0, 1]"),
    (np.linspace(-1, 1, 30 * 20, dtype=np.float32).reshape(20, 30), "in [-1, 1], not in [0, 1]"),
    (np.full((20, 30), np.nan, np.float32), "NaN or infinite"),
])
def test_float_images_of_unknown_range_are_refused(tmp_path, values, why):
    path = tmp_path / "bad.tif"
    Image.fromarray(values).save(path)
    with pytest.raises(UnsupportedImageError, match=why.replace("[", r"\[").replace("]", r"\]")) as exc:
        read_rgb(path)
    assert "\n" not in str(exc.value)


def test_32_bit_integer_images_are_refused(tmp_path):
    path = tmp_path / "int32.tif"
    Image.fromarray(np.arange(600, dtype=np.int32).reshape(20, 30) * 1000).save(path)
    with pytest.raises(UnsupportedImageError, match="32-bit integer"):
        read_rgb(path)


def test_to_eight_bit_range_never_clips():
    assert to_eight_bit_range(np.array([0, 257, 65535], np.uint16)).tolist() == [0.0, 1.0, 255.0]
    assert to_eight_bit_range(np.array([0.0, 0.5, 1.0])).tolist() == [0.0, 127.5, 255.0]
    with pytest.raises(UnsupportedImageError):
        to_eight_bit_range(np.array([0.0, 1.5]))
