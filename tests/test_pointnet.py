"""PointNet, PointNet++ and their recipes (Chapter 6): invariances, known values, open3d as oracle, training runs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.data.point_transforms import knn_patches, rotation_about_axis
from course_lib.losses import orthogonality_loss, pointnet_classification_loss
from course_lib.models.pointnet import (
    PatchPointNet,
    TNet,
    critical_points,
    pointnet_cls,
    pointnet_partseg,
    upper_bound_shape,
)
from course_lib.models.pointnet2 import (
    SetAbstraction,
    SetAbstractionMSG,
    ball_query,
    farthest_point_sample,
    group_points,
    index_points,
    pointnet2_cls,
)
from course_lib.recipes.pointnet_demos import fit_tnet_alignment, train_outlier_scorer
from course_lib.synthetic.points import add_outliers

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one torch thread (tests/conftest.py)


def _warm(model, channels=3):
    """Give BatchNorm non-trivial running statistics, then switch to eval mode."""
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(4, 64, channels))
    return model.eval()


# ----------------------------------------------------------------------------------------------- PointNet
def test_tnet_starts_at_identity_and_orthogonality_loss():
    t = TNet(3, width=0.25)(torch.randn(2, 3, 50))
    assert torch.allclose(t, torch.eye(3).expand(2, 3, 3))
    q, _ = torch.linalg.qr(torch.randn(4, 5, 5))
    assert orthogonality_loss(q) < 1e-10
    a = torch.randn(3, 4, 4)
    expected = ((a @ a.transpose(1, 2) - torch.eye(4)) ** 2).sum((1, 2)).mean()
    assert torch.isclose(orthogonality_loss(a), expected)
    assert orthogonality_loss(2 * torch.eye(3)[None]) == 27.0  # 2I (2I)^T - I = 3I: three entries of 3^2


def test_classification_loss_adds_the_weighted_regulariser():
    logits, target = torch.randn(4, 5), torch.tensor([0, 1, 4, 2])
    a = torch.randn(4, 8, 8)
    ce = F.cross_entropy(logits, target)
    assert torch.isclose(pointnet_classification_loss(0.0)((logits, {"feature_transform": a}), target), ce)
    value = pointnet_classification_loss(0.001)((logits.half(), {"feature_transform": a}), target)
    assert value.dtype == torch.float32
    assert torch.isclose(value, F.cross_entropy(logits.half().float(), target) + 0.001 * orthogonality_loss(a))
    assert torch.isclose(pointnet_classification_loss(0.001)((logits, {}), target), ce)  # PointNet++: no transform
    smooth = pointnet_classification_loss(0.0, label_smoothing=0.1)((logits, {}), target)
    assert torch.isclose(smooth, F.cross_entropy(logits, target, label_smoothing=0.1))


def test_pointnet_is_invariant_to_the_order_of_the_points():
    torch.manual_seed(0)
    model = _warm(pointnet_cls(num_classes=5, width=0.25))
    x = torch.randn(2, 100, 3)
    with torch.no_grad():
        a, aux = model(x)
        b, _ = model(x[:, torch.randperm(100)])
    assert torch.allclose(a, b, atol=1e-5)
    assert a.shape == (2, 5) and aux["input_transform"].shape == (2, 3, 3)
    assert aux["feature_transform"].shape == (2, 16, 16)


def test_pointnet_known_size_gradients_and_inputs():
    assert sum(p.numel() for p in pointnet_cls(num_classes=40).parameters()) == 3_469_745  # the paper: 3.5 M
    model = pointnet_cls(num_classes=3, in_channels=6, width=0.125)
    logits, aux = model(torch.randn(4, 32, 6))
    (F.cross_entropy(logits, torch.tensor([0, 1, 2, 0])) + orthogonality_loss(aux["feature_transform"])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match=r"\[B, N, 6\]"):
        model(torch.randn(4, 32, 3))
    plain = pointnet_cls(num_classes=3, width=0.125, input_transform=False, feature_transform=False)
    assert plain(torch.randn(2, 16, 3))[1].keys() == {"critical_indices"}


def test_critical_points_and_upper_bound_shape_keep_the_global_feature():
    torch.manual_seed(1)
    model = _warm(pointnet_cls(num_classes=4, width=0.25))
    cloud = torch.randn(300, 3)
    crit = critical_points(model, cloud)
    assert 0 < len(crit) < 300
    with torch.no_grad():
        full = model.encoder(cloud[None])["global"]
        assert torch.equal(model.encoder(cloud[crit][None])["global"], full)
        keep = [i for i in range(300) if i not in set(crit.tolist())][:50] + crit.tolist()
        assert torch.equal(model.encoder(cloud[keep][None])["global"], full)  # any superset of the critical set
        grid = torch.rand(3000, 3) * 4 - 2
        ok = upper_bound_shape(model, cloud, grid)
        assert 0 < ok.sum() < len(grid)
        assert torch.equal(model.encoder(torch.cat([cloud, grid[ok]])[None])["global"], full)
        far = torch.tensor([[8.0, -8.0, 8.0]])  # far outside: its embedding beats the maxima
        assert not upper_bound_shape(model, cloud, far).any()
        assert not torch.equal(model.encoder(torch.cat([cloud, far])[None])["global"], full)


def test_part_segmenter_shapes_and_category():
    model = pointnet_partseg(num_parts=6, num_categories=3, width=0.125)
    logits, _ = model(torch.randn(2, 40, 3), torch.tensor([0, 2]))
    assert logits.shape == (2, 6, 40)
    F.cross_entropy(logits, torch.randint(0, 6, (2, 40))).backward()
    with pytest.raises(ValueError, match="category"):
        model(torch.randn(2, 40, 3))


def test_tnet_alignment_demo_learns_to_undo_turns():
    torch.manual_seed(0)
    cloud = torch.cat([torch.rand(40, 3) * torch.tensor([1.0, 0.2, 0.2]), torch.rand(20, 3) * 0.3 + 0.5])
    cloud = cloud - cloud.mean(0)
    tnet, losses = fit_tnet_alignment(cloud, up_axis=2, steps=40, batch=8, width=0.125)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:5])
    turned = cloud @ rotation_about_axis(2.0, 2).T
    with torch.no_grad():
        aligned = turned @ tnet(turned.T[None])[0]
    assert ((aligned - cloud) ** 2).sum(1).mean() < ((turned - cloud) ** 2).sum(1).mean()


def test_patches_and_outlier_scorer():
    pts = torch.randn(50, 3)
    patches, idx = knn_patches(pts, k=5)
    assert torch.equal(idx[:, 0], torch.arange(50)) and torch.allclose(patches[:, 0], torch.zeros(50, 3))
    d = (pts[:, None] - pts[None]).norm(dim=2).sort(dim=1).values[:, :5]
    assert torch.allclose((pts[idx] - pts[:, None]).norm(dim=2), d, atol=1e-5)
    fixed, _ = knn_patches(pts, k=5, scale=0.5)
    assert torch.allclose(fixed, (pts[idx] - pts[:, None]) / 0.5)
    gen = torch.Generator().manual_seed(0)
    sphere = F.normalize(torch.randn(400, 3, generator=gen), dim=1)
    clouds, masks = zip(*[add_outliers(sphere, 0.1, 0.005, gen) for _ in range(3)], strict=True)
    assert clouds[0].shape == (440, 3) and int(masks[0].sum()) == 40
    net = train_outlier_scorer(clouds, masks, steps=150)
    test, truth = add_outliers(sphere, 0.1, 0.005, gen)
    with torch.no_grad():
        score = torch.sigmoid(net(knn_patches(test, k=16, scale=0.1)[0])).squeeze(1)
    assert score[truth].mean() > score[~truth].mean() + 0.2
    assert PatchPointNet(out_channels=3)(torch.randn(7, 16, 3)).shape == (7, 3)


# ----------------------------------------------------------------------------------------------- PointNet++
def test_farthest_point_sampling_matches_open3d():
    import open3d as o3d

    xyz = torch.rand(2, 500, 3, dtype=torch.float64)
    idx = farthest_point_sample(xyz, 40)
    for b in range(2):
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(xyz[b].numpy()))
        theirs = np.asarray(cloud.farthest_point_down_sample(40).points)  # open3d keeps the index order
        assert np.array_equal(theirs, xyz[b, idx[b].sort().values].numpy())
        assert idx[b, 0] == 0 and len(set(idx[b].tolist())) == 40
    assert torch.equal(farthest_point_sample(xyz[0], 40), idx[0])
    assert farthest_point_sample(xyz, 5, start=torch.tensor([3, 7]))[:, 0].tolist() == [3, 7]
    with pytest.raises(ValueError):
        farthest_point_sample(xyz, 501)


def test_ball_query_matches_a_brute_force_reference():
    torch.manual_seed(0)
    xyz = torch.rand(2, 60, 3)
    centroids = torch.rand(2, 7, 3)
    radius, k = 0.3, 6
    idx = ball_query(xyz, centroids, radius, k)
    assert idx.shape == (2, 7, k)
    for b in range(2):
        for s in range(7):
            d = (xyz[b] - centroids[b, s]).norm(dim=1)
            inside = torch.nonzero(d <= radius).flatten().tolist()
            expected = inside[:k] + [inside[0]] * (k - len(inside)) if inside else [int(d.argmin())] * k
            assert idx[b, s].tolist() == expected


def test_index_and_group_points():
    pts = torch.arange(24.0).view(2, 4, 3)
    assert index_points(pts, torch.tensor([[3, 0], [1, 1]])).tolist() == [[[9, 10, 11], [0, 1, 2]],
                                                                          [[15, 16, 17], [15, 16, 17]]]
    feats = torch.ones(2, 4, 5)
    grouped = group_points(pts, feats, pts[:, :1], torch.zeros(2, 1, 3, dtype=torch.long))
    assert grouped.shape == (2, 1, 3, 8) and torch.equal(grouped[..., :3], torch.zeros(2, 1, 3, 3))


def test_set_abstraction_levels_and_classifier():
    sa = SetAbstraction(16, 0.5, 8, 2, [8, 12])
    xyz, feat = sa(torch.rand(3, 64, 3), torch.rand(3, 64, 2))
    assert xyz.shape == (3, 16, 3) and feat.shape == (3, 16, 12)
    msg = SetAbstractionMSG(16, [0.2, 0.5], [4, 8], 0, [[8], [8, 10]])
    assert msg(torch.rand(3, 64, 3), None)[1].shape == (3, 16, 18)
    assert sum(p.numel() for p in pointnet2_cls(num_classes=40).parameters()) == 1_472_360
    for variant, channels in (("ssg", 3), ("msg", 6)):
        model = pointnet2_cls(num_classes=4, in_channels=channels, variant=variant, width=0.125, npoints=(32, 8),
                              nsamples=(8, 8))
        logits, aux = model(torch.rand(2, 64, channels))
        assert logits.shape == (2, 4) and aux["centroids"][1].shape == (2, 8, 3)
        F.cross_entropy(logits, torch.tensor([0, 3])).backward()
        assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError):
        pointnet2_cls(num_classes=4, variant="big")


# ----------------------------------------------------------------------------------------------- recipes
TINY = {"num_points": 64, "mesh_points": 128, "width": 0.125, "epochs": 2, "batch_size": 8, "max_per_class": None}


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from course_lib.synthetic.modelnet import write_sample

    return write_sample(tmp_path_factory.mktemp("pn_sample"), classes=("sphere", "box", "torus"), n_train=6,
                        n_test=3, forms=("off",))


@pytest.fixture(scope="module")
def trained(sample, tmp_path_factory):
    from course_lib.recipes import get_recipe

    out = tmp_path_factory.mktemp("pn_run")
    recipe = get_recipe("pointnet-modelnet40")
    result = recipe.train(sample, profile="quick", overrides={**TINY, "cache_dir": str(out / "cache")},
                          out_dir=out, progress=False)
    return recipe, result, out


def test_recipes_are_registered_with_both_profiles():
    from course_lib.recipes import RECIPES

    for name in ("pointnet-modelnet40", "pointnet2-modelnet40"):
        recipe = RECIPES[name]
        full, quick = recipe.config("full"), recipe.config("quick")
        assert recipe.chapter == "6" and recipe.monitor == "overall_acc" and recipe.splits == ("train", "val", "test")
        assert full.num_points == 1024 and full.epochs == 250 and quick.num_points < 1024
        assert full.votes == 1 and full.val_fraction > 0
        assert recipe.dataset == "modelnet" and recipe.info.num_classes == 40
    assert RECIPES["pointnet-modelnet40"].config("full").reg_weight == 0.001


def test_recipe_trains_records_classes_and_evaluates(trained, sample):
    recipe, result, out = trained
    assert len(result.history) == 2 and set(result.metrics) == {"overall_acc", "class_acc"}
    assert result.config.classes == ("sphere", "box", "torus") and result.model.num_classes == 3
    up_axis = recipe.build_dataset(sample, "train", result.config, train=True).up_axis
    assert up_axis == 2 and (out / "last.pt").is_file() and (out / "best.pt").is_file()
    model, cfg = recipe.load_model(out / "last.pt", torch.device("cpu"))
    assert cfg == result.config  # the checkpoint stores the settings, the class list included
    test = recipe.build_dataset(sample, "test", cfg, train=False)
    res = recipe.classify(model, test, cfg)
    assert res.confusion.sum() == len(test) == 9 and res.probabilities.shape == (9, 3)
    acc = (res.predictions == res.labels).float().mean().item()
    assert res.overall_accuracy == pytest.approx(acc)
    with pytest.raises(ValueError, match="not in the class list"):
        recipe.build_dataset(sample, "test", dataclasses.replace(cfg, classes=("cone", "box", "torus")), train=False)
    with pytest.raises(ValueError, match="class list is unknown"):
        recipe.build_model(dataclasses.replace(cfg, classes=None))
    assert model.training is False and recipe.classify(model.train(), test, cfg).confusion.equal(res.confusion)
    assert model.training  # evaluation restores the model's mode


def test_evaluate_classifier_voting():
    from course_lib.recipes.pointnet import evaluate_classifier

    class Height(torch.nn.Module):  # scores from the up coordinate only: blind to turns about the up axis
        def __init__(self, axis):
            super().__init__()
            self.axis, self.w = axis, torch.nn.Parameter(torch.ones(1))

        def forward(self, p):
            h = p[..., self.axis].mean(dim=1, keepdim=True) * self.w
            return torch.cat([h, -h], dim=1), {}

    pts = torch.randn(6, 20, 3)
    loader = [(pts, torch.tensor([0, 1, 0, 1, 0, 1]))]
    one = evaluate_classifier(Height(2), loader, 2, votes=1, up_axis=2)
    eight = evaluate_classifier(Height(2), loader, 2, votes=8, up_axis=2)
    assert torch.allclose(one.probabilities, eight.probabilities, atol=1e-6) and eight.votes == 8
    other = evaluate_classifier(Height(0), loader, 2, votes=8, up_axis=2)  # x changes under the turns
    assert not torch.allclose(evaluate_classifier(Height(0), loader, 2).probabilities, other.probabilities)
    assert one.confusion.sum() == 6 and 0 <= one.class_accuracy <= 1


def test_cli_evaluate_prints_the_confusion_matrix(trained, sample, capsys):
    from course_lib.evaluate import main

    _, _, out = trained
    code = main(["pointnet-modelnet40", "--checkpoint", str(out / "last.pt"), "--data-root", str(sample),
                 "--split", "all", "--no-progress"])  # the same entry point as python -m course_lib.evaluate
    printed = capsys.readouterr()
    assert code == 0, printed.err
    splits = json.loads(printed.out.strip().splitlines()[-1])["splits"]
    assert set(splits) == {"train", "val", "test"}
    test = splits["test"]
    assert test["votes"] == 1 and test["num_shapes"] == 9 and np.array(test["confusion_matrix"]).sum() == 9
    assert test["classes"] == ["sphere", "box", "torus"]


def test_pointnet2_recipe_runs_one_epoch(sample, tmp_path):
    from course_lib.recipes import get_recipe

    recipe = get_recipe("pointnet2-modelnet40")
    result = recipe.train(sample, profile="quick", overrides={**TINY, "epochs": 1, "npoints": [16, 8],
                                                              "nsamples": [8, 8], "cache_dir": str(tmp_path)},
                          out_dir=tmp_path / "run", progress=False)
    assert 0.0 <= result.metrics["overall_acc"] <= 1.0 and len(result.config.classes) == 3
    assert result.config.npoints == (16, 8) and result.model.num_classes == 3


# ----------------------------------------------------------------------------------------------- 3D plots
def test_point_cloud_figures():
    from course_lib import viz as p3d

    pts = np.random.default_rng(0).normal(size=(60, 3))
    fig = p3d.point_cloud_figure(pts, labels=np.arange(60) % 3, class_names=["a", "b", "c"], up_axis=1)
    assert [t.name for t in fig.data] == ["a", "b", "c"] and sum(len(t.x) for t in fig.data) == 60
    assert fig.layout.scene.camera.up.y == 1 and fig.layout.scene.aspectmode == "data"
    fig = p3d.point_cloud_figure(torch.from_numpy(pts), values=np.linspace(0, 1, 60), value_name="score")
    assert fig.data[0].marker.colorbar.title.text == "score"
    with pytest.raises(ValueError, match="labels"):
        p3d.point_cloud_figure(pts, labels=[0, 1])
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        p3d.point_cloud_figure(np.zeros((5, 2)))


def test_clouds_grid_is_one_scene_with_normalised_clouds():
    from course_lib import viz as p3d

    clouds = [np.random.default_rng(i).normal(5, 3, size=(40, 3)) for i in range(5)]
    fig = p3d.clouds_grid(clouds, [f"c{i}<br>x" for i in range(5)], cols=3, up_axis=2)
    scenes = [k for k in fig.layout.to_plotly_json() if k.startswith("scene")]
    assert scenes == ["scene"]  # one WebGL context, whatever the number of clouds
    assert len(fig.data) == 6 and list(fig.data[-1].text[:5]) == [f"c{i}<br>x" for i in range(5)]
    for trace in fig.data[:5]:
        xyz = np.stack([trace.x, trace.y, trace.z], axis=1)
        assert np.isclose(np.linalg.norm(xyz - xyz.mean(0), axis=1).max(), 1.0)
    with pytest.raises(ValueError):
        p3d.clouds_grid([], [])
    with pytest.raises(ValueError, match="titles"):
        p3d.clouds_grid(clouds, ["a"])


def test_critical_sampling_and_confusion_figures():
    from course_lib import viz as p3d

    pts = np.random.default_rng(0).normal(size=(30, 3))
    fig = p3d.critical_points_figure(pts, np.arange(30) < 4, upper_bound=np.zeros((7, 3)))
    assert [len(t.x) for t in fig.data] == [7, 30, 4]
    fig = p3d.sampling_grouping_figure(pts, torch.tensor([0, 5]), torch.tensor([[0, 1, 1], [5, 6, 7]]))
    assert [len(t.x) for t in fig.data] == [30, 2, 3, 2]
    fig = p3d.confusion_matrix_figure(torch.tensor([[3, 1], [0, 0]]), ["a", "b"])
    assert fig.data[0].z.tolist() == [[0.75, 0.25], [0.0, 0.0]] and fig.data[0].text[0][0] == "3"
    assert p3d.confusion_matrix_figure(np.eye(2), ["a", "b"], normalize=False).data[0].zmax is None
    with pytest.raises(ValueError, match="class names"):
        p3d.confusion_matrix_figure(np.eye(3), ["a", "b"])


# ----------------------------------------------------------------------------------------------- results file
def test_chapter_results_table_lists_this_runs_first():
    from course_lib import results

    runs = [{"model": "A", "metrics": {"overall_acc": 0.5}}, {"model": "B", "what": "x", "metrics": {"class_acc": 0.2}}]
    header, rows = results.table_rows("ch06_pointnet", this_run=runs)  # several models of one run
    assert header[3:] == ["overall acc. %", "class-avg acc. %"]
    assert rows[0][:2] == ["A", "this run"] and rows[0][3:] == ["50.0", "-"] and rows[1][:2] == ["B", "x"]
    assert rows[1][4] == "20.0"
    single = results.table_rows("ch06_pointnet", this_run=runs[0])[1]  # one run, as a dict
    assert single[0][0] == "A" and single[1][0] != "B"
    measured = {r[0]: r for r in rows}
    assert measured["PointNet (pointnet-modelnet40, quick)"][3] == "97.9"  # the README's 0.979
    assert measured["PointNet++ SSG (pointnet2-modelnet40, quick)"][3] == "93.8"
    assert measured["PointNet (pointnet-modelnet40, full)"][3] == "not measured yet"
    paper = measured["PointNet, Qi et al. 2017, Table 1"]
    assert paper[1] == "published" and paper[3:] == ["89.2", "86.2"]
    loading = results.table_rows("ch06_loading")[1]
    assert [r[3:] for r in loading] == [["156", "0.14"]]
