"""Tests for L{hotline.grid.photos}: photos are checked, resized, stripped and kept by hash."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from hotline.grid.exceptions import PhotoRejected
from hotline.grid.photos import PhotoStore


def jpeg(width: int = 2400, height: int = 1800, *, exif: bool = True) -> bytes:
    """A camera-like JPEG with EXIF (a GPS-bearing tag stands for what phones write)."""
    image = Image.new("RGB", (width, height), (120, 160, 200))
    out = io.BytesIO()
    info = Image.Exif()
    if exif:
        info[0x010F] = "PhoneMaker"  # Make
        info[0x0112] = 6             # Orientation: rotate 90° clockwise to show upright
    image.save(out, "JPEG", exif=info.tobytes(), quality=90)
    return out.getvalue()


def test_photo_is_resized_upright_and_without_exif(tmp_path) -> None:
    """A 2400x1800 photo taken sideways is kept upright, 1600 px on its longer side, as a
    JPEG without EXIF, under its SHA-256."""
    store = PhotoStore(tmp_path)
    photo, body = store.prepare(jpeg())
    store.keep(photo, body)
    kept = Image.open(io.BytesIO(store.read(photo.sha256)))
    assert (photo.width, photo.height) == kept.size == (1200, 1600)
    assert kept.format == "JPEG" and not kept.getexif()
    assert store.path(photo.sha256).parent.name == photo.sha256[:2]


def test_same_photo_twice_is_one_file(tmp_path) -> None:
    """Sending the same photo again keeps one file with the same hash."""
    store = PhotoStore(tmp_path)
    first, body = store.prepare(jpeg(800, 600))
    second, again = store.prepare(jpeg(800, 600))
    store.keep(first, body)
    store.keep(second, again)
    assert first.sha256 == second.sha256
    assert len(list(tmp_path.rglob("*.jpg"))) == 1


@pytest.mark.parametrize("data, why", [
    (b"", "empty"), (b"GIF89a not really", "not a readable image"),
    (b"%PDF-1.4 hello", "not a readable image")])
def test_what_is_not_a_photo_is_refused(tmp_path, data: bytes, why: str) -> None:
    """Empty files and files that are not images are refused, saying so."""
    with pytest.raises(PhotoRejected, match=why):
        PhotoStore(tmp_path).prepare(data)


def test_too_large_and_other_formats_are_refused(tmp_path) -> None:
    """A photo over the byte limit, a GIF and an image over the pixel limit are refused."""
    with pytest.raises(PhotoRejected, match="at most 1000"):
        PhotoStore(tmp_path, max_bytes=1000).prepare(jpeg(800, 600))
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(PhotoRejected, match="GIF"):
        PhotoStore(tmp_path).prepare(gif.getvalue())
    with pytest.raises(PhotoRejected, match="too many pixels"):
        PhotoStore(tmp_path, max_pixels=100).prepare(jpeg(800, 600, exif=False))


def test_paths_are_hashes_only(tmp_path) -> None:
    """Anything but a hex SHA-256 is not a photo path (no ../ through a photo id)."""
    with pytest.raises(ValueError):
        PhotoStore(tmp_path).path("../../etc/passwd")
