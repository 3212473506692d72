"""Images open whatever their mode or extension; broken ones fail naming file and sample."""

import io
from pathlib import Path

import pytest
from PIL import Image

from blip2_bench.errors import BadInputError
from blip2_bench.images import load_rgb
from blip2_bench.types import ImageSource


def _save(path: Path, mode: str, fmt: str) -> Path:
    Image.new(mode, (8, 6)).save(path, format=fmt)
    return path


@pytest.mark.parametrize("mode, fmt", [("L", "JPEG"), ("CMYK", "JPEG"), ("RGBA", "PNG"), ("P", "PNG")])
def test_any_mode_or_misnamed_file_becomes_rgb(tmp_path: Path, mode, fmt):
    path = _save(tmp_path / "x.jpg", mode, fmt)  # PNG bytes named .jpg, as in real COCO
    image = load_rgb(ImageSource("k", path=str(path)), "7")
    assert image.mode == "RGB" and image.size == (8, 6)


def test_bytes_source():
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, format="PNG")
    assert load_rgb(ImageSource("k", data=buf.getvalue()), "1").mode == "RGB"


def test_truncated_corrupt_and_missing_images_fail_with_file_and_sample(tmp_path: Path):
    good = _save(tmp_path / "g.jpg", "RGB", "JPEG").read_bytes()
    (tmp_path / "t.jpg").write_bytes(good[: len(good) // 2])
    (tmp_path / "c.jpg").write_bytes(b"not an image")
    for name, message in [
        ("t.jpg", "corrupt or unreadable"),
        ("c.jpg", "corrupt or unreadable"),
        ("m.jpg", "image not found"),
    ]:
        with pytest.raises(BadInputError, match=rf"{message}.*{name} \(sample 42\)"):
            load_rgb(ImageSource("k", path=str(tmp_path / name)), "42")
