"""Which of the speaker encoder's outputs the voice_embed head should read, judged on held-out families.

    .venv/bin/python benchmarks/voice_embed_inputs.py --work out/fixed [--store /tmp/inputs.npz] [--c 0.01]

For every voice of a recipe's WORK_DIR (`data/shipped/train.sh`) that `avdetect train-voice-embed` learns
from (a voice label of its own and detected speech in WORK_DIR/cache, dubs aside), the encoder's outputs as
the voice is and through one acoustic copy drawn as that command draws them: each LSTM layer's outputs
averaged and spread over time and its final state (768 numbers a layer), the speech's spectral shape (514)
and the speaker embedding (256).
Then, for each input, one head per fold of WORK_DIR/folds.csv fitted on the other folds' voices and their
copies (`avdetect.training.voice_embed.fit_head`, the shipped settings but C and without the codec copies the
recipe also gives each voice, `HeadConfig.codec_copies`), and its held-out logits judged
as `benchmarks/generalization.py --modality audio --hold-out family --variants --logit` judges a block: the
mean AUC over the generator families (and over those with n >= 10), their mean EER, the reals called fake
at 0.5. The shipped input is layers 2 and 3 (`avdetect.features.voice_embed.FIRST_LAYER`) and the speech's
spectral shape (`avdetect.features.voice_embed.spectral_shape`).

The encoder's outputs are kept in --store (default WORK_DIR/runs/voice_embed_inputs.npz; about 13 minutes
on 2 cores for the shared data's 3,695 voices and their copies, 18 beside another job); a rerun with the same
rows reads them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from avdetect.features.voice_embed import LAYER_FEATURES as LAYER  # noqa: E402 (768 numbers a layer)
from avdetect.features.voice_embed import SPECTRUM_FEATURES as SHAPE  # noqa: E402

SPECTRUM, EMBEDDING = (3 * LAYER, 3 * LAYER + SHAPE), (3 * LAYER + SHAPE, 3 * LAYER + SHAPE + 256)
INPUTS = {  # name -> column ranges in [layer 1, layer 2, layer 3, spectral shape, embedding]
    "speaker embedding": (EMBEDDING,),
    "layer 1": ((0, LAYER),),
    "layer 2": ((LAYER, 2 * LAYER),),
    "layer 3": ((2 * LAYER, 3 * LAYER),),
    "layers 2-3": ((LAYER, 3 * LAYER),),
    "spectral shape": (SPECTRUM,),
    "spectral shape, means only": ((SPECTRUM[0], SPECTRUM[0] + SHAPE // 2),),
    "layers 2-3 + shape (shipped)": ((LAYER, 3 * LAYER), SPECTRUM),
    "embedding + layers 2-3": ((LAYER, 3 * LAYER), EMBEDDING),
}


def encodings(rows, cache: Path, store: Path, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """float32 (n, 3 * LAYER + SHAPE + 256) as each voice is and through its acoustic copy, for ``rows`` in order
    (a store of another width, made before the spectral shape, is made again)."""
    from avdetect.features.voice_embed import SAMPLE_RATE, encode
    from avdetect.training.voice_embed import HeadConfig, copy_draws

    paths = np.array([str(r.path) for r in rows])
    if store.is_file():
        with np.load(store, allow_pickle=False) as data:
            if np.array_equal(data["paths"], paths) and data["as_is"].shape[1] == EMBEDDING[1]:
                return data["as_is"], data["copies"]
    as_is, copies = [], []
    for _, speech, (copied,) in copy_draws(rows, cache, HeadConfig(acoustic_copies=1, seed=seed)):
        for audio, out in ((speech, as_is), (copied, copies)):
            found = encode(audio, SAMPLE_RATE, first_layer=0)
            out.append(np.concatenate([found.features, found.embedding]))
    store.parent.mkdir(parents=True, exist_ok=True)
    np.savez(store, paths=paths, as_is=np.stack(as_is), copies=np.stack(copies))
    return np.stack(as_is), np.stack(copies)


def held_out_logits(x: np.ndarray, xc: np.ndarray, y: np.ndarray, folds: np.ndarray, c: float) -> np.ndarray:
    """Each voice's logit from the head fitted without its fold, on the other voices and their copies."""
    from avdetect.training.voice_embed import HeadConfig, fit_head

    logits = np.zeros(len(y))
    for k in np.unique(folds):
        train = folds != k
        head = fit_head(np.concatenate([x[train], xc[train]]), np.concatenate([y[train], y[train]]), HeadConfig(c=c))
        logits[~train] = head.logits(x[~train])
    return logits


def main(argv: list[str] | None = None) -> None:
    from avdetect.corpus.folds import align_folds, read_folds
    from avdetect.corpus.manifest import FAKE, read_manifest
    from scipy.special import expit
    from avdetect.training.voice_embed import STORE, encode_rows, training_rows
    from generalization import generalization_table, with_variants

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True, help="a recipe's WORK_DIR (all.csv, cache/, folds.csv)")
    parser.add_argument("--store", type=Path,
                        help="the encoder outputs' file (default WORK_DIR/runs/voice_embed_inputs.npz)")
    parser.add_argument("--c", type=float, default=0.01, help="the heads' inverse L2 strength (shipped 0.01)")
    args = parser.parse_args(argv)

    rows = read_manifest(args.work / "all.csv")
    fold_of = read_folds(args.work / "folds.csv")
    # which voices have speech: the recipe's own store (`train-voice-embed`), made here where it is missing
    voices = training_rows(rows, encode_rows(rows, args.work / "cache",
                                             args.work / "runs" / "voice_embed" / STORE).features)
    x, xc = encodings(voices, args.work / "cache", args.store or args.work / "runs" / "voice_embed_inputs.npz")
    y = np.array([r.audio_label == FAKE for r in voices], dtype=np.int64)
    folds = align_folds([r.path for r in voices], fold_of)
    print(f"{len(voices)} voices ({int(y.sum())} fake), one acoustic copy each; heads C={args.c}, families held out")
    print(f"{'input':<28} {'numbers':>7} {'family mean':>11} {'n >= 10':>8} {'mean EER':>8} {'reals >= 0.5':>12}")
    for name, ranges in INPUTS.items():
        cols = np.concatenate([np.arange(a, b) for a, b in ranges])
        logits = held_out_logits(x[:, cols], xc[:, cols], y, folds, args.c)
        scores = {str(r.path): float(p) for r, p in zip(voices, expit(logits))}
        judged = [r for r in with_variants(rows, scores) if str(r.path) in scores]
        table = generalization_table(judged, align_folds([r.path for r in judged], fold_of), scores,
                                     modality="audio", hold_out="family")
        reals, every, large = table[-3], table[-2], table[-1]
        print(f"{name:<28} {len(cols):>7} {every.auc:>11.3f} {large.auc:>8.3f} {every.eer:>8.3f} {reals.rate:>12.0%}")


if __name__ == "__main__":
    main()
