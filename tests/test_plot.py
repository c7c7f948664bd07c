"""Pictures: training curves, decision regions and network drawings render
headless, are files of the size asked for with something drawn in them, and
bad input is a clear error (netspec.plot and the train --plot, plot and draw commands)."""

import json
import struct
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import netspec as ns  # noqa: E402
from netspec import plot  # noqa: E402
from netspec.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TWO_FEATURES = {"netspec": "1", "input": {"features": 2}, "seed": 0,
                "layers": [{"type": "dense", "neurons": 16, "activation": "relu"}, {"type": "dense", "neurons": 3},
                           {"type": "softmax"}],
                "loss": "categorical_crossentropy", "train": {"epochs": 40, "metrics": ["accuracy"]},
                "data": {"dataset": "spiral", "points_per_class": 40, "classes": 3}}
WARNED = {"netspec": "1", "name": "warned", "input": {"features": 2},
          "layers": [{"type": "dense", "neurons": 8}, {"type": "dense", "neurons": 8}, {"type": "dense", "neurons": 3}],
          "loss": "categorical_crossentropy", "train": {"optimizer": {"type": "sgd", "learning_rate": 50}}}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def png_size(path):
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    data = Path(path).read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_png(path, figure_size, dpi=plot.DPI):
    """A valid PNG of figure_size inches at dpi, not blank: mostly not background, varied pixels."""
    width, height = (round(side * dpi) for side in figure_size)
    assert png_size(path) == (width, height)
    from matplotlib.image import imread

    pixels = imread(str(path))[..., :3]
    assert pixels.shape[:2] == (height, width)
    drawn = np.any(np.abs(pixels - pixels[0, 0]) > 0.05, axis=-1).mean()
    assert drawn > 0.03 and pixels.std() > 0.05
    return pixels


def svg_root(path, figure_size):
    root = ElementTree.parse(str(path)).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    width, height = (float(root.get(side).removesuffix("pt")) for side in ("width", "height"))
    assert (width, height) == pytest.approx(tuple(72 * side for side in figure_size), abs=0.01)
    return root


def texts(figure):
    return [t.get_text() for ax in figure.axes for t in ax.texts]


@pytest.fixture(scope="module")
def spiral():
    pipeline = ns.compile(TWO_FEATURES)
    X, y = ns.data.spiral(points_per_class=40, classes=3, seed=0)
    history = pipeline.fit(X, y, verbose=0, validation_data=(X[::2], y[::2]))
    return pipeline, X, y, history


# ---------------------------------------------------------------- lightness

def test_importing_netspec_and_its_plot_module_imports_no_matplotlib():
    code = ("import sys, netspec; from netspec import plot; netspec.plot.picture_format('a.png'); "
            "print(sorted(m for m in sys.modules if m.startswith('matplotlib')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_drawing_changes_no_global_state_of_matplotlib():
    code = f"""
import sys, matplotlib, netspec
settings = lambda: {{key: matplotlib.rcParams._get(key) for key in matplotlib.rcParams}}  # reading "backend" picks one
before = settings()
netspec.plot.network({str(EXAMPLES / "residual_mlp.json")!r})
netspec.plot.history({{"epoch": [1, 2], "loss": [1.0, 0.5]}})
print("pyplot" if "matplotlib.pyplot" in sys.modules else "no pyplot", settings() == before)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["no", "pyplot", "True"]


# ---------------------------------------------------------------- history

def test_history_has_a_loss_and_a_metric_panel_with_training_and_validation(spiral, tmp_path):
    figure = plot.history(spiral[3], title="spiral")
    panels = [ax for ax in figure.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["loss", "accuracy"]
    assert [line.get_label() for line in panels[0].lines] == ["training loss", "validation loss"]
    assert [line.get_label() for line in panels[1].lines] == ["training accuracy", "validation accuracy"]
    assert list(panels[0].lines[0].get_ydata()) == spiral[3]["loss"]
    assert figure.get_suptitle() == "spiral · 40 epochs"
    plot.save(figure, tmp_path / "history.png")
    assert_png(tmp_path / "history.png", figure.get_size_inches())


def test_history_shows_the_parts_of_a_regularized_loss_and_the_learning_rate():
    spec = {**TWO_FEATURES, "regularizer": {"l2": 1e-3},
            "train": {"epochs": 30, "optimizer": {"type": "sgd", "learning_rate": 1.0, "decay": 10.0}}}
    X, y = ns.data.spiral(points_per_class=20, classes=3, seed=0)
    history = ns.compile(spec).fit(X, y, verbose=0)
    figure = plot.history(history)
    loss, rate = figure.axes[0], figure.axes[1]
    assert [line.get_label() for line in loss.lines] == ["training loss", "training data loss", "regularization loss"]
    assert [line.get_linestyle() for line in loss.lines] == ["-", "--", ":"]
    assert rate.get_title() == "learning rate" and rate.get_yscale() == "log"  # 1 to 1/291: two decades
    assert loss.get_yscale() == "linear"


def test_history_reads_the_json_and_csv_files_netspec_train_writes(spiral, tmp_path):
    history = spiral[3]
    (tmp_path / "h.json").write_text(json.dumps(history.as_dict()))
    (tmp_path / "h.csv").write_text(history.as_csv())
    expected = [line.get_ydata().tolist() for line in plot.history(history).axes[0].lines]
    for name in ("h.json", "h.csv"):
        figure = plot.history(tmp_path / name)
        assert [line.get_ydata().tolist() for line in figure.axes[0].lines] == expected


def test_history_marks_the_best_epoch_of_early_stopping():
    figure = plot.history({"epoch": [1, 2, 3], "loss": [1.0, 0.5, 0.7], "val_loss": [1.0, 0.6, 0.9],
                           "best_epoch": 2, "stopped_early": True})
    assert "best epoch (2)" in [line.get_label() for line in figure.axes[0].lines]
    assert figure.get_suptitle() == "3 epochs · stopped early at epoch 3"


@pytest.mark.parametrize("source, message", [
    ({"epoch": [], "loss": []}, "the history has no epochs to draw"),
    ({"epoch": [1, 2], "loss": [1.0]}, "the history has 2 epochs but 1 values of loss"),
    (42, "expected a History, its as_dict() or a history file; received int"),
])
def test_history_refuses_what_is_not_a_history(source, message):
    with pytest.raises(plot.PlotError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plot.history(source)


def test_history_file_that_is_not_a_history_is_named(tmp_path):
    (tmp_path / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.raises(plot.PlotError, match="notes.csv is not a history netspec wrote"):
        plot.history(tmp_path / "notes.csv")


# ---------------------------------------------------------------- decision regions

def test_decision_regions_of_a_classifier_fill_the_plane_with_every_class(spiral, tmp_path):
    pipeline, X, y, _ = spiral
    figure = plot.decision_boundary(pipeline, X, y, resolution=120)
    ax = figure.axes[0]
    assert "decision regions" in ax.get_title() and "on 120 samples" in ax.get_title()
    left, right = ax.get_xlim()
    assert left < X[:, 0].min() and right > X[:, 0].max()  # the data, and a margin
    plot.save(figure, tmp_path / "regions.png", dpi=60)
    pixels = assert_png(tmp_path / "regions.png", figure.get_size_inches(), dpi=60)
    light = [np.array(c) * 0.45 + 0.55 for c in plot.class_colours(3)]
    for colour in light:  # each predicted region takes a visible share of the picture
        assert np.all(np.abs(pixels - colour) < 0.03, axis=-1).mean() > 0.02


def test_decision_boundary_of_a_binary_and_of_a_regression_network_is_shaded(tmp_path):
    xor = ns.compile(EXAMPLES / "xor.json")
    X, y = ns.data.resolve("xor")
    figure = plot.decision_boundary(xor, X, y, resolution=40)
    assert figure.axes[1].get_ylabel() == "P(class 1)"  # the colour bar
    regression = ns.compile({"netspec": "1", "input": {"features": 2}, "seed": 0, "loss": "mse",
                             "layers": [{"type": "dense", "neurons": 4, "activation": "tanh"},
                                        {"type": "dense", "neurons": 2}]})
    figure = plot.decision_boundary(regression, X, np.zeros((4, 2)), resolution=30, output=1)
    assert figure.axes[1].get_ylabel() == "output 1"
    plot.save(figure, tmp_path / "output.svg")
    svg_root(tmp_path / "output.svg", figure.get_size_inches())
    with pytest.raises(plot.PlotError, match="output 2 does not exist: the network has 2 outputs"):
        plot.decision_boundary(regression, X, output=2)


@pytest.mark.parametrize("spec, message", [
    ("cnn.json", "takes inputs of shape 16×16×1"),
    ("two_inputs.json", r"takes several inputs \(image, meta\)"),
    ({**TWO_FEATURES, "input": {"features": 3}}, "takes 3 input features"),
])
def test_decision_regions_need_two_input_features(spec, message):
    pipeline = ns.compile(EXAMPLES / spec if isinstance(spec, str) else spec)
    with pytest.raises(plot.PlotError, match="drawn over the plane of a network's two input features, but this "
                                             "network " + message):
        plot.decision_boundary(pipeline, np.zeros((4, 2)))


def test_decision_regions_refuse_labels_that_do_not_fit(spiral):
    pipeline, X, y, _ = spiral
    with pytest.raises(ns.DataError, match="rows"):
        plot.decision_boundary(pipeline, X, y[:-1])


# ---------------------------------------------------------------- the network

def boxes(figure):
    from matplotlib.patches import FancyBboxPatch

    return [p for p in figure.axes[0].patches if isinstance(p, FancyBboxPatch)]


def arrows(figure):
    from matplotlib.patches import FancyArrowPatch

    return [p for p in figure.axes[0].patches if isinstance(p, FancyArrowPatch)]


@pytest.mark.parametrize("name", ["residual_mlp", "residual_cnn", "two_inputs", "cnn"])
def test_network_has_a_box_per_layer_and_an_arrow_per_edge(name):
    shapes = ns.infer(EXAMPLES / f"{name}.json")
    figure = plot.network(EXAMPLES / f"{name}.json")
    entries = [step for step in shapes.layers if len(step.path) == 2]  # an activation shorthand is in its layer's box
    assert len(boxes(figure)) == len(shapes.input_shapes) + len(entries) + 1  # and the output
    assert len(arrows(figure)) == sum(len(step.inputs) for step in entries) + 1
    shown = texts(figure)
    for step in entries:
        assert step.name in shown
    for step in shapes.layers:  # each box shows the output shape of its last step
        if len(step.path) == 2 and not any(s.path[:2] == step.path and len(s.path) == 3 for s in shapes.layers):
            assert f"{ns.registry.format_shape(step.out_shape)} · {step.parameters:,} parameter" \
                   f"{'s' * (step.parameters != 1)}" in shown


def test_network_boxes_do_not_overlap_and_arrows_run_downwards():
    figure = plot.network(EXAMPLES / "two_inputs.json")
    extents = [box.get_bbox().bounds for box in boxes(figure)]
    for i, (x0, y0, w0, h0) in enumerate(extents):
        for x1, y1, w1, h1 in extents[i + 1:]:
            assert x0 + w0 <= x1 or x1 + w1 <= x0 or y0 + h0 <= y1 or y1 + h1 <= y0
    for arrow in arrows(figure):
        vertices = arrow.get_path().vertices
        assert vertices[0][1] > vertices[-1][1]


def test_network_marks_each_warning_on_its_box_and_lists_the_others():
    figure = plot.network(WARNED)
    shown = texts(figure)
    assert shown.count("⚠ dense-collapse") == 2
    assert "⚠ crossentropy-without-softmax" in shown  # the loss's, on the output layer's box
    assert "⚠ learning-rate (train.optimizer.learning_rate): learning_rate 50 is outside" in " ".join(shown)
    assert sum(box.get_edgecolor()[:3] == matplotlib.colors.to_rgb(plot.WARNED) for box in boxes(figure)) == 3
    quiet = plot.network(WARNED, ignore=["dense-collapse", "learning-rate", "crossentropy-without-softmax"])
    assert not [t for t in texts(quiet) if "⚠" in t]


def test_network_drawing_as_svg_names_every_layer(tmp_path):
    figure = plot.network(EXAMPLES / "residual_cnn.json")
    plot.save(figure, tmp_path / "net.svg")
    root = svg_root(tmp_path / "net.svg", figure.get_size_inches())
    ids = {element.get("id") for element in root.iter()}
    for name in ("input", "stem", "conv2d_1", "conv2d_2", "add_1", "relu_3", "max_pool2d_1", "flatten_1", "dense_1"):
        assert f"name:{name}" in ids
    assert "detail:16×16×8 · 80 parameters" in ids and "type:conv2d + relu" in ids


def test_network_of_an_invalid_spec_is_its_errors():
    with pytest.raises(ns.SpecError, match="needs-flatten"):
        plot.network(EXAMPLES / "invalid" / "needs-flatten.json")


# ---------------------------------------------------------------- files

def test_save_refuses_an_unknown_format_and_a_png_too_large(tmp_path):
    figure = plot.history({"epoch": [1], "loss": [1.0]})
    with pytest.raises(plot.PlotError, match=r"x.gif: expected a .png, .svg or .pdf file name"):
        plot.save(figure, tmp_path / "x.gif")
    figure.set_size_inches(500, 2)
    with pytest.raises(plot.PlotError, match="75,000×300 pixels, more than a PNG can be drawn"):
        plot.save(figure, tmp_path / "wide.png")
    assert list(tmp_path.iterdir()) == []


def test_save_that_fails_leaves_no_file(tmp_path, monkeypatch):
    figure = plot.history({"epoch": [1], "loss": [1.0]})
    monkeypatch.setattr(figure, "savefig", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk on fire")))
    with pytest.raises(RuntimeError):
        plot.save(figure, tmp_path / "h.pdf")
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_error_says_which_extra_to_install(monkeypatch, spiral):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for draw in (lambda: plot.history(spiral[3]), lambda: plot.network(WARNED),
                 lambda: plot.decision_boundary(spiral[0], spiral[1])):
        with pytest.raises(ImportError, match=r"pip install 'netspec\[plot\]'"):
            draw()


# ---------------------------------------------------------------- the commands

@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("checkpoint")
    spec = folder / "spiral.json"
    spec.write_text(json.dumps({**TWO_FEATURES, "name": "small_spiral"}))
    assert main(["train", str(spec), "--quiet", "--out", str(folder / "spiral.npz"), "--epochs", "5"]) == 0
    return folder / "spiral.npz"


def test_train_plot_draws_the_history_after_training(tmp_path, capsys):
    spec = tmp_path / "spiral.json"
    spec.write_text(json.dumps(TWO_FEATURES))
    code, out, _ = run(capsys, "train", spec, "--epochs", "12", "--quiet", "--out", tmp_path / "m.npz",
                       "--history", tmp_path / "h.json", "--plot", tmp_path / "curves.png")
    assert code == 0 and f"saved the training curves to {tmp_path / 'curves.png'}" in out
    figure = plot.history(tmp_path / "h.json")  # the file train --history wrote draws the same picture
    assert_png(tmp_path / "curves.png", figure.get_size_inches())


@pytest.mark.parametrize("plot_name, code, message", [
    ("curves.gif", 2, "--plot {folder}/curves.gif: expected a .png, .svg or .pdf file name"),
    ("m.npz", 2, "--plot names {folder}/m.npz, as --out or --history does"),
    ("missing/curves.png", 1, "the folder {folder}/missing does not exist"),
])
def test_train_plot_to_a_bad_place_fails_before_training(tmp_path, capsys, plot_name, code, message):
    spec = tmp_path / "spiral.json"
    spec.write_text(json.dumps(TWO_FEATURES))
    found, out, err = run(capsys, "train", spec, "--quiet", "--out", tmp_path / "m.npz", "--plot", tmp_path / plot_name)
    assert found == code and message.format(folder=tmp_path) in err
    assert not (tmp_path / "m.npz").exists() and "final" not in out


def test_plot_command_draws_a_checkpoints_regions_on_its_data(checkpoint, tmp_path, capsys):
    code, out, _ = run(capsys, "plot", checkpoint, "--out", tmp_path / "regions.svg")
    assert code == 0 and out.startswith(f"wrote {tmp_path / 'regions.svg'}: {checkpoint} on spiral (120 samples)")
    svg_root(tmp_path / "regions.svg", (6.0, 5.6))
    code, _, err = run(capsys, "plot", checkpoint, "--data", "sine", "--out", tmp_path / "sine.png")
    assert code == 1 and "1 column" in err and not (tmp_path / "sine.png").exists()


def test_plot_command_refuses_a_network_without_two_input_features(tmp_path, capsys):
    ns.compile({**TWO_FEATURES, "input": {"features": 5}}).save(tmp_path / "five.npz")
    code, _, err = run(capsys, "plot", tmp_path / "five.npz", "--out", tmp_path / "regions.png")
    assert code == 1 and "but this network takes 5 input features" in err
    assert not (tmp_path / "regions.png").exists()


def test_draw_command_writes_the_picture_or_the_specs_errors(tmp_path, capsys):
    code, out, _ = run(capsys, "draw", EXAMPLES / "residual_mlp.json", "--out", tmp_path / "net.png")
    assert code == 0 and out == f"wrote {tmp_path / 'net.png'}: 11 layers, 17,027 parameters\n"
    png_size(tmp_path / "net.png")
    code, _, err = run(capsys, "draw", EXAMPLES / "invalid" / "needs-flatten.json", "--out", tmp_path / "bad.svg")
    assert code == 1 and "error: layers[2] (dense_1): dense takes a vector" in err and "[needs-flatten]" in err
    assert not (tmp_path / "bad.svg").exists()
    code, _, err = run(capsys, "draw", EXAMPLES / "cnn.json", "--out", tmp_path / "net.jpg")
    assert code == 2 and "--out" in err and not (tmp_path / "net.jpg").exists()


def test_draw_command_will_not_write_over_a_file_that_is_not_a_picture(tmp_path, capsys):
    notes = tmp_path / "notes.svg"
    notes.write_text("my notes")
    code, _, err = run(capsys, "draw", EXAMPLES / "cnn.json", "--out", notes)
    assert code == 1 and "it exists and is not a network drawing" in err and notes.read_text() == "my notes"
    assert run(capsys, "draw", EXAMPLES / "cnn.json", "--out", notes, "--force")[0] == 0


def test_commands_without_matplotlib_say_which_extra_to_install(monkeypatch, checkpoint, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for argv in (["draw", EXAMPLES / "cnn.json", "--out", tmp_path / "net.svg"],
                 ["plot", checkpoint, "--out", tmp_path / "regions.png"],
                 ["train", EXAMPLES / "xor.json", "--out", tmp_path / "xor.npz", "--plot", tmp_path / "curves.png"]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and "needs the matplotlib package, which is not installed: pip install 'netspec[plot]'" in err
    assert list(tmp_path.iterdir()) == []
