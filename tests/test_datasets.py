"""Dataset adapters on tiny fake trees (empty files), and `folder` on the shared sample data."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from avdetect.corpus.datasets import ADAPTERS, avdeepfake1m, dfdc, fakeavceleb, ffpp, folder, get_adapter
from avdetect.errors import DatasetLayoutError, InputError, ManifestError

SHARED = Path(os.environ.get("AVDETECT_SHARED_DATA", Path(__file__).parents[1].parent / "shared" / "data"))


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()


def dump(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def by_name(rows):
    return {row.path.name: row for row in rows}


def test_adapter_registry_and_unknown_name():
    assert set(ADAPTERS) == {"dfdc", "fakeavceleb", "ffpp", "avdeepfake1m", "folder"}
    with pytest.raises(ValueError, match="valid: dfdc, fakeavceleb, ffpp, avdeepfake1m, folder"):
        get_adapter("celebdf")


# --- DFDC ---------------------------------------------------------------------------------------

def make_dfdc_part(part: Path) -> None:
    dump(part / "metadata.json", {
        "real.mp4": {"label": "REAL", "split": "train", "original": None},
        "fake1.mp4": {"label": "FAKE", "split": "train", "original": "real.mp4"},
        "fake2.mp4": {"label": "FAKE", "split": "train", "original": "real.mp4"},
    })
    touch(part, "real.mp4", "fake1.mp4", "fake2.mp4")


def test_dfdc_groups_fakes_with_their_original(tmp_path):
    make_dfdc_part(tmp_path / "dfdc_train_part_0")
    rows = by_name(dfdc.prepare(tmp_path))
    assert {row.group for row in rows.values()} == {"real"}
    assert rows["fake1.mp4"].label == "FAKE" and rows["real.mp4"].label == "REAL"
    assert rows["real.mp4"].video_label == "REAL" and rows["fake1.mp4"].video_label is None
    assert all(row.actor is None and row.split == "train" and row.dataset == "dfdc"
               for row in rows.values())


def test_dfdc_accepts_a_single_part_as_root(tmp_path):
    make_dfdc_part(tmp_path)
    assert len(dfdc.prepare(tmp_path)) == 3


def test_dfdc_missing_metadata_names_the_folder(tmp_path):
    touch(tmp_path, "a.mp4")
    with pytest.raises(DatasetLayoutError, match=f"no metadata.json in {tmp_path}"):
        dfdc.prepare(tmp_path)
    make_dfdc_part(tmp_path / "dfdc_train_part_0")
    (tmp_path / "dfdc_train_part_1").mkdir()
    with pytest.raises(DatasetLayoutError, match="dfdc_train_part_1"):
        dfdc.prepare(tmp_path)


def test_dfdc_unknown_label_and_missing_video(tmp_path):
    dump(tmp_path / "metadata.json", {"a.mp4": {"label": "DEEPFAKE"}})
    touch(tmp_path, "a.mp4")
    with pytest.raises(ManifestError, match="'a.mp4'.*valid: REAL, FAKE"):
        dfdc.prepare(tmp_path)
    dump(tmp_path / "metadata.json", {"a.mp4": {"label": "REAL"}, "b.mp4": {"label": "REAL"}})
    with pytest.raises(DatasetLayoutError, match="1 file.*b.mp4"):
        dfdc.prepare(tmp_path)


# --- FakeAVCeleb --------------------------------------------------------------------------------

@pytest.mark.parametrize("base", [".", "FakeAVCeleb"])
def test_fakeavceleb_labels_modalities_and_groups_by_identity(tmp_path, base):
    root = tmp_path / base
    touch(root, "RealVideo-RealAudio/African/men/id00076/00109.mp4",
          "RealVideo-FakeAudio/African/men/id00076/00109_fake.mp4",
          "FakeVideo-RealAudio/Asian/women/id00200/00001_id00076_faceswap.mp4",
          "FakeVideo-FakeAudio/Asian/women/id00200/00002_id00076_wav2lip.mp4")
    rows = by_name(fakeavceleb.prepare(tmp_path))
    labels = {name: (r.label, r.video_label, r.audio_label) for name, r in rows.items()}
    assert labels == {
        "00109.mp4": ("REAL", "REAL", "REAL"),
        "00109_fake.mp4": ("FAKE", "REAL", "FAKE"),
        "00001_id00076_faceswap.mp4": ("FAKE", "FAKE", "REAL"),
        "00002_id00076_wav2lip.mp4": ("FAKE", "FAKE", "FAKE"),
    }
    assert rows["00109_fake.mp4"].group == rows["00109_fake.mp4"].actor == "id00076"
    assert (rows["00002_id00076_wav2lip.mp4"].group, rows["00002_id00076_wav2lip.mp4"].actor) == ("id00200", "id00076")


def test_fakeavceleb_without_categories_is_a_layout_error(tmp_path):
    touch(tmp_path, "videos/a.mp4")
    with pytest.raises(DatasetLayoutError, match="RealVideo-RealAudio"):
        fakeavceleb.prepare(tmp_path)


# --- FaceForensics++ ----------------------------------------------------------------------------

def test_ffpp_official_layout_unites_target_and_source(tmp_path):
    touch(tmp_path, *[f"original_sequences/youtube/c23/videos/{i}.mp4" for i in ("519", "515", "700", "800")],
          "manipulated_sequences/Deepfakes/c23/videos/519_515.mp4",
          "manipulated_sequences/FaceSwap/c23/videos/515_700.mp4",
          "manipulated_sequences/Deepfakes/masks/videos/519_515.mp4",
          "original_sequences/youtube/c40/videos/800.mp4")
    rows = ffpp.prepare(tmp_path, compression="c23")
    groups = {row.path.stem: row.group for row in rows}
    assert len(rows) == 6  # masks and c40 left out
    assert groups["519"] == groups["515"] == groups["700"] == groups["519_515"] == groups["515_700"]
    assert groups["800"] != groups["519"]
    fake = by_name(rows)["519_515.mp4"]
    assert (fake.label, fake.video_label, fake.audio_label) == ("FAKE", "FAKE", None)
    assert len(ffpp.prepare(tmp_path)) == 7


def test_ffpp_flat_layout_and_deepfakedetection_ids(tmp_path):
    touch(tmp_path, "youtube/01.mp4", "Deepfakes/02_01.mp4", "actors/01__walking.mp4",
          "DeepFakeDetection/01_03__walking__ABCD1234.mp4")
    groups = {row.path.name: row.group for row in ffpp.prepare(tmp_path)}
    assert groups["01.mp4"] == groups["02_01.mp4"] == "01"
    assert groups["01__walking.mp4"] == groups["01_03__walking__ABCD1234.mp4"] == "dfd-01"


def test_ffpp_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="original_sequences"):
        ffpp.prepare(tmp_path)
    with pytest.raises(ValueError, match="c23"):
        ffpp.prepare(tmp_path, compression="c17")


# --- AV-Deepfake1M / LAV-DF ---------------------------------------------------------------------

def test_avdeepfake1m_metadata_per_split(tmp_path):
    dump(tmp_path / "train_metadata.json", [
        {"file": "id00012/abc/000.mp4", "split": "train", "modify_type": "real", "fake_segments": []},
        {"file": "id00012/abc/001.mp4", "split": "train", "modify_type": "audio_modified",
         "fake_segments": [[1.2, 1.8]], "original": "id00012/abc/000.mp4"},
    ])
    dump(tmp_path / "val_metadata.json", [
        {"file": "val/id00099/x/000.mp4", "split": "val", "modify_video": True, "modify_audio": False,
         "fake_segments": [[0.5, 1.0], [2, 3]], "original": None},
    ])
    touch(tmp_path, "train/id00012/abc/000.mp4", "train/id00012/abc/001.mp4", "val/id00099/x/000.mp4")
    rows = avdeepfake1m.prepare(tmp_path)
    real, fake, val = rows
    assert real.path == tmp_path / "train/id00012/abc/000.mp4"  # found under ROOT/<split>
    assert (fake.label, fake.video_label, fake.audio_label) == ("FAKE", "REAL", "FAKE")
    assert fake.group == real.group == "id00012/abc/000"
    assert fake.fake_segments == ((1.2, 1.8),) and fake.actor == "id00012"
    assert (val.video_label, val.audio_label, val.split, val.actor) == ("FAKE", "REAL", "val", "id00099")
    assert val.fake_segments == ((0.5, 1.0), (2.0, 3.0))


def test_lavdf_metadata_uses_fake_periods(tmp_path):
    dump(tmp_path / "metadata.json", [
        {"file": "test/000001.mp4", "split": "test", "n_fakes": 1, "fake_periods": [[0.1, 0.4]],
         "modify_video": False, "modify_audio": True, "original": "test/000002.mp4"},
        {"file": "test/000002.mp4", "split": "test", "n_fakes": 0, "fake_periods": [],
         "modify_video": False, "modify_audio": False, "original": None},
    ])
    touch(tmp_path, "test/000001.mp4", "test/000002.mp4")
    fake, real = avdeepfake1m.prepare(tmp_path)
    assert fake.fake_segments == ((0.1, 0.4),) and real.fake_segments == ()
    assert fake.group == real.group == "test/000002"
    assert real.label == "REAL" and fake.actor is None


def test_avdeepfake1m_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="train_metadata.json"):
        avdeepfake1m.prepare(tmp_path)
    dump(tmp_path / "metadata.json", [{"file": "a.mp4", "modify_type": "weird"}])
    with pytest.raises(DatasetLayoutError, match="item 0.*modify_type"):
        avdeepfake1m.prepare(tmp_path)
    dump(tmp_path / "metadata.json", [{"file": "a.mp4", "modify_video": True, "fake_segments": "1-2"}])
    with pytest.raises(ManifestError, match="item 0.*fake_segments"):
        avdeepfake1m.prepare(tmp_path)
    dump(tmp_path / "metadata.json", [{"file": "a.mp4", "modify_video": True}])
    with pytest.raises(DatasetLayoutError, match="do not exist.*a.mp4"):
        avdeepfake1m.prepare(tmp_path)
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(DatasetLayoutError, match="not valid JSON"):
        avdeepfake1m.prepare(tmp_path)


# --- folder -------------------------------------------------------------------------------------
def test_folder_labels_by_nearest_real_or_fake_folder_any_case(tmp_path):
    touch(tmp_path, "REAL/a.mp4", "Fake/b.MOV", "set1/fake/sub/c.wav", "real/fake/d.mp4",
          "unlabelled/e.mp4", "real/notes.txt")
    rows = by_name(folder.prepare(tmp_path, dataset="mine"))
    assert {n: r.label for n, r in rows.items()} == {"a.mp4": "REAL", "b.MOV": "FAKE", "c.wav": "FAKE",
                                                      "d.mp4": "FAKE"}
    assert (rows["a.mp4"].video_label, rows["a.mp4"].audio_label) == ("REAL", None)
    assert (rows["c.wav"].video_label, rows["c.wav"].audio_label) == (None, "FAKE")
    assert rows["a.mp4"].dataset == "mine"


def test_folder_without_label_folders_is_a_layout_error(tmp_path):
    touch(tmp_path, "videos/a.mp4")
    with pytest.raises(DatasetLayoutError, match="real/ or fake/"):
        folder.prepare(tmp_path)


def test_folder_csv_keeps_extra_columns_and_skips_unknown(tmp_path, caplog):
    touch(tmp_path, "v/a.mp4", "v/b.mp4", "v/c.mp4", "v/face.jpg")
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label,audio_label,group,actor,note\n"
                   "v/a.mp4,real,,,,x\nv/b.mp4,FAKE,UNKNOWN,grp,id7,\nv/c.mp4,UNKNOWN,,,,\n"
                   "v/face.jpg,FAKE,,,,\n")
    with caplog.at_level(logging.WARNING):
        rows = by_name(folder.prepare(tmp_path, csv=csv))
    assert set(rows) == {"a.mp4", "b.mp4"}
    assert "skipped 1 row(s) labelled UNKNOWN" in caplog.text
    assert (rows["b.mp4"].group, rows["b.mp4"].actor, rows["b.mp4"].audio_label) == ("grp", "id7", None)
    assert rows["a.mp4"].group == "a" and rows["a.mp4"].path == tmp_path / "v/a.mp4"


def test_folder_csv_errors(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("path,video_label\na.mp4,REAL\n")
    with pytest.raises(ManifestError, match="missing column.*label"):
        folder.prepare(tmp_path, csv=csv)
    csv.write_text("path,label\na.mp4,REAL\nb.mp4,fakeish\n")
    with pytest.raises(ManifestError, match="line 3.*'fakeish'.*REAL, FAKE"):
        folder.prepare(tmp_path, csv=csv)
    csv.write_text("path,label\na.mp4,REAL\n")
    with pytest.raises(DatasetLayoutError, match="do not exist.*a.mp4"):
        folder.prepare(tmp_path, csv=csv)
    with pytest.raises(InputError):
        folder.prepare(tmp_path, csv=tmp_path / "nope.csv")


# --- the shared sample data ---------------------------------------------------------------------
def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared sample data not found: {path} (set AVDETECT_SHARED_DATA)")
    return path


def test_folder_on_shared_videos():
    rows = folder.prepare(shared("video", "dfdc-face-videos"))
    names = by_name(rows)
    assert len(rows) == 20  # dfdc-face-videos/{FAKE,REAL}
    assert sum(row.label == "FAKE" for row in rows) == 19
    assert names["0_aejvkfbtxs.mp4_0_0.mp4"].group == names["0_aejvkfbtxs.mp4_0_1.mp4"].group


def test_folder_csv_on_shared_manifest(caplog):
    root = shared()
    with caplog.at_level(logging.WARNING):
        rows = folder.prepare(root, csv=root / "MANIFEST.csv")
    assert "row(s) labelled UNKNOWN" in caplog.text
    assert all(row.label == "FAKE" for row in rows if "talking-heads" in str(row.path))  # the rest are UNKNOWN
    groups = {row.path.relative_to(root).as_posix(): row.group for row in rows}
    assert groups["video/ffpp/youtube/519.mp4"] == groups["video/ffpp/Deepfakes/519_515.mp4"]
    assert groups["video/pairs/cyshih704-real.mp4"] == groups["video/pairs/cyshih704-fake.mp4"]
    assert groups["speech/ljspeech-melgan/LJ029-0001.wav"] == groups["speech/ljspeech-melgan/LJ029-0001_gen.wav"]
    assert all(row.label in ("REAL", "FAKE") for row in rows)


def test_ffpp_on_shared_flat_layout():
    rows = by_name(ffpp.prepare(shared("video", "ffpp")))
    assert len(rows) == 7
    assert rows["519.mp4"].group == rows["519_515.mp4"].group
    assert rows["004.mp4"].group == rows["004_982.mp4"].group != rows["519.mp4"].group
