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


def test_rgb_images_are_the_decoded_pixels_and_hold_no_open_file(tmp_path: Path):
    """The RGB fast path (no copy) gives the same pixels as convert("RGB"), for a JPEG file, PNG
    bytes and a two-frame MPO (which alone keeps its file open, so it is copied)."""
    jpeg = tmp_path / "rgb.jpg"
    Image.effect_noise((64, 48), 60).convert("RGB").save(jpeg, quality=90)
    png = io.BytesIO()
    Image.effect_noise((16, 12), 60).convert("RGB").save(png, format="PNG")
    mpo = tmp_path / "two.mpo"
    frames = [Image.new("RGB", (8, 6), c) for c in ("red", "blue")]
    frames[0].save(mpo, format="MPO", save_all=True, append_images=frames[1:])
    for source in (
        ImageSource("a", path=str(jpeg)),
        ImageSource("b", data=png.getvalue()),
        ImageSource("c", path=str(mpo)),
    ):
        image = load_rgb(source, "1")
        with Image.open(source.path or io.BytesIO(source.data)) as reference:
            assert image.tobytes() == reference.convert("RGB").tobytes()
        assert image.mode == "RGB"
        if source.path is not None:
            assert getattr(image, "fp", None) is None  # the file is closed: a cache of images holds no handles
