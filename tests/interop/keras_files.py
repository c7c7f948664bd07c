"""Keras files written by hand with h5py, in the layouts tf.keras 2.x and
Keras 2.0 write (``model.save_weights('w.h5')`` and ``model.save('m.h5')``):
attribute ``layer_names`` listing the layers, and per layer a group whose
attribute ``weight_names`` lists its arrays, ``<layer>/<layer>/kernel:0``."""

import json


def write_legacy(path, layers, model_config=None, training_config=None, keras_version="2.11.0"):
    """Write ``layers`` (``[(layer name, [(weight name, array)])]``) as a legacy
    weights file, or as a full-model file when ``model_config`` is given."""
    import h5py

    with h5py.File(path, "w") as f:
        root = f
        if model_config is not None:
            f.attrs["model_config"] = json.dumps(model_config)
            if training_config is not None:
                f.attrs["training_config"] = json.dumps(training_config)
            root = f.create_group("model_weights")
        root.attrs["layer_names"] = [name.encode() for name, _ in layers]
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = keras_version.encode()
        for name, weights in layers:
            group = root.create_group(name)
            group.attrs["weight_names"] = [f"{name}/{weight}:0".encode() for weight, _ in weights]
            for weight, array in weights:
                group.create_dataset(f"{name}/{weight}:0", data=array)
