"""The PyTorch side of the PyTorchInterop sample.

  python3 fashion_cnn.py train [--data DIR] [--epochs 1] [--out fashion-cnn.pt]
      Trains the small CNN below on Fashion-MNIST (the full set of Debian's dataset-fashion-mnist when it is
      installed, else the 2,000-image subset shipped in samples/data) and writes its state_dict.
  python3 fashion_cnn.py check FILE
      Builds the CNN with the widths found in FILE (a pruned network has fewer channels), loads the
      state_dict strictly, and prints the accuracy on the shipped test subset and the logits of test image 0.

The C# sample builds the same network in TorchSharp with the same module names, so state_dict keys
(conv1.weight, fc1.bias, ...) match on both sides.
"""
import argparse
import gzip
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

MEAN, STD = 0.2860, 0.3530  # the normalization of the C# samples (Ldrf.Samples.Common FashionMnist)
HERE = os.path.dirname(os.path.abspath(__file__))
SUBSET = os.path.join(HERE, "..", "data", "fashion-mnist-subset")
DEBIAN = "/usr/share/datasets/fashion-mnist"


def fashion_cnn(c1=16, c2=32, c3=32, hidden=64):
    """conv-relu, conv-relu-pool, conv-relu-pool, then two linear layers: 1 x 28 x 28 -> 10 logits."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, c1, 3, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(c1, c2, 3, padding=1)), ("relu2", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv3", nn.Conv2d(c2, c3, 3, padding=1)), ("relu3", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(c3 * 7 * 7, hidden)), ("relu4", nn.ReLU()),
        ("fc2", nn.Linear(hidden, 10)),
    ]))


def fashion_cnn_bn(c1=32, c2=64, c3=64, hidden=64):
    """The same CNN with a BatchNorm2d after each convolution and no convolution biases, as torchvision's vgg*_bn and
    ResNets are built (the C# side: FashionCnn.CreateWithBatchNorm). layout_check.py loads a pruned export into it."""
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, c1, 3, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(c1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(c1, c2, 3, padding=1, bias=False)), ("bn2", nn.BatchNorm2d(c2)), ("relu2", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv3", nn.Conv2d(c2, c3, 3, padding=1, bias=False)), ("bn3", nn.BatchNorm2d(c3)), ("relu3", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(c3 * 7 * 7, hidden)), ("relu4", nn.ReLU()),
        ("fc2", nn.Linear(hidden, 10)),
    ]))


def widths_of(state_dict):
    return dict(c1=state_dict["conv1.weight"].shape[0], c2=state_dict["conv2.weight"].shape[0],
                c3=state_dict["conv3.weight"].shape[0], hidden=state_dict["fc1.weight"].shape[0])


def read_idx(folder, split):
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(os.path.join(folder, prefix + "-images-idx3-ubyte.gz"), "rb") as f:
        _, count, rows, cols = struct.unpack(">IIII", f.read(16))
        pixels = np.frombuffer(f.read(), dtype=np.uint8).reshape(count, 1, rows, cols)
    with gzip.open(os.path.join(folder, prefix + "-labels-idx1-ubyte.gz"), "rb") as f:
        f.read(8)
        labels = np.frombuffer(f.read(), dtype=np.uint8)
    images = (torch.from_numpy(pixels.astype(np.float32)) / 255.0 - MEAN) / STD
    return images, torch.from_numpy(labels.astype(np.int64))


def accuracy(model, images, labels):
    model.eval()
    with torch.no_grad():
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in zip(images.split(250), labels.split(250)))
    return correct / len(labels)


def train(args):
    torch.manual_seed(0)
    folder = args.data or (DEBIAN if os.path.exists(os.path.join(DEBIAN, "train-images-idx3-ubyte.gz")) else SUBSET)
    images, labels = read_idx(folder, "train")
    model = fashion_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for epoch in range(args.epochs):
        order = torch.randperm(len(labels))
        for step, batch in enumerate(order.split(64)):
            loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 200 == 0:
                print(f"epoch {epoch + 1} step {step} loss {loss.item():.3f}")
    test_images, test_labels = read_idx(SUBSET, "test")
    print(f"trained on {len(labels)} images from {folder}; accuracy on the shipped test subset "
          f"{accuracy(model, test_images, test_labels):.2%}")
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out):,} bytes)")


def check(args):
    state_dict = torch.load(args.file, map_location="cpu")
    widths = widths_of(state_dict)
    model = fashion_cnn(**widths)
    model.load_state_dict(state_dict, strict=True)
    images, labels = read_idx(SUBSET, "test")
    print(f"loaded {args.file}: widths {widths}, {sum(p.numel() for p in model.parameters()):,} parameters")
    print(f"accuracy on the shipped test subset ({len(labels)} images): {accuracy(model, images, labels):.2%}")
    with torch.no_grad():
        logits = model(images[:1])[0]
    print("logits of test image 0: " + " ".join(f"{v:.4f}" for v in logits.tolist()))


def main():
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train")
    t.add_argument("--data", help="folder with the four Fashion-MNIST .gz files")
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--out", default=os.path.join(HERE, "fashion-cnn.pt"))
    c = commands.add_parser("check")
    c.add_argument("file")
    args = parser.parse_args()
    if args.command == "train":
        train(args)
    else:
        check(args)


if __name__ == "__main__":
    main()
