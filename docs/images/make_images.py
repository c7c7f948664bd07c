"""Draw the README's pictures with the netspec command itself.

    python docs/images/make_images.py

trains examples/spiral_regularized.json (a few seconds), then writes, beside
this script: spiral_history.png (``netspec train --plot``),
spiral_boundary.png (``netspec plot``), cnn.svg and residual_cnn.svg
(``netspec draw``). Needs matplotlib (``pip install 'netspec[plot]'``).
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = os.path.join(ROOT, "examples")


def netspec(*arguments: str) -> None:
    shown = [os.path.relpath(a, ROOT) if a.startswith(ROOT) else os.path.basename(a) if os.sep in a else a
             for a in arguments]
    print("$ netspec " + " ".join(shown), flush=True)
    subprocess.run([sys.executable, "-m", "netspec", *arguments], check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        model = os.path.join(folder, "spiral_regularized.npz")
        netspec("train", os.path.join(EXAMPLES, "spiral_regularized.json"), "--out", model, "--quiet",
                "--plot", os.path.join(HERE, "spiral_history.png"))
        netspec("plot", model, "--out", os.path.join(HERE, "spiral_boundary.png"))
    for name in ("cnn", "residual_cnn"):
        netspec("draw", os.path.join(EXAMPLES, f"{name}.json"), "--out", os.path.join(HERE, f"{name}.svg"))


if __name__ == "__main__":
    main()
