"""Still photos as extra real faces: listing, reading, detection with a stand-in detector, the saved file."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avdetect.cli import main
from avdetect.corpus.face_images import PAD, FaceImages, detect_faces, list_images, read_images, spread
from avdetect.errors import InputError, ModelFileError

MARKS = np.array([[30, 35], [50, 35], [40, 45], [32, 55], [48, 55]], np.float32)  # in an 80 x 80 image


class Detector:
    """Finds a face at a fixed place in every padded image, except in images whose top-left pixel is 0."""

    def detect(self, images: np.ndarray, landmarks: bool = True):
        boxes, probs, marks = [], [], []
        for image in images:
            found = image[PAD, PAD, 0] != 0
            boxes.append(np.array([[20 + PAD, 20 + PAD, 60 + PAD, 70 + PAD]], np.float32) if found else None)
            probs.append(np.array([0.99]) if found else [None])
            marks.append((MARKS + PAD)[None] if found else None)
        return boxes, probs, marks


def photos(folder: Path, n: int = 5) -> Path:
    folder.mkdir()
    for i in range(n):
        image = np.full((80, 80, 3), 100 + i, np.uint8)
        image[0, 0] = 0 if i == 3 else 255  # the fourth has "no face"
        Image.fromarray(image).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def test_lists_images_of_a_folder_or_a_zip_and_spreads_a_limit(tmp_path: Path) -> None:
    folder = photos(tmp_path / "p")
    with zipfile.ZipFile(tmp_path / "p.zip", "w") as z:
        for p in folder.iterdir():
            z.write(p, f"chips/{p.name}")
    assert list_images(folder) == ["0.png", "1.png", "2.png", "3.png", "4.png", "broken.jpg"]
    assert list_images(tmp_path / "p.zip")[0] == "chips/0.png"
    assert spread(list("abcdefghij"), 3) == ["a", "e", "j"] and spread(["a"], 5) == ["a"]
    with pytest.raises(InputError, match="neither a folder nor a zip"):
        list_images(tmp_path / "p" / "notes.txt")


def test_keeps_images_with_a_face_as_crops_with_their_landmarks(tmp_path: Path) -> None:
    folder = photos(tmp_path / "p")
    faces, skipped = detect_faces(read_images(folder, list_images(folder)), size=40, detector=Detector(), batch=2)
    assert faces.names.tolist() == ["0.png", "1.png", "2.png", "4.png"] and sorted(skipped) == ["3.png", "broken.jpg"]
    assert faces.crops.shape == (4, 40, 40, 3) and faces.crops.dtype == np.uint8
    np.testing.assert_allclose(faces.landmarks[0], MARKS / 2)  # the whole 80 px image is the 40 px crop
    margin, _ = detect_faces(read_images(folder, ["0.png"]), size=40, margin=True, detector=Detector())
    # the 40 x 50 box's square crop, a third of its side added on each side: 50 * 5 / 3 px around (40, 45)
    side = 50 * 5 / 3
    np.testing.assert_allclose(margin.landmarks[0], (MARKS - [40 - side / 2, 45 - side / 2]) * 40 / side, atol=1e-4)


def test_the_file_round_trips_and_a_wrong_one_is_a_typed_error(tmp_path: Path) -> None:
    faces = FaceImages(np.array(["a.jpg"]), np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 5, 2), np.float32))
    back = FaceImages.load(faces.save(tmp_path / "f.npz"))
    assert back.names.tolist() == ["a.jpg"] and back.crops.shape == (1, 8, 8, 3)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ModelFileError, match="not a face-images file"):
        FaceImages.load(tmp_path / "bad.npz")
    with pytest.raises(InputError, match="no such face-images file"):
        FaceImages.load(tmp_path / "missing.npz")


def test_the_command_refuses_a_source_without_images(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["face-images", str(tmp_path / "empty"), "-o", str(tmp_path / "f.npz")]) == 2
    assert "no image" in capsys.readouterr().err
