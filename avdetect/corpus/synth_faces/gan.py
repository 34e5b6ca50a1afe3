"""Faces of people who do not exist (MobileStyleGAN, Belousov 2021) and GAN-face swaps into real crops.

The `random-face==2021.7.21.1` wheel ships the network as OpenVINO IR files (mapping and synthesis, 1024 px
RGB in [-1, 1]). Its Python package is never imported (its `__init__` pulls gdown and an OpenVINO API that
no longer exists): the files are found with `importlib.util.find_spec` and run with `openvino.Core`.

    pip install --no-deps random-face==2021.7.21.1 && pip install openvino==2026.4.1
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avdetect.errors import EngineMissingError

INSTALL = "pip install --no-deps random-face==2021.7.21.1 && pip install openvino==2026.4.1"
STYLE_DIM = 512  # MobileStyleGAN's latent and style width


@dataclass(frozen=True)
class GanFaceConfig:
    """Options of the face generator.

    Attributes:
        truncation: pull of each style towards the mean style (StyleGAN's psi): lower is more typical
            and cleaner, 1 is the full, odder distribution.
        mean_samples: latents averaged for the mean style.
        threads: OpenVINO inference threads (CPU).
    """

    truncation: float = 0.7
    mean_samples: int = 1024
    threads: int = 1


def model_files() -> tuple[Path, Path]:
    """(mapping .xml, synthesis .xml) inside the installed random-face wheel (its .bin files beside them).

    Raises:
        EngineMissingError: random-face is not installed, or its files are missing.
    """
    spec = importlib.util.find_spec("random_face")  # finds the folder without running its __init__
    if spec is None or spec.origin is None:
        raise EngineMissingError(f"the GAN face generator needs random-face: {INSTALL}")
    data = Path(spec.origin).parent / "data"
    files = data / "MappingNetwork.xml", data / "SynthesisNetwork.xml"
    if not all(f.exists() and f.with_suffix(".bin").exists() for f in files):
        raise EngineMissingError(f"random-face is installed without its network files in {data}: {INSTALL}")
    return files


class GanFaces:
    """Draws 1024 x 1024 RGB faces of people who do not exist, reproducibly from a seed.

    Args:
        config: generator options.
        seed: seed of the latents (the mean style included).

    Raises:
        EngineMissingError: random-face or openvino is not installed.
    """

    def __init__(self, config: GanFaceConfig = GanFaceConfig(), *, seed: int = 0):
        try:
            import openvino
        except ImportError:
            raise EngineMissingError(f"the GAN face generator needs openvino: {INSTALL}") from None
        mapping_xml, synthesis_xml = model_files()
        core, options = openvino.Core(), {"INFERENCE_NUM_THREADS": config.threads}
        mapping = core.read_model(mapping_xml)
        mapping.reshape({"var": [config.mean_samples, STYLE_DIM]})
        self.config = config
        self.rng = np.random.default_rng(seed)
        mean_net = core.compile_model(mapping, "CPU", options)
        self.style_mean = mean_net(self._latents(config.mean_samples))[0].mean(axis=0, keepdims=True)
        self.mapping = core.compile_model(core.read_model(mapping_xml), "CPU", options)
        self.synthesis = core.compile_model(core.read_model(synthesis_xml), "CPU", options)

    def _latents(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        return (rng or self.rng).standard_normal((n, STYLE_DIM)).astype(np.float32)

    def __call__(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """uint8 (1024, 1024, 3) RGB: one new face, its latent drawn from `rng` (default: this generator's own
        stream, so that successive calls differ)."""
        style = self.mapping(self._latents(1, rng))[0]
        style = self.style_mean + self.config.truncation * (style - self.style_mean)
        image = self.synthesis(style.astype(np.float32))[0][0]  # (3, 1024, 1024) RGB in [-1, 1]
        return to_uint8(image)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """(3, H, W) float in [-1, 1] -> uint8 (H, W, 3)."""
    return np.clip(np.rint((image.transpose(1, 2, 0) + 1) * 127.5), 0, 255).astype(np.uint8)


def gan_face_swap(target: np.ndarray, target_landmarks: np.ndarray, face: np.ndarray, face_landmarks: np.ndarray,
                  rng: np.random.Generator):
    """A GAN face blended into a real face crop (aligned by the five landmarks, colour-matched, soft mask).

    Args:
        target: uint8 (H, W, 3) RGB real face crop; keeps its hair, outline and background.
        target_landmarks: (5, 2) MTCNN landmarks in `target` pixels.
        face: uint8 (H', W', 3) RGB GAN face (e.g. from `GanFaces`).
        face_landmarks: (5, 2) landmarks of `face` (e.g. MTCNN on it).
        rng: source of all randomness of the blend.

    Returns:
        `avdetect.pseudofakes.faces.BlendResult`: the image and the mask where the GAN face went in.
    """
    from PIL import Image

    from avdetect.pseudofakes.faces import cross_blend

    h, w = target.shape[:2]  # the blending machinery warps a source of the target's size
    scale = np.array([w / face.shape[1], h / face.shape[0]], np.float32)
    resized = np.asarray(Image.fromarray(face).resize((w, h), Image.LANCZOS))
    return cross_blend(target, target_landmarks, resized, np.asarray(face_landmarks, np.float32) * scale, rng)
