# -*- test-case-name: tests.grid.test_photos -*-
"""Photos from grid workers' phones: checked, resized, stored once under the state directory
by their content hash.

Every photo is decoded by Pillow (a file that is not an image we know is refused, so is a
decompression bomb), turned upright by its EXIF orientation, scaled down to ``max_px`` on its
longer side and written again as JPEG: what is kept has no EXIF (no GPS trail, no phone model)
and a bounded size. The file name is the SHA-256 of what is kept, so the same photo sent twice
is one file. Reading a photo back is the web layer's job, after it checked the ticket may be
seen.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from hotline.grid.exceptions import PhotoRejected

__all__ = ["StoredPhoto", "PhotoStore", "ACCEPTED_FORMATS"]

#: What phones and browsers send: camera JPEGs, screenshots, canvas exports.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
_SHA = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class StoredPhoto:
    """A photo as kept: its hash (and file name), type, size in pixels and bytes."""

    sha256: str
    content_type: str
    width: int
    height: int
    size: int


class PhotoStore:
    """The photo folder: ``root/ab/abcdef….jpg``.

    ``max_bytes`` bounds what is accepted from the phone, ``max_px`` the longer side kept,
    ``max_pixels`` what Pillow may decode at all.
    """

    def __init__(self, root: Path, *, max_bytes: int = 5_000_000, max_px: int = 1600,
                 max_pixels: int = 50_000_000, quality: int = 82) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_px = max_px
        self.max_pixels = max_pixels
        self.quality = quality

    def prepare(self, data: bytes, *, name: str = "photo") -> tuple[StoredPhoto, bytes]:
        """Check and re-encode a photo without storing it. Raises PhotoRejected."""
        if not data:
            raise PhotoRejected(f"{name} is empty", {"photo": name})
        if len(data) > self.max_bytes:
            raise PhotoRejected(f"{name} is {len(data)} bytes; at most {self.max_bytes}",
                                {"photo": name, "bytes": len(data), "max": self.max_bytes})
        try:
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in ACCEPTED_FORMATS:
                    raise PhotoRejected(f"{name} is {fmt}; send JPEG, PNG or WebP",
                                        {"photo": name, "format": fmt})
                if probe.width * probe.height > self.max_pixels:
                    raise PhotoRejected(f"{name} has too many pixels "
                                        f"({probe.width}×{probe.height})", {"photo": name})
                probe.load()
                image = ImageOps.exif_transpose(probe)
                image.thumbnail((self.max_px, self.max_px))
                if image.mode not in ("RGB", "L"):
                    image = image.convert("RGB")
                out = io.BytesIO()
                image.save(out, "JPEG", quality=self.quality, optimize=True)
                width, height = image.size
        except PhotoRejected:
            raise
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
                SyntaxError) as e:
            raise PhotoRejected(f"{name} is not a readable image ({e.__class__.__name__})",
                                {"photo": name}) from None
        body = out.getvalue()
        digest = hashlib.sha256(body).hexdigest()
        return StoredPhoto(digest, "image/jpeg", width, height, len(body)), body

    def path(self, sha256: str) -> Path:
        """Where the photo with this hash lives (ValueError for anything but a hash)."""
        if not _SHA.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def keep(self, photo: StoredPhoto, body: bytes) -> None:
        """Write a prepared photo (atomically; a photo already there is left as it is)."""
        target = self.path(photo.sha256)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, sha256: str) -> bytes:
        """The stored photo's bytes (FileNotFoundError when it is not there)."""
        return self.path(sha256).read_bytes()
