"""Tests for course_lib.viz (plots.py, masks.py): colours, overlays, image conversion and the figures' layout."""

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

from course_lib.viz import (  # noqa: E402
    IMAGENET_MEAN,
    IMAGENET_STD,
    OUTCOME_PALETTE,
    VOID_COLOR,
    class_legend,
    colorize,
    draw_boxes,
    id_edges,
    make_palette,
    outcome_map,
    outcome_slider_figure,
    outline,
    overlay,
    panoptic_picture,
    plot_confusion_matrix,
    plot_history,
    png_bytes,
    show_grid,
    show_segmentation,
    to_numpy_image,
)

PALETTE = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], np.uint8)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------------------------------------ colours
def test_colorize_maps_each_label_to_its_colour():
    mask = np.array([[0, 1], [2, 1]])
    out = colorize(mask, PALETTE)
    assert out.shape == (2, 2, 3) and out.dtype == np.uint8
    assert out[0, 1].tolist() == [255, 0, 0] and out[1, 0].tolist() == [0, 255, 0] and out[0, 0].tolist() == [0, 0, 0]


def test_colorize_accepts_tensors_float_palettes_and_bool_masks():
    out = colorize(torch.tensor([[1, 0]]), [[0.0, 0.0, 0.0], [1.0, 0.5, 0.0]])
    assert out[0, 0].tolist() == [255, 128, 0]
    assert colorize(np.array([[True, False]]), PALETTE)[0, 0].tolist() == [255, 0, 0]


def test_colorize_ignore_index_and_bad_labels():
    mask = np.array([[0, 255], [1, 2]])
    out = colorize(mask, PALETTE, ignore_index=255)
    assert out[0, 1].tolist() == list(VOID_COLOR)
    with pytest.raises(ValueError, match="outside the palette"):
        colorize(mask, PALETTE)  # 255 without ignore_index
    with pytest.raises(ValueError, match="outside the palette"):
        colorize(np.array([[-1]]), PALETTE)
    with pytest.raises(ValueError, match="integer"):
        colorize(np.array([[0.5]]), PALETTE)
    with pytest.raises(ValueError, match="RGB"):
        colorize(np.zeros((2, 2), int), [[0, 0]])


def test_make_palette_is_distinct():
    pal = make_palette(256)
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    assert pal[0].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in pal.tolist()}) == 256
    with pytest.raises(ValueError):
        make_palette(0)


def test_overlay_blends_and_skips_void_and_background():
    img = np.full((2, 3, 3), 100, np.uint8)
    mask = np.array([[0, 1, 255], [2, 0, 1]])
    out = overlay(img, mask, PALETTE, alpha=0.5, ignore_index=255)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    assert out[0, 1].tolist() == [178, 50, 50]  # 0.5 * 100 + 0.5 * 255 rounds to 178 (half to even: 177.5 -> 178)
    assert out[0, 2].tolist() == [100, 100, 100]  # void: untouched
    assert out[0, 0].tolist() == [50, 50, 50]  # background tinted black by default
    out_bg = overlay(img, mask, PALETTE, alpha=0.5, ignore_index=255, background=0)
    assert out_bg[0, 0].tolist() == [100, 100, 100]
    assert np.array_equal(overlay(img, mask, PALETTE, alpha=0.0, ignore_index=255), img)


def test_overlay_grey_tensor_images_and_errors():
    grey = torch.rand(1, 4, 5)
    out = overlay(grey, torch.zeros(4, 5, dtype=torch.long), PALETTE)
    assert out.shape == (4, 5, 3)
    with pytest.raises(ValueError, match="does not match"):
        overlay(np.zeros((4, 5, 3), np.uint8), np.zeros((5, 4), int), PALETTE)
    with pytest.raises(ValueError, match="alpha"):
        overlay(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), int), PALETTE, alpha=2)


# ------------------------------------------------------------------------------------------------ images
def test_to_numpy_image_tensor_chw_and_denormalize():
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3)).astype(np.uint8)
    x = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    norm = (x - torch.tensor(IMAGENET_MEAN)[:, None, None]) / torch.tensor(IMAGENET_STD)[:, None, None]
    back = to_numpy_image(norm, denormalize=True)
    assert back.shape == (6, 7, 3) and back.dtype == np.uint8
    assert np.abs(back.astype(int) - rgb).max() <= 1
    assert np.abs(to_numpy_image(x).astype(int) - rgb).max() <= 1
    assert to_numpy_image(norm[None]).shape == (6, 7, 3)  # a batch of one


def test_to_numpy_image_arrays_and_pil():
    rgb = np.random.default_rng(1).integers(0, 256, (5, 4, 3)).astype(np.uint8)
    assert np.array_equal(to_numpy_image(rgb), rgb)
    assert np.array_equal(to_numpy_image(Image.fromarray(rgb)), rgb)
    assert np.array_equal(to_numpy_image(Image.fromarray(rgb).convert("RGBA")), rgb)
    grey = to_numpy_image(np.linspace(-500, 1500, 20).reshape(4, 5))  # e.g. MRI intensities
    assert grey.shape == (4, 5) and grey.min() == 0 and grey.max() == 255
    assert to_numpy_image(np.ones((3, 8, 9), np.float32)).shape == (8, 9, 3)  # CHW array
    with pytest.raises(ValueError, match="cannot read"):
        to_numpy_image(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="cannot read"):
        to_numpy_image(torch.zeros(7, 8, 9))


# ------------------------------------------------------------------------------------------------ figures
def test_show_grid_axes_and_titles():
    images = [np.zeros((8, 8, 3), np.uint8)] * 5
    fig = show_grid(images, titles=list("abcde"), ncols=4)
    assert len(fig.axes) == 5
    assert [ax.get_title() for ax in fig.axes] == list("abcde")
    assert len(show_grid(torch.rand(3, 3, 8, 8), ncols=2).axes) == 3
    assert len(show_grid([]).axes) == 0
    with pytest.raises(ValueError, match="titles"):
        show_grid(images, titles=["a"])


def test_class_legend_lists_requested_classes():
    fig = show_grid([np.zeros((4, 4))])
    leg = class_legend(fig, PALETTE, ["bg", "cat", "dog"], labels=np.array([[2, 0], [2, 2]]))
    assert [t.get_text() for t in leg.get_texts()] == ["bg", "dog"]
    with pytest.raises(ValueError, match="class names"):
        class_legend(fig, PALETTE, ["bg"])


def test_show_segmentation_layout_and_legend():
    imgs = torch.randn(5, 3, 16, 16)  # normalised batch: denormalised automatically
    masks = torch.zeros(5, 16, 16, dtype=torch.long)
    masks[:, 4:8, 4:8] = 1
    masks[:, 0, 0] = 255
    logits = torch.randn(5, 3, 16, 16)
    fig = show_segmentation(imgs, masks, PALETTE, preds=logits, class_names=["bg", "cat", "dog"],
                            ignore_index=255, n=4)
    assert len(fig.axes) == 4 * 3
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "bg" in labels and "cat" in labels and "255" not in labels
    fig2 = show_segmentation(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8), int), PALETTE)
    assert len(fig2.axes) == 2 * 2
    fig3 = show_segmentation(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), int), PALETTE,
                             preds=np.ones((8, 8), int))
    assert len(fig3.axes) == 3
    with pytest.raises(ValueError, match="masks"):
        show_segmentation(np.zeros((3, 8, 8, 3), np.uint8), np.zeros((2, 8, 8), int), PALETTE)
    with pytest.raises(ValueError, match="preds shape"):
        show_segmentation(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8), int), PALETTE,
                          preds=np.zeros((2, 4, 4), int))


def test_plot_history_splits_losses_and_metrics():
    history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "val_miou": 0.2, "lr": 0.1},
               {"epoch": 2, "train_loss": 0.7},  # no validation this epoch
               {"epoch": 3, "train_loss": 0.5, "val_loss": 0.8, "val_miou": 0.4, "lr": 0.01}]
    fig = plot_history(history)
    ax_loss, ax_metric = fig.axes
    assert sorted(line.get_label() for line in ax_loss.get_lines()) == ["train_loss", "val_loss"]
    assert [line.get_label() for line in ax_metric.get_lines()] == ["val_miou"]
    assert list(ax_metric.get_lines()[0].get_xdata()) == [1, 3]
    assert len(plot_history([]).axes) == 2  # nothing recorded yet: empty panels, no exception


def test_plot_confusion_matrix_normalises_rows():
    cm = np.array([[8, 2, 0], [0, 0, 0], [1, 1, 2]])
    fig = plot_confusion_matrix(cm, ["a", "b", "c"])
    assert len(fig.axes) == 2  # matrix and colour bar
    shown = fig.axes[0].get_images()[0].get_array()
    assert np.allclose(shown.sum(axis=1), [1, 0, 1])
    raw = plot_confusion_matrix(torch.tensor(cm), ["a", "b", "c"], normalize=False)
    assert np.array_equal(np.asarray(raw.axes[0].get_images()[0].get_array()), cm)
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(np.zeros((2, 2)), ["a"])


# ----------------------------------------------------------------------------------------------- viz/masks.py
def test_outline_matches_max_pooling():
    # the border pixels of the mask (an 8-neighbour outside it), widened: written with torch's max pooling
    rng = np.random.default_rng(0)
    mask = np.zeros((60, 450), bool)
    mask[10:40, 100:300] = True
    mask[:3, :5] = True  # touching the picture's border: outside the picture does not count as outside the mask
    mask |= rng.random(mask.shape) < 0.002
    m = torch.from_numpy(mask)
    edge = m & ~(F.max_pool2d((~m).float()[None, None], 3, 1, 1)[0, 0] == 0)
    width = 450 // 200
    edge = F.max_pool2d(edge.float()[None, None], 2 * width + 1, 1, width)[0, 0].bool().numpy()
    picture = rng.integers(0, 255, (60, 450, 3), dtype=np.uint8)
    out = outline(picture, mask, (1, 2, 3))
    assert np.array_equal(out[edge], np.tile([1, 2, 3], (int(edge.sum()), 1)))
    assert np.array_equal(out[~edge], picture[~edge]) and not np.shares_memory(out, picture)
    with pytest.raises(ValueError, match="does not match"):
        outline(picture, mask[:10], (0, 0, 0))


def test_boxes_edges_outcomes_and_png():
    boxed = draw_boxes(np.zeros((40, 60, 3), np.uint8), [{"xmin": 5, "ymin": 5, "xmax": 30, "ymax": 20}], width=1)
    assert boxed[5, 10].tolist() == [255, 255, 0] and boxed[12, 10].tolist() == [0, 0, 0]
    ids = np.array([[1, 1, 2], [1, 1, 2], [3, 3, 3]])
    assert id_edges(ids).astype(int).tolist() == [[0, 1, 0], [1, 1, 1], [0, 0, 0]]
    pic = panoptic_picture(np.zeros((3, 3), int), ids, [[9, 9, 9]])
    assert pic[0, 0].tolist() == [9, 9, 9] and pic[0, 1].tolist() == [30, 30, 30]
    pred = np.array([[1, 1], [0, 0]], bool)
    truth = np.array([[1, 0], [1, 0]], bool)
    outcome = outcome_map(pred, truth)
    assert outcome.tolist() == [[1, 2], [3, 0]] and len(OUTCOME_PALETTE) == 4
    data = png_bytes(colorize(outcome, OUTCOME_PALETTE), size=(8, 8))
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG" and img.size == (8, 8)
        assert np.asarray(img.convert("RGB"))[0, 7].tolist() == OUTCOME_PALETTE[2].tolist()  # nearest: sharp pixels


def test_outcome_slider_figure_steps_through_pictures_and_scores():
    from torchmetrics.functional.classification import binary_f1_score, binary_jaccard_index

    rng = np.random.default_rng(0)
    truth = rng.random((12, 10)) < 0.4
    preds = np.stack([truth, ~truth, rng.random((12, 10)) < 0.5, np.roll(truth, 3, axis=1)])
    fig = outcome_slider_figure(torch.from_numpy(preds), truth, labels=["a", "b", "c", "d"], prefix="case ",
                                active=2, zoom=2)
    slider = fig.layout.sliders[0]
    assert len(fig.data) == len(slider.steps) == 4 and slider.active == 2 and slider.currentvalue.prefix == "case "
    assert [t.visible for t in fig.data] == [False, False, True, False]
    assert fig.layout.title.text == slider.steps[2].args[1]["title.text"]
    for k, (step, trace, pred) in enumerate(zip(slider.steps, fig.data, preds, strict=True)):
        # each step shows its own picture and no other; its title holds the scores of an independent library
        assert step.label == "abcd"[k] and step.method == "update"
        assert step.args[0]["visible"] == [j == k for j in range(4)]
        p, t = torch.from_numpy(pred).long(), torch.from_numpy(truth).long()
        iou, dice = float(binary_jaccard_index(p, t)), float(binary_f1_score(p, t))
        assert step.args[1]["title.text"] == f"case {'abcd'[k]}: IoU {iou:.3f}, Dice {dice:.3f}"
        with Image.open(io.BytesIO(base64.b64decode(trace.source.split(",", 1)[1]))) as img:
            assert img.size == (20, 24)
            shown = np.asarray(img.convert("RGB"))[::2, ::2]
        assert np.array_equal(shown, OUTCOME_PALETTE[outcome_map(pred, truth)])
    assert fig.layout.sliders[0].steps[1].args[1]["title.text"].endswith("IoU 0.000, Dice 0.000")
    with pytest.raises(ValueError, match=r"truth's shape \(12, 10\)"):
        outcome_slider_figure(preds[:, :5], truth)
    with pytest.raises(ValueError, match="3 labels for 4 predictions"):
        outcome_slider_figure(preds, truth, labels="abc")
    with pytest.raises(ValueError, match="active=4"):
        outcome_slider_figure(preds, truth, active=4)
