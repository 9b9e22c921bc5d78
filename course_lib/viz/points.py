"""Interactive 3D views of point clouds with plotly: clouds, predictions, critical points, sampling and grouping,
and an interactive confusion matrix.

Introduced in Chapter 6. Every function returns a ``plotly.graph_objects.Figure``; a notebook cell ends with
``fig.show()``. The figures rotate and zoom with the mouse both in Jupyter and on the static book pages (the book
build makes plotly emit HTML with the plotly.js bundle, see ``book/_ext/course_book.py``), so no kernel is needed.

Clouds are ``[N, 3]`` (or ``[N, C]``, only x, y, z are drawn) NumPy arrays or tensors. ``up_axis`` (0, 1, 2 for
x, y, z; ModelNet meshes are z-up, its point-cloud releases y-up) sets the camera so that shapes stand upright.

Example:
    >>> fig = point_cloud_figure(np.random.rand(100, 3), title="random")
    >>> len(fig.data)
    1
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "CLASS_COLORS",
    "clouds_grid",
    "confusion_matrix_figure",
    "critical_points_figure",
    "point_cloud_figure",
    "sampling_grouping_figure",
]

#: Qualitative colours (plotly's "Dark24"-like set of our own choosing) for class or group indices.
CLASS_COLORS = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363",
)  # fmt: skip


def _xyz(points) -> np.ndarray:
    if hasattr(points, "detach"):
        points = points.detach().cpu().numpy()
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f"a point cloud must be [N, 3] (or [N, C] with C >= 3), got shape {points.shape}")
    return points[:, :3]


def _scene(up_axis: int) -> dict:
    up = [0.0, 0.0, 0.0]
    up[up_axis] = 1.0
    eye = {0: (0.2, 1.4, 1.4), 1: (1.4, 0.6, 1.4), 2: (1.4, 1.4, 0.6)}[up_axis]
    axis = dict(showbackground=False, showticklabels=False, title="", showgrid=True, gridcolor="#e5e5e5",
                zeroline=False)
    return dict(aspectmode="data", xaxis=axis, yaxis=axis, zaxis=axis,
                camera=dict(up=dict(zip("xyz", up, strict=True)), eye=dict(zip("xyz", eye, strict=True))))


def _trace(xyz: np.ndarray, color, size: float, name: str, showlegend: bool = True, opacity: float = 1.0,
           text=None, colorbar: dict | None = None, colorscale: str | None = None) -> go.Scatter3d:
    marker = dict(size=size, color=color, opacity=opacity, line=dict(width=0))
    if colorscale is not None:
        marker.update(colorscale=colorscale, colorbar=colorbar, showscale=colorbar is not None)
    return go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers", name=name, marker=marker,
                        showlegend=showlegend, text=text, hoverinfo="text+name" if text is not None else "name")


def point_cloud_figure(points, *, labels=None, class_names: Sequence[str] | None = None, values=None,
                       value_name: str = "value", colorscale: str = "Viridis", color: str = "#1f77b4",
                       size: float = 2.5, title: str | None = None, up_axis: int = 2,
                       height: int = 420) -> go.Figure:
    """One interactive point cloud, coloured by class labels, by a scalar per point, or in one colour.

    Args:
        points: ``[N, 3]``.
        labels: ``[N]`` integer labels: one trace (and legend entry) per label.
        class_names: names of the labels.
        values: ``[N]`` floats (curvature, a score, ...) drawn with ``colorscale`` and a colour bar.
        value_name: the colour bar's title.
        colorscale: plotly colour scale for ``values``.
        color: the colour when neither labels nor values are given.
        size: marker size in pixels.
        title: figure title.
        up_axis: the axis that points up.
        height: figure height in pixels.

    Example:
        >>> fig = point_cloud_figure(np.random.rand(50, 3), labels=np.arange(50) % 2, class_names=["a", "b"])
        >>> [t.name for t in fig.data]
        ['a', 'b']
    """
    xyz = _xyz(points)
    fig = go.Figure()
    if labels is not None:
        labels = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels).reshape(-1)
        if len(labels) != len(xyz):
            raise ValueError(f"{len(labels)} labels for {len(xyz)} points")
        for k in np.unique(labels):
            name = class_names[k] if class_names is not None and 0 <= k < len(class_names) else str(k)
            fig.add_trace(_trace(xyz[labels == k], CLASS_COLORS[int(k) % len(CLASS_COLORS)], size, name))
    elif values is not None:
        values = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, np.float64).reshape(-1)
        if len(values) != len(xyz):
            raise ValueError(f"{len(values)} values for {len(xyz)} points")
        fig.add_trace(_trace(xyz, values, size, value_name, showlegend=False, colorscale=colorscale,
                             colorbar=dict(title=value_name, thickness=12), text=[f"{v:.3g}" for v in values]))
    else:
        fig.add_trace(_trace(xyz, color, size, "points", showlegend=False))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=40 if title else 10, b=0), title=title,
                      scene=_scene(up_axis), legend=dict(itemsizing="constant"))
    return fig


def clouds_grid(clouds: Sequence, titles: Sequence[str] | None = None, *, cols: int = 4, up_axis: int = 2,
                size: float = 2.0, colors: Sequence[str] | None = None, height_per_row: int = 230,
                spacing: float = 2.6) -> go.Figure:
    """A gallery of clouds side by side in **one** 3D scene (e.g. one shape per class, or predictions).

    Each cloud is centred and scaled into the unit sphere and placed on a grid that faces the camera; dragging
    turns the whole gallery. One scene (one WebGL context) per figure matters: browsers keep only about 16 WebGL
    contexts per page and drop the oldest figures beyond that, so a page of many small 3D subplots goes blank.

    Args:
        clouds: ``[N_i, 3]`` clouds.
        titles: one label per cloud, drawn above it (``<br>`` breaks a line).
        cols: clouds per row.
        up_axis: the axis that points up.
        size: marker size.
        colors: one colour per cloud (default: by position).
        height_per_row: pixels per row.
        spacing: distance between the centres of neighbouring clouds (the clouds have radius 1).

    Example:
        >>> fig = clouds_grid([np.random.rand(20, 3)] * 3, ["a", "b", "c"], cols=2)
        >>> len(fig.data)  # three clouds and one trace of labels
        4
    """
    n = len(clouds)
    if n == 0:
        raise ValueError("clouds_grid needs at least one cloud")
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} clouds")
    cols = min(cols, n)
    rows = -(-n // cols)
    across, depth = (up_axis + 1) % 3, (up_axis + 2) % 3
    lines = max((str(t).count("<br>") + 1 for t in titles), default=1) if titles is not None else 0
    row_step = spacing + 0.3 * max(0, lines - 1)  # room for the labels
    fig = go.Figure()
    anchors = []
    for i, cloud in enumerate(clouds):
        xyz = _xyz(cloud)
        xyz = xyz - xyz.mean(axis=0)
        radius = np.linalg.norm(xyz, axis=1).max() if len(xyz) else 1.0
        xyz = xyz / (radius if radius > 0 else 1.0)
        offset = np.zeros(3)
        offset[across] = (i % cols - (cols - 1) / 2) * spacing
        offset[up_axis] = -(i // cols) * row_step
        colour = colors[i] if colors is not None else CLASS_COLORS[i % len(CLASS_COLORS)]
        name = str(titles[i]).replace("<br>", " ") if titles is not None else f"cloud {i}"
        fig.add_trace(_trace(xyz + offset, colour, size, name, showlegend=False))
        label = offset.copy()
        label[up_axis] += 1.25 + 0.15 * max(0, lines - 1)
        anchors.append(label)
    if titles is not None:
        top = anchors[0].copy()
        top[up_axis] += 0.2 * lines  # an empty label above the first row keeps multi-line labels inside the scene
        at = np.array([*anchors, top])
        fig.add_trace(go.Scatter3d(x=at[:, 0], y=at[:, 1], z=at[:, 2], mode="text", text=[*titles, ""],
                                   textfont=dict(size=12), showlegend=False, hoverinfo="skip"))
    hidden = dict(visible=False, showbackground=False)
    eye = np.zeros(3)
    eye[depth], eye[up_axis] = -1.6, 0.3
    up = np.zeros(3)
    up[up_axis] = 1.0
    fig.update_layout(
        height=max(260, height_per_row * rows), margin=dict(l=0, r=0, t=10, b=0), showlegend=False,
        scene=dict(aspectmode="data", xaxis=hidden, yaxis=hidden, zaxis=hidden,
                   camera=dict(eye=dict(zip("xyz", eye.tolist(), strict=True)),
                               up=dict(zip("xyz", up.tolist(), strict=True)))))
    return fig


def critical_points_figure(points, critical, *, upper_bound=None, up_axis: int = 2, title: str | None = None,
                           height: int = 440) -> go.Figure:
    """A cloud in grey with its critical points (the winners of PointNet's max pooling) in red, and optionally the
    points of the upper-bound shape (points that would not change the global feature) faint in blue.

    Args:
        points: the cloud ``[N, 3]``.
        critical: indices (or a boolean mask) of the critical points.
        upper_bound: ``[M, 3]`` points of the upper-bound shape, or ``None``.
        up_axis: the axis that points up.
        title: figure title.
        height: figure height.

    Example:
        >>> fig = critical_points_figure(np.random.rand(30, 3), [0, 5, 9])
        >>> [t.name for t in fig.data]
        ['all points (30)', 'critical points (3)']
    """
    xyz = _xyz(points)
    crit = np.asarray(critical.detach().cpu() if hasattr(critical, "detach") else critical)
    if crit.dtype == bool:
        crit = np.nonzero(crit)[0]
    fig = go.Figure()
    if upper_bound is not None:
        ub = _xyz(upper_bound)
        fig.add_trace(_trace(ub, "#6baed6", 1.5, f"upper-bound shape ({len(ub)})", opacity=0.25))
    fig.add_trace(_trace(xyz, "#bdbdbd", 2.0, f"all points ({len(xyz)})", opacity=0.6))
    fig.add_trace(_trace(xyz[crit], "#d62728", 3.5, f"critical points ({len(crit)})"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=40 if title else 10, b=0), title=title,
                      scene=_scene(up_axis), legend=dict(itemsizing="constant"))
    return fig


def sampling_grouping_figure(points, centroids, groups=None, *, up_axis: int = 2, title: str | None = None,
                             height: int = 440, max_groups: int = 12) -> go.Figure:
    """PointNet++'s first two steps on one cloud: the farthest-point-sampled centroids and their ball-query groups.

    Args:
        points: the cloud ``[N, 3]``.
        centroids: indices of the sampled centroids ``[S]``.
        groups: indices ``[S, K]`` of each centroid's group (from :func:`course_lib.models.pointnet2.ball_query`),
            or ``None``; only the first ``max_groups`` groups are coloured.
        up_axis: the axis that points up.
        title: figure title.
        height: figure height.
        max_groups: how many groups to colour.

    Example:
        >>> fig = sampling_grouping_figure(np.random.rand(40, 3), [0, 7], [[0, 1, 2], [7, 8, 9]])
        >>> len(fig.data)
        4
    """
    xyz = _xyz(points)
    cidx = np.asarray(centroids.detach().cpu() if hasattr(centroids, "detach") else centroids).reshape(-1)
    fig = go.Figure()
    fig.add_trace(_trace(xyz, "#d9d9d9", 1.8, f"points ({len(xyz)})", opacity=0.5))
    if groups is not None:
        gidx = np.asarray(groups.detach().cpu() if hasattr(groups, "detach") else groups)
        for g in range(min(len(gidx), max_groups)):
            members = np.unique(gidx[g])
            fig.add_trace(_trace(xyz[members], CLASS_COLORS[g % len(CLASS_COLORS)], 3.0, f"group {g}",
                                 showlegend=g < 3))
    fig.add_trace(_trace(xyz[cidx], "#000000", 4.5, f"centroids ({len(cidx)})"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=40 if title else 10, b=0), title=title,
                      scene=_scene(up_axis), legend=dict(itemsizing="constant"))
    return fig


def confusion_matrix_figure(cm, class_names: Sequence[str], *, normalize: bool = True, title: str | None = None,
                            height: int | None = None) -> go.Figure:
    """An interactive confusion matrix (rows: true class, columns: predicted class); hover shows the counts.

    Args:
        cm: ``[K, K]`` counts (tensor or array).
        class_names: ``K`` names.
        normalize: colour by the share of each row (per-class recall on the diagonal).
        title: figure title.
        height: pixels (default grows with ``K``).

    Example:
        >>> fig = confusion_matrix_figure(np.array([[3, 1], [0, 4]]), ["a", "b"])
        >>> fig.data[0].z.round(2).tolist()
        [[0.75, 0.25], [0.0, 1.0]]
    """
    m = np.asarray(cm.detach().cpu() if hasattr(cm, "detach") else cm, np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"confusion matrix must be square [K, K], got shape {m.shape}")
    if len(class_names) != len(m):
        raise ValueError(f"{len(class_names)} class names for a {len(m)}x{len(m)} matrix")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    z = share if normalize else m
    text = [[f"{int(m[i, j])}" if m[i, j] else "" for j in range(len(m))] for i in range(len(m))]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(class_names), y=list(class_names), colorscale="Blues", zmin=0, zmax=1 if normalize else None,
        text=text, texttemplate="%{text}", customdata=m,
        hovertemplate="true %{y}<br>predicted %{x}<br>count %{customdata:.0f}<br>row share %{z:.2f}<extra></extra>",
        colorbar=dict(title="row share" if normalize else "count", thickness=12)))
    side = height or min(900, 180 + 24 * len(m))
    fig.update_layout(height=side, width=side + 120, title=title, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis=dict(title="predicted class", tickangle=-45), yaxis=dict(title="true class",
                                                                                   autorange="reversed"))
    return fig
