"""Still face images (a folder or a zip of photos, e.g. UTKFace's aligned chips) as extra real faces for the
visual branch: each image's face found by MTCNN, the image kept as the crop with its five landmarks, so
that training can blend pseudo-fakes into it like into a video's crops.

Thousands of identities that talking videos cannot give: the blends a CNN learns from need many faces to
tell blending from identity (`benchmarks/visual_dfdc_crops.py`: 2,400 -> 8,000 UTKFace identities lifted
DFDC crops from frame AUC 0.671 to 0.709). `avdetect face-images SOURCE -o faces.npz` writes the file that
`avdetect train visual --extra-reals` reads.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from avdetect.defaults import CROP_SIZE
from avdetect.errors import InputError, ModelFileError
from avdetect.perception.faces import crop, expand_box

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
PAD = 100  # pixels of black around a tight aligned chip before detection: MTCNN's boxes go astray at the border


@dataclass(frozen=True)
class FaceImages:
    """Face images ready for training; one row per image."""

    names: np.ndarray  # str (N,) where each image came from (a file name in the source)
    crops: np.ndarray  # uint8 (N, S, S, 3) RGB, the whole image resized
    landmarks: np.ndarray  # float32 (N, 5, 2) MTCNN's five landmarks in crop pixels

    def __len__(self) -> int:
        return len(self.names)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            np.savez(f, names=self.names.astype(str), crops=self.crops, landmarks=self.landmarks)
        return path

    @classmethod
    def load(cls, path: Path) -> FaceImages:
        """Raises InputError (no such file) or ModelFileError (not a file `save` wrote)."""
        if not Path(path).is_file():
            raise InputError(f"{path}: no such face-images file (make one with `avdetect face-images`)")
        try:
            with np.load(path, allow_pickle=False) as z:
                faces = cls(z["names"], z["crops"], z["landmarks"].astype(np.float32))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            raise ModelFileError(f"{path}: not a face-images file ({e})") from e
        if faces.crops.dtype != np.uint8 or faces.crops.ndim != 4 or faces.landmarks.shape[1:] != (5, 2):
            raise ModelFileError(f"{path}: not a face-images file (crops {faces.crops.dtype} {faces.crops.shape})")
        return faces


def list_images(source: Path) -> list[str]:
    """Sorted image names in a folder (relative paths, searched recursively) or a zip file."""
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as z:
            names = z.namelist()
    elif source.is_dir():
        names = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
    else:
        raise InputError(f"{source}: neither a folder nor a zip file of images")
    return sorted(n for n in names if n.lower().endswith(IMAGE_SUFFIXES))


def spread(names: Sequence[str], n: int | None) -> list[str]:
    """`n` names evenly spread over `names` (all when n is None or larger)."""
    if n is None or n >= len(names):
        return list(names)
    return [names[i] for i in np.linspace(0, len(names) - 1, n).round().astype(int)]


def read_images(source: Path, names: Sequence[str]) -> Iterator[tuple[str, np.ndarray | None]]:
    """(name, uint8 RGB array or None when it is not a readable image) of each name, in order."""
    archive = zipfile.ZipFile(source) if zipfile.is_zipfile(source) else None
    try:
        for name in names:
            data = archive.read(name) if archive else (source / name).read_bytes()
            try:
                yield name, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            except (UnidentifiedImageError, OSError):
                yield name, None
    finally:
        if archive:
            archive.close()


def detect_faces(images: Iterator[tuple[str, np.ndarray | None]], *, size: int = CROP_SIZE, margin: bool = False,
                 min_prob: float = 0.95, batch: int = 64, detector=None) -> tuple[FaceImages, list[str]]:
    """The images with a confident face (MTCNN's best, probability >= `min_prob`) as `size` crops with their
    landmarks, and the names left out (unreadable, no face or a doubtful one).

    The crop is the whole image (tight aligned chips such as UTKFace's: a margin would only add black), or
    with `margin` the face box grown by the video crops' margin (`FACE_MARGIN`), as `avdetect.perception`
    crops a video's faces: for ordinary photos. `detector` is anything with facenet-pytorch's
    ``MTCNN.detect(images, landmarks=True)``; default MTCNN on the CPU. Images are detected in batches of
    one size.
    """
    if detector is None:
        import torch
        from facenet_pytorch import MTCNN

        detector = MTCNN(keep_all=False, min_face_size=40, device=torch.device("cpu"))
    kept: dict[str, list] = {"names": [], "crops": [], "landmarks": []}
    skipped: list[str] = []
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        for shape in {image.shape for _, image in pending}:
            same = [(n, im) for n, im in pending if im.shape == shape]
            padded = np.stack([np.pad(im, ((PAD, PAD), (PAD, PAD), (0, 0))) for _, im in same])
            boxes, probs, marks = detector.detect(padded, landmarks=True)
            for (name, image), box, prob, mark in zip(same, boxes, probs, marks):
                if prob is None or prob[0] is None or prob[0] < min_prob:
                    skipped.append(name)
                    continue
                h, w = image.shape[:2]
                points = np.asarray(mark[0], np.float32) - PAD
                if margin:
                    square = expand_box(np.asarray(box[0], np.float32) - PAD)
                    image, points = crop(image, square, size), (points - square[:2]) * size / (square[2] - square[0])
                else:
                    image = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
                    points = points * np.array([size / w, size / h], np.float32)
                kept["names"].append(name)
                kept["crops"].append(image)
                kept["landmarks"].append(points.astype(np.float32))
        pending.clear()

    for name, image in images:
        if image is None:
            skipped.append(name)
            continue
        pending.append((name, image))
        if len(pending) == batch:
            flush()
    flush()
    if not kept["names"]:
        return FaceImages(np.array([], dtype=str), np.zeros((0, size, size, 3), np.uint8),
                          np.zeros((0, 5, 2), np.float32)), skipped
    return FaceImages(np.array(kept["names"], dtype=str), np.stack(kept["crops"]),
                      np.stack(kept["landmarks"]).astype(np.float32)), skipped
