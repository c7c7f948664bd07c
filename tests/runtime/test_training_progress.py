"""The fit loop as a user watches it: a progress bar on a terminal, a stop
request honoured at the end of a batch, the values of the weights kept, and
the history as CSV."""

import csv
import io

import numpy as np

import netspec
from netspec.runtime.training import Progress, fit


class Terminal(io.StringIO):
    def isatty(self):
        return True


def classifier(**train):
    return netspec.compile({
        "input": {"features": 2}, "seed": 3,
        "layers": [{"type": "dense", "neurons": 16, "activation": "tanh"}, {"type": "dense", "neurons": 3},
                   {"type": "softmax"}],
        "loss": "categorical_crossentropy",
        "train": {"optimizer": {"type": "adam", "learning_rate": 0.02}, "epochs": 30, "metrics": ["accuracy"], **train},
    })


def train(pipeline, X, y, **options):
    config = pipeline.training.with_overrides(**options.pop("config", {}))
    return fit(pipeline, X, pipeline.targets(y, len(X)), config, **options)


def test_a_terminal_gets_a_bar_with_elapsed_time_eta_and_samples_per_second():
    X, y = netspec.data.spiral(10, 3, seed=1)
    screen = Terminal()
    classifier().fit(X, y, epochs=3, stream=screen)
    shown = screen.getvalue()
    assert "train 100%|" in shown and "3/3 epochs [" in shown
    last = shown.rsplit("\r", 1)[-1]
    assert "<00:00, " in last and " samples/s, loss=" in last and ", accuracy=" in last
    # the periodic lines stay above the bar
    assert [line for line in shown.replace("\r", "\n").splitlines() if line.startswith("epoch ")][:3] == [
        line for line in shown.replace("\r", "\n").splitlines() if line.startswith("epoch ") and "samples/s" in line][:3]
    assert "epoch 1/3 - loss: " in shown and "epoch 3/3 - loss: " in shown


def test_long_epochs_also_get_a_bar_of_their_samples(monkeypatch):
    monkeypatch.setattr(Progress, "LONG_EPOCH", 0.0)
    X, y = netspec.data.spiral(10, 3, seed=1)
    screen = Terminal()
    classifier(batch_size=5).fit(X, y, epochs=2, stream=screen)
    assert "epoch 1:" in screen.getvalue() and " samples/s]" in screen.getvalue()


def test_a_single_batch_epoch_has_no_samples_bar(monkeypatch):
    monkeypatch.setattr(Progress, "LONG_EPOCH", 0.0)
    X, y = netspec.data.spiral(10, 3, seed=1)
    screen = Terminal()
    classifier().fit(X, y, epochs=2, stream=screen)
    assert "epoch 1:" not in screen.getvalue()


def test_off_a_terminal_no_bar_is_drawn():
    X, y = netspec.data.spiral(10, 3, seed=1)
    stream = io.StringIO()
    classifier().fit(X, y, epochs=3, stream=stream)
    assert "\r" not in stream.getvalue() and "%|" not in stream.getvalue()


def test_a_stop_request_ends_training_after_the_current_batch():
    X, y = netspec.data.spiral(10, 3, seed=1)
    pipeline = classifier(batch_size=10)
    asked = []

    def stop():
        asked.append(len(asked) + 1)
        return len(asked) == 5  # during the second epoch: 3 batches per epoch

    history = train(pipeline, X, y, verbose=0, stop=stop)
    assert history.interrupted == {"epoch": 2, "batch": 2, "batches": 3}
    assert history.epochs == [1, 2] and pipeline.state.epoch == 2 and pipeline.optimizer.iterations == 5
    # the partial epoch's values are those of the weights now held
    assert history.final()["loss"] == pipeline.evaluate(X, y)["loss"]


def test_without_a_stop_request_training_runs_to_the_end():
    X, y = netspec.data.spiral(10, 3, seed=1)
    history = train(classifier(), X, y, verbose=0, stop=lambda: False, config={"epochs": 4})
    assert history.interrupted is None and history.epochs == [1, 2, 3, 4]


def test_final_values_are_those_of_the_restored_epoch_on_the_same_split():
    X, y = netspec.data.spiral(20, 3, seed=1)
    pipeline = classifier(validation_split=0.25, epochs=200, optimizer={"type": "sgd", "learning_rate": 5.0},
                          early_stopping={"monitor": "val_loss", "patience": 3})
    history = pipeline.fit(X, y, verbose=0)
    assert history.stopped_early and history.monitor == "val_loss"
    assert history.restored_epoch == history.best_epoch < history.epochs[-1]
    assert history.final() == history.at(history.best_epoch)
    assert history.final()["val_loss"] == min(history["val_loss"])


def test_without_restore_best_the_last_epoch_is_kept():
    X, y = netspec.data.spiral(20, 3, seed=1)
    pipeline = classifier(validation_split=0.25, epochs=200, optimizer={"type": "sgd", "learning_rate": 5.0},
                          early_stopping={"monitor": "val_loss", "patience": 3, "restore_best": False})
    history = pipeline.fit(X, y, verbose=0)
    assert history.stopped_early and history.restored_epoch is None and history.final() == history.last()


def test_history_as_csv_and_as_dict():
    X, y = netspec.data.spiral(10, 3, seed=1)
    history = classifier(validation_split=0.2).fit(X, y, verbose=0, epochs=3)
    rows = list(csv.DictReader(io.StringIO(history.as_csv())))
    assert list(rows[0]) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["val_loss"]) for r in rows] == history["val_loss"]  # repr round-trips floats exactly
    as_dict = history.as_dict()
    assert as_dict["epoch"] == [1, 2, 3] and as_dict["interrupted"] is None and as_dict["restored_epoch"] is None
    assert np.isclose(as_dict["loss"][-1], history.last()["loss"])
