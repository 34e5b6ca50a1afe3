"""HTML report of a scoring run: one page per input and an ``index.html``, readable offline.

Everything is inline: SVG charts, base64 JPEG thumbnails, a few lines of CSS and of table-sorting script,
so the folder can be zipped, mailed or opened from disk without a server or a network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from avdetect.records import SyncFeatures
from avdetect.scoring.scores import VideoScore
from avdetect.scoring.writers import JsonlWriter

THRESHOLD = 0.5  # P(fake) at or above which a per-modality verdict says "fake"
COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
AUDIO_COLOUR, FAKE_SHADE = "#111", "#d62728"
WIDTH, HEIGHT, MARGIN = 760, 230, (44, 12, 24, 34)  # left, right, top, bottom, pixels
TICK_STEPS = (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 3600)
STYLE = """body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:980px}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
th{cursor:pointer;background:#f4f4f4}th:after{content:" \\2195";color:#aaa}.fake{color:#c00;font-weight:600}
.real{color:#070}.inconclusive{color:#a60}.failed{color:#a60;font-weight:600}figure{display:inline-block;margin:6px;text-align:center}
svg{background:#fff;border:1px solid #ccc}.small{color:#666;font-size:12px}"""
SORT_SCRIPT = """document.querySelectorAll("th").forEach((th,i)=>th.onclick=()=>{const b=th.closest("table").tBodies[0];
const d=th.dataset.dir=th.dataset.dir==="a"?"d":"a";const v=r=>{const t=r.cells[i].dataset.v??r.cells[i].textContent;
return isNaN(parseFloat(t))?t:parseFloat(t)};[...b.rows].sort((x,y)=>(v(x)>v(y)?1:v(x)<v(y)?-1:0)*(d==="a"?1:-1))
.forEach(r=>b.appendChild(r))});"""


class Report:
    """Writes a page per input as it finishes, and the index on `close`; resumable like the outputs.

    Args:
        folder: where index.html, pages/ and rows.jsonl (the rows the index is made from) go.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        (self.folder / "pages").mkdir(parents=True, exist_ok=True)
        self.rows = JsonlWriter(self.folder / "rows.jsonl")

    def add(self, score: VideoScore) -> None:
        """Writes the page of `score` and remembers its row for the index."""
        (self.folder / page_name(score.path)).write_text(page_html(score), encoding="utf-8")
        self.rows.write(score)

    def close(self, other_rows: Iterable[dict] = ()) -> Path:
        """Writes index.html: the inputs with pages, then `other_rows` (scored without a report) unlinked."""
        self.rows.close()
        rows = {row["path"]: row for row in self.rows.rows}  # a redone input: its last row wins
        linked = set(rows)
        for row in other_rows:
            rows.setdefault(row["path"], row)
        index = self.folder / "index.html"
        index.write_text(index_html(list(rows.values()), linked), encoding="utf-8")
        return index


def page_name(path: str) -> str:
    """pages/<file name>-<hash of the path>.html: unique per input, recognisable by a person."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(path))[:60]
    return f"pages/{stem}-{hashlib.sha1(path.encode()).hexdigest()[:10]}.html"


def verdict(p: float | None) -> str:
    """"fake", "real", or "n/a" for a missing probability."""
    if p is None or math.isnan(p):
        return "n/a"
    return "fake" if p >= THRESHOLD else "real"


def page_html(score: VideoScore) -> str:
    """The whole page of one input."""
    title = html.escape(os.path.basename(score.path) or score.path)
    if not score.ok:
        body = (f"<p class=failed>Not scored: {html.escape(score.status)}</p>"
                f"<p>{html.escape(score.error or 'no reason given')}</p>{_facts(score)}")
    else:
        body = (f"{_headline(score)}<h2>Scores over time</h2>{timeline_svg(score)}"
                f"<h2>Faces</h2>{_thumbnails(score)}<h2>Lip-sync</h2>{sync_svg(score.sync)}"
                f"<h2>Facts</h2>{_facts(score)}")
    return _document(title, f'<p><a href="../index.html">&larr; all inputs</a></p><h1>{title}</h1>{body}')


def index_html(rows: Sequence[dict], linked: set[str]) -> str:
    """The table of every input, most suspicious first; click a heading to sort by it."""
    rows = sorted(rows, key=lambda r: (r["status"] == "ok", r.get("p_fake") or 0.0), reverse=True)
    heads = "".join(f"<th>{h}</th>" for h in ("path", "p_fake", "verdict", "visual", "audio", "sync", "status", "page"))
    lines = "".join(_index_row(row, row["path"] in linked) for row in rows)
    failed = sum(row["status"] != "ok" for row in rows)
    summary = (f"<p>{len(rows)} inputs, {failed} not scored. The verdict comes from the model's decision band "
               f"(real, inconclusive, fake); the modality columns say fake from {THRESHOLD}.</p>")
    return _document("avdetect report", f"<h1>avdetect report</h1>{summary}<table><thead><tr>{heads}</tr></thead>"
                     f"<tbody>{lines}</tbody></table><script>{SORT_SCRIPT}</script>")


def _index_row(row: dict, linked: bool) -> str:
    link = f'<a href="{html.escape(page_name(row["path"]))}">page</a>' if linked else "<span class=small>none</span>"
    p = row.get("p_fake")
    cells = [html.escape(row["path"]), f"{p:.3f}" if p is not None else "", _word_span(row.get("verdict") or "")]
    cells += [verdict(row.get(name)) for name in ("p_visual", "p_audio", "p_sync")]
    status = html.escape(row["status"])
    if row["status"] != "ok":  # the reason shows on hover, and in full on the page
        status = f'<span class=failed title="{html.escape(row.get("error") or "")}">{status}</span>'
    cells += [status, link]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _word_span(word: str) -> str:
    return f"<span class={word}>{word}</span>" if word in ("real", "fake", "inconclusive") else (word or "n/a")


def _headline(score: VideoScore) -> str:
    parts = [f"{name} {verdict(p)} ({p:.3f})" for name, p in
             (("visual", score.p_visual), ("audio", score.p_audio), ("sync", score.p_sync)) if not math.isnan(p)]
    return (f"<p style='font-size:18px'>P(fake) = <b>{score.p_fake:.3f}</b>: {_word_span(score.verdict)}</p>"
            f"<p>Why: {html.escape(score.why or 'not given')}</p>"
            f"<p>{'; '.join(parts) or 'no branch scores'}</p>")


def _facts(score: VideoScore) -> str:
    row = score.row()
    names = ("path", "status", "p_fake", "verdict", "p_visual", "p_audio", "p_sync", "duration_s", "n_frames",
             "n_tracks", "seconds")
    facts = {name: row[name] for name in names}
    facts["fake segments (s)"] = ", ".join(f"{a:.2f}-{b:.2f}" for a, b in row["fake_segments"]) or "none"
    if os.path.isfile(score.path):
        facts["file size (bytes)"] = os.path.getsize(score.path)
    if score.sync is not None:
        facts.update({"sync best lag (s)": round(score.sync.best_lag_s, 3), "sync peak": round(score.sync.peak, 3),
                      "sync sharpness": round(score.sync.sharpness, 2)})
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    return f"<table class=facts>{cells}</table>"


def _thumbnails(score: VideoScore) -> str:
    figures = []
    for track, colour in zip(score.tracks, _cycle(COLOURS)):
        if track.thumbnail.size == 0:
            continue
        mean = float(np.mean(track.probs)) if len(track.probs) else float("nan")
        data = jpeg_base64(track.thumbnail)
        figures.append(f'<figure><img alt="track {track.track_id}" src="data:image/jpeg;base64,{data}" width=128>'
                       f'<figcaption style="color:{colour}">track {track.track_id}: mean P {mean:.3f},'
                       f" {track.face_px:.0f} px</figcaption></figure>")
    return "".join(figures) or "<p>No face was found.</p>"


def jpeg_base64(image: np.ndarray) -> str:
    """uint8 (H, W, 3) RGB as base64 JPEG text for a data: URL."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).convert("RGB").save(buffer, "JPEG", quality=85)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def timeline_svg(score: VideoScore) -> str:
    """Frame scores of each track and window scores of the audio against time, fake segments shaded."""
    ends = [score.duration_s] + [float(t.times_s[-1]) for t in score.tracks if len(t.times_s)]
    ends += [float(score.windows.end_s.max())] if len(score.windows.end_s) else []
    x = _Axis(0.0, max(max(ends), 1e-3), MARGIN[0], WIDTH - MARGIN[1])
    y = _Axis(0.0, 1.0, HEIGHT - MARGIN[3], MARGIN[2])
    parts = [f'<rect x="{x(a):.1f}" y="{MARGIN[2]}" width="{max(x(b) - x(a), 1):.1f}" height="{y.pixels:.1f}" '
             f'fill="{FAKE_SHADE}" opacity="0.15"><title>fake {a:.2f}-{b:.2f} s</title></rect>'
             for a, b in score.fake_segments]
    parts += _grid(x, y, "time (s)", [0.0, 0.5, 1.0])
    for track, colour in zip(score.tracks, _cycle(COLOURS)):
        parts.append(_polyline(x, y, track.times_s, track.probs, colour, f"track {track.track_id}"))
    w = score.windows
    parts += [f'<line x1="{x(a):.1f}" x2="{x(b):.1f}" y1="{y(p):.1f}" y2="{y(p):.1f}" stroke="{AUDIO_COLOUR}" '
              f'stroke-width="3"><title>audio {a:.2f}-{b:.2f} s: {p:.3f}</title></line>'
              for a, b, p in zip(w.start_s, w.end_s, w.probs)]
    legend = [(f"track {t.track_id}", c) for t, c in zip(score.tracks, _cycle(COLOURS))]
    legend += [("audio windows", AUDIO_COLOUR)] if len(w.probs) else []
    legend += [("fake segment", FAKE_SHADE)] if len(score.fake_segments) else []
    return _svg(parts + _legend(legend), "P(fake) over time")


def sync_svg(sync: SyncFeatures | None) -> str:
    """The audio-visual correlation against lag, with the best lag marked."""
    if sync is None or len(sync.lags_s) == 0:
        return "<p>No lip-sync measure (needs a face and a voice).</p>"
    low, high = float(np.min(sync.curve)), float(np.max(sync.curve))
    pad = max(high - low, 1e-3) * 0.1
    x = _Axis(float(sync.lags_s[0]), float(sync.lags_s[-1]), MARGIN[0], WIDTH - MARGIN[1])
    y = _Axis(low - pad, high + pad, HEIGHT - MARGIN[3], MARGIN[2])
    parts = _grid(x, y, "lag of the sound behind the mouth (s)", [round(v, 2) for v in np.linspace(low, high, 3)])
    parts.append(_polyline(x, y, sync.lags_s, sync.curve, COLOURS[0], "correlation"))
    zero, best = x(0.0), x(sync.best_lag_s)
    parts.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{MARGIN[2]}" y2="{HEIGHT - MARGIN[3]}" stroke="#999" '
                 f'stroke-dasharray="4 3"><title>in sync (lag 0): {sync.at_zero:.2f}</title></line>'
                 f'<line x1="{best:.1f}" x2="{best:.1f}" y1="{MARGIN[2]}" y2="{HEIGHT - MARGIN[3]}" '
                 f'stroke="{FAKE_SHADE}" stroke-width="2"/><text x="{best + 4:.1f}" y="{MARGIN[2] - 8}" '
                 f'fill="{FAKE_SHADE}">best lag {sync.best_lag_s:+.2f} s (peak {sync.peak:.2f})</text>')
    return _svg(parts, "mouth-audio correlation against lag")


class _Axis:
    """Maps data values in [low, high] linearly to pixels in [start, stop]."""

    def __init__(self, low: float, high: float, start: float, stop: float) -> None:
        self.low, self.high, self.start, self.stop = low, high if high > low else low + 1.0, start, stop
        self.pixels = abs(stop - start)

    def __call__(self, value: float) -> float:
        value = min(max(float(value), self.low), self.high) if math.isfinite(value) else self.low
        return self.start + (value - self.low) / (self.high - self.low) * (self.stop - self.start)

    def ticks(self) -> list[float]:
        step = next((s for s in TICK_STEPS if (self.high - self.low) / s <= 10), TICK_STEPS[-1])
        first = math.ceil(self.low / step) * step
        return [round(float(v), 6) + 0.0 for v in np.arange(first, self.high + step / 2, step)]  # + 0.0: no "-0"


def _grid(x: _Axis, y: _Axis, x_unit: str, y_values: Sequence[float]) -> list[str]:
    bottom, top = HEIGHT - MARGIN[3], MARGIN[2]
    parts = [f'<line x1="{x.start}" x2="{x.stop}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
             f'<text x="{x.start - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>' for v in y_values]
    parts += [f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>'
              f'<text x="{x(t):.1f}" y="{bottom + 16}" text-anchor="middle">{t:g}</text>' for t in x.ticks()]
    parts.append(f'<text x="{x.stop}" y="{HEIGHT - 2}" text-anchor="end">{x_unit}</text>'
                 f'<rect x="{x.start}" y="{top}" width="{x.pixels}" height="{y.pixels}" fill="none" stroke="#888"/>')
    return parts


def _polyline(x: _Axis, y: _Axis, xs: np.ndarray, ys: np.ndarray, colour: str, title: str) -> str:
    points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys) if math.isfinite(b))
    return (f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5">'
            f"<title>{html.escape(title)}</title></polyline>")


def _legend(entries: list[tuple[str, str]]) -> list[str]:
    return [f'<text x="{MARGIN[0] + 110 * i}" y="{MARGIN[2] - 8}" fill="{colour}">&#9632; {html.escape(name)}</text>'
            for i, (name, colour) in enumerate(entries)]


def _svg(parts: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-size="11" '
            f'role="img" aria-label="{html.escape(label)}">{"".join(parts)}</svg>')


def _cycle(items: Sequence[str]) -> Iterable[str]:
    while True:
        yield from items


def _document(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")
