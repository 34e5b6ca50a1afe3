"""HTML report: self-contained pages with SVG charts and thumbnails, failed inputs explained, an index."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avdetect.records import SyncFeatures
from avdetect.scoring.report import MARGIN, WIDTH, Report, page_html, page_name, sync_svg, timeline_svg, verdict
from avdetect.scoring.scores import TrackScores, VideoScore, WindowScores, failed


def fake_score(path: str = "clips/x.mp4") -> VideoScore:
    times = np.linspace(0, 9.5, 20)
    thumb = np.zeros((32, 32, 3), np.uint8)
    thumb[:, :16] = 255
    lags = np.linspace(-1, 1, 41)
    return VideoScore(
        path=path, status="ok", p_fake=0.83, p_visual=0.9, p_audio=0.2, p_sync=0.7,
        fake_segments=np.array([[5.0, 10.0]]), n_tracks=2, n_frames=20, duration_s=10.0, seconds=3.0,
        tracks=tuple(TrackScores(i, times, np.full(20, 0.3 + 0.5 * i, np.float32), 80.0, thumb) for i in range(2)),
        windows=WindowScores(np.arange(0, 10, 2.0), np.arange(2, 12, 2.0), np.linspace(0.1, 0.5, 5, dtype=np.float32)),
        sync=SyncFeatures(1, lags, np.exp(-(lags - 0.2) ** 2 * 20), 0.2, 1.0, 0.45, 3.0, 0.05, 0.9, 200))


def test_page_has_timeline_thumbnails_and_sync_curve() -> None:
    page = page_html(fake_score())
    assert page.count("<svg") == 2 and page.count("<polyline") == 3  # two tracks, one sync curve
    assert "best lag +0.20 s" in page and "audio 0.00-2.00 s: 0.100" in page and "fake 5.00-10.00 s" in page
    thumbs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page)
    assert len(thumbs) == 2
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(thumbs[0]))))
    assert image.shape == (32, 32, 3) and image[:, :12].mean() > 200 and image[:, 20:].mean() < 50
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"http", page)  # nothing from the network


def test_fake_segment_shading_sits_at_its_seconds() -> None:
    svg = timeline_svg(fake_score())
    x = float(re.search(r'<rect x="([\d.]+)"[^>]*fill="#d62728"', svg).group(1))
    left, right = MARGIN[0], WIDTH - MARGIN[1]
    assert x == pytest.approx(left + (right - left) * 0.5, abs=0.1)  # 5 s of 10 s


def test_failed_input_page_says_why() -> None:
    page = page_html(failed("bad.mp4", "decode_error", "bad.mp4: FFmpeg cannot open it"))
    assert "Not scored: decode_error" in page and "FFmpeg cannot open it" in page and "<svg" not in page


def test_sync_without_measure_and_verdicts() -> None:
    assert "No lip-sync" in sync_svg(None)
    assert [verdict(p) for p in (0.7, 0.5, 0.2, None, float("nan"))] == ["fake", "fake", "real", "n/a", "n/a"]


def test_report_folder_pages_and_index(tmp_path: Path) -> None:
    report = Report(tmp_path / "report")
    scores = [fake_score("a/<odd> name.mp4"), failed("b.mp4", "timeout", "b.mp4: no result within 300 s")]
    for score in scores:
        report.add(score)
    report.add(scores[0])  # redone after a crash: one entry, not two
    index = report.close(other_rows=[{"path": "c.mp4", "status": "ok", "p_fake": 0.1}])
    html = index.read_text()
    assert html.count("<tr>") == 1 + 3 and "&lt;odd&gt;" in html and "<script>" in html
    assert html.index("a/&lt;odd&gt; name.mp4") < html.index("c.mp4") < html.index("b.mp4")  # most suspicious first
    for score in scores:
        assert f'href="{page_name(score.path)}"' in html and (tmp_path / "report" / page_name(score.path)).is_file()
    assert len(set(page_name(p) for p in ("a/x.mp4", "b/x.mp4"))) == 2


def test_report_of_a_real_decoded_video(tmp_path: Path) -> None:
    from media import make_video
    from test_batch import BrightnessScorer

    score = BrightnessScorer().score(make_video(tmp_path / "v.mp4", width=96, height=64, fps=10, duration_s=1.0))
    page = page_html(score)
    assert "data:image/jpeg;base64," in page and page.count("<svg") == 2 and "Scores over time" in page
