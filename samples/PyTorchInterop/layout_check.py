"""Checks in PyTorch that NetworkFile.ExportPyTorch(path, layoutOf: original) writes the original's layout.

  python3 layout_check.py FOLDER [--bound 1e-4]

FOLDER holds what the .NET side wrote (the PyTorchInterop sample's step 7, or LayoutCheck.Write in the tests):
fashion-cnn-bn-pruned.pt, the pruned CNN with batch norms exported with the original's layout; inputs.npy, images;
outputs.npy, the .NET pruned network's outputs on them. This script builds fashion_cnn.py's fashion_cnn_bn (the
original's module names: conv1, bn1, ..., convolutions without bias) with the widths found in the file, loads the
state_dict with strict=True (every key present, no key extra, every shape equal), runs it in evaluation mode on the
inputs and compares with the .NET outputs. It prints the relative error and exits with 1 when it is not finite or
above the bound.
"""
import argparse
import math
import os
import sys

import numpy as np
import torch

from fashion_cnn import fashion_cnn_bn, widths_of


def main():
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--bound", type=float, default=1e-4, help="largest accepted relative error (default 1e-4)")
    args = parser.parse_args()

    state_dict = torch.load(os.path.join(args.folder, "fashion-cnn-bn-pruned.pt"), map_location="cpu")
    widths = widths_of(state_dict)
    model = fashion_cnn_bn(**widths)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    inputs = torch.from_numpy(np.load(os.path.join(args.folder, "inputs.npy")))
    expected = torch.from_numpy(np.load(os.path.join(args.folder, "outputs.npy"))).double()
    with torch.no_grad():
        actual = model(inputs).double()
    error = ((actual - expected).norm() / expected.norm()).item()
    batch_norms = [k for k in state_dict if k.startswith("bn") and k.endswith(".running_var")]
    print(f"loaded {len(state_dict)} keys strictly into fashion_cnn_bn with widths {widths} "
          f"({len(batch_norms)} batch norms kept, convolutions without bias)")
    print(f"relative error against the .NET outputs on {inputs.shape[0]} images: {error:.3e} (bound {args.bound:g})")
    if not math.isfinite(error) or error > args.bound:
        print("FAILED: the PyTorch model does not compute what the .NET pruned network computes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
