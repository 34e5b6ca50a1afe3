"""Preview grids of pseudo-fakes, to look at what the detector will be trained on.

Faces: columns of real UTKFace crops with, below each, its self-blend, the self-blend's mask and a
cross-blend with the identity of the face nearest in pose. Voice: log-mel spectrograms of one utterance and its fakes.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from avdetect.defaults import SAMPLE_RATE
from avdetect.pseudofakes.faces import cross_blend, nearest_pose, self_blend

if TYPE_CHECKING:
    from facenet_pytorch import MTCNN

log = logging.getLogger(__name__)

UTKFACE_ZIP = Path("faces") / "utkface-8k.zip"  # inside the shared data folder
ROW_NAMES = ("real", "self-blend", "mask", "cross-blend")
POOL = 4  # faces loaded per face shown


@dataclass(frozen=True)
class LandmarkedFace:
    """A face image with its MTCNN landmarks."""

    image: np.ndarray  # uint8 (H, W, 3) RGB
    landmarks: np.ndarray  # float32 (5, 2) x, y in image pixels


def detect_landmarks(detector: MTCNN, image: np.ndarray) -> np.ndarray | None:
    """float32 (5, 2) MTCNN landmarks of the most likely face in `image`, or None when none is found.

    facenet-pytorch's MTCNN crops only the in-image part of a candidate box for its refinement stages,
    so on tight crops (face touching the border, as in UTKFace) the landmarks come out stretched. A grey
    border of a third of the side keeps the whole box inside the image.
    """
    pad = max(image.shape[:2]) // 3
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), constant_values=128)
    _, _, landmarks = detector.detect(Image.fromarray(padded), landmarks=True)
    if landmarks is None:
        return None
    return np.asarray(landmarks[0], np.float32) - pad


def load_utkface(data_dir: Path, n: int, rng: np.random.Generator) -> list[LandmarkedFace]:
    """Up to `n` random UTKFace crops from `data_dir` with MTCNN landmarks; faces MTCNN misses are skipped."""
    from facenet_pytorch import MTCNN  # loads weights: only when a preview is asked for

    detector = MTCNN(keep_all=False, device="cpu")
    faces: list[LandmarkedFace] = []
    with zipfile.ZipFile(data_dir / UTKFACE_ZIP) as archive:
        names = sorted(name for name in archive.namelist() if name.endswith(".jpg"))
        for index in rng.permutation(len(names))[: 3 * n]:
            image = np.asarray(Image.open(io.BytesIO(archive.read(names[index]))).convert("RGB"))
            landmarks = detect_landmarks(detector, image)
            if landmarks is None:
                log.info("MTCNN found no face in %s, skipped", names[index])
                continue
            faces.append(LandmarkedFace(image, landmarks))
            if len(faces) == n:
                break
    return faces


def _mask_image(mask: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) grey rendering of a float mask in [0, 1]."""
    return np.repeat(np.rint(mask * 255).astype(np.uint8)[..., None], 3, axis=2)


def face_rows(faces: list[LandmarkedFace], n: int, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Rows real / self-blend / mask / cross-blend of the first `n` faces.

    Each cross-blend takes the identity of the face nearest in pose among all the others (Face X-ray).
    """
    rows: list[list[np.ndarray]] = [[], [], [], []]
    for i, face in enumerate(faces[:n]):
        others = [f for j, f in enumerate(faces) if j != i]
        other = others[nearest_pose(face.landmarks, np.stack([f.landmarks for f in others]))]
        sbi = self_blend(face.image, face.landmarks, rng)
        cross = cross_blend(face.image, face.landmarks, other.image, other.landmarks, rng)
        for row, tile in zip(rows, (face.image, sbi.image, _mask_image(sbi.mask), cross.image)):
            row.append(tile)
    return rows


def grid(rows: list[list[np.ndarray]], names: tuple[str, ...], *, tile: tuple[int, int], label_px: int = 90) -> Image.Image:
    """One image of `rows` of tiles, each resized to `tile` (width, height) pixels, row names on the left."""
    n_cols = max(len(r) for r in rows)
    width, height = tile
    canvas = Image.new("RGB", (label_px + n_cols * width, len(rows) * height), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (row, name) in enumerate(zip(rows, names)):
        draw.text((4, r * height + height // 2 - 6), name, fill="black")
        for c, image in enumerate(row):
            pil = Image.fromarray(image).resize(tile, Image.Resampling.LANCZOS)
            canvas.paste(pil, (label_px + c * width, r * height))
    return canvas


def face_preview(data_dir: Path, out: Path, *, n: int = 6, seed: int = 0, tile: int = 128) -> Path:
    """Write the face pseudo-fake grid of `n` UTKFace crops to `out` (PNG) and return its path."""
    rng = np.random.default_rng(seed)
    faces = load_utkface(data_dir, POOL * n, rng)  # a pool to find each face a source of similar pose
    if len(faces) < 2:
        raise ValueError(f"need at least 2 faces with landmarks for a preview, found {len(faces)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    grid(face_rows(faces, n, rng), ROW_NAMES, tile=(tile, tile)).save(out, optimize=True)
    return out


def _log_mel_image(y: np.ndarray, *, sample_rate: int = SAMPLE_RATE, n_mels: int = 80) -> np.ndarray:
    """uint8 (n_mels, T, 3) log-mel spectrogram, low frequencies at the bottom, 80 dB range, heat colours."""
    import torch
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=1024, hop_length=160, n_mels=n_mels)
    with torch.no_grad():
        db = 10.0 * torch.log10(mel(torch.from_numpy(np.ascontiguousarray(y))) + 1e-10).numpy()
    level = np.clip((db - db.max() + 80.0) / 80.0, 0.0, 1.0)[::-1]
    stops = np.array([[0, 0, 0], [90, 0, 120], [230, 60, 30], [255, 230, 90], [255, 255, 255]], np.float32)
    at = level * (len(stops) - 1)
    low = np.minimum(at.astype(int), len(stops) - 2)
    colour = stops[low] + (at - low)[..., None] * (stops[low + 1] - stops[low])
    return colour.astype(np.uint8)


def _mark_segments(image: np.ndarray, segments: np.ndarray, duration_s: float) -> np.ndarray:
    """Copy of a spectrogram image with a cyan bar over the columns of each (start, end) segment."""
    out = image.copy()
    for start, end in segments:
        a, b = (int(round(t / duration_s * image.shape[1])) for t in (start, end))
        out[:4, a:b] = (0, 255, 255)
    return out


def voice_preview(data_dir: Path, out: Path, *, seed: int = 0, seconds: float = 4.0) -> Path:
    """Write log-mel spectrograms of a LibriSpeech utterance, its voice fakes, a splice and two codecs."""
    from avdetect.perception.video import load_audio
    from avdetect.pseudofakes.codecs import codec_roundtrip
    from avdetect.pseudofakes.voice import VOICE_FAKERS, griffin_lim, splice, voice_fake

    rng = np.random.default_rng(seed)
    paths = sorted((data_dir / "speech" / "librispeech").glob("*.flac"))
    if not paths:
        raise ValueError(f"no LibriSpeech .flac files under {data_dir / 'speech' / 'librispeech'}")
    y = load_audio(paths[int(rng.integers(len(paths)))])[: int(seconds * SAMPLE_RATE)]
    named = {"real": y} | {name: voice_fake(name, y, rng) for name in VOICE_FAKERS}
    spliced, segments = splice(y, griffin_lim(y), rng)
    images = [_log_mel_image(a) for a in named.values()]
    images.append(_mark_segments(_log_mel_image(spliced), segments, len(y) / SAMPLE_RATE))
    images += [_log_mel_image(codec_roundtrip(y, c)) for c in ("mp3", "telephone")]
    names = (*named, "splice (gl)", "mp3 24k", "telephone")
    out.parent.mkdir(parents=True, exist_ok=True)
    grid([[im] for im in images], names, tile=(images[0].shape[1], 80)).save(out, optimize=True)
    return out
