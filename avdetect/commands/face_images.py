"""`avdetect face-images SOURCE -o faces.npz`: still face photos as extra real faces for the visual branch.

SOURCE is a folder or a zip of images (UTKFace's aligned chips, a photo collection). Each image with one
confident face (MTCNN) is kept with its five landmarks, the whole image as the crop or, with ``--margin``,
the face box with the video crops' margin. `avdetect train visual --extra-reals faces.npz` then trains
every fold on them too (real faces, and pseudo-fakes blended into them): identities that talking videos
cannot give. They are never held out and never scored out of fold.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("face-images", help="detect faces in still photos: extra real faces for training",
                              description=__doc__.split("\n\n")[1])
    p.add_argument("source", type=Path, metavar="SOURCE", help="folder or zip of images")
    p.add_argument("-o", "--output", type=Path, required=True, help="face-images file to write (.npz)")
    p.add_argument("--limit", type=int, help="at most this many images, evenly spread over the sorted names")
    p.add_argument("--margin", action="store_true", help="crop the face box with the video crops' margin "
                   "(ordinary photos) instead of taking the whole image (aligned chips)")
    p.add_argument("--min-prob", type=float, default=0.95, help="least MTCNN face probability (default 0.95)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Writes the file; 2 when SOURCE holds no image or no face is found."""
    from avdetect.corpus.face_images import detect_faces, list_images, read_images, spread
    from avdetect.errors import InputError

    names = spread(list_images(args.source), args.limit)
    if not names:
        raise InputError(f"{args.source}: no image (.jpg, .png, ...) in it")
    start = time.perf_counter()
    faces, skipped = detect_faces(read_images(args.source, names), margin=args.margin, min_prob=args.min_prob)
    if not len(faces):
        raise InputError(f"{args.source}: no confident face in {len(names)} image(s)")
    faces.save(args.output)
    print(f"{args.output}: {len(faces)} faces from {len(names)} images ({len(skipped)} left out: unreadable, "
          f"no face or a doubtful one, e.g. {skipped[:3]}) in {time.perf_counter() - start:.0f} s")
    return 0
