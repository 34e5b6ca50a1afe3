"""Synthetic faces made offline, to widen the fakes the visual branch and the face features learn from.

`gan.GanFaces` draws faces of people who do not exist from MobileStyleGAN (a distilled StyleGAN2-FFHQ,
OpenVINO files inside the `random-face` wheel); `gan.gan_face_swap` pastes one into a real face crop with
the cross-blend machinery of `avdetect.pseudofakes.faces`. The generator was distilled from NVIDIA's
non-commercial StyleGAN2 weights: a research-only training-data tool, which the scoring path never imports.
`swap` makes face swaps in every frame of a video (MTCNN landmarks, the same blending), and `recipe` decides
who is swapped with whom, another real talker or a GAN face of no one, and writes the swaps with real
controls (`avdetect synth-swaps`, data/synthetic-faces/README.md).
"""
