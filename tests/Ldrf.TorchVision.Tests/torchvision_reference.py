"""Reference data from torchvision for Ldrf.TorchSharp.Models.TorchVisionModels, and PyTorch-written state_dicts.

  /usr/bin/python3 torchvision_reference.py reference [--out torchvision-reference.json]
      For vgg16, vgg16_bn, resnet18, resnet50 and mobilenet_v2: every state_dict entry (name, shape, dtype), and the logits of
      the model filled with the deterministic weights below for the deterministic 1 x 3 x 64 x 64 input below.
      The C# tests (TorchVisionModelsTests) compare their models' state_dicts with the entries exactly and
      recompute the logits from the same weights and input, which checks the layout (strides, padding, pooling,
      batch-norm epsilon) beyond names and shapes. Writes the small JSON file checked in next to this script.
  /usr/bin/python3 torchvision_reference.py export MODEL OUT.pt [--seed 0]
      Writes torchvision's MODEL (vgg16, vgg16_bn, resnet18, resnet50, mobilenet_v2) with torchvision's own random
      initialization as a PyTorch state_dict, for loading with TorchSharp.PyBridge's load_py (the experiment
      harness's --state-dict option). VGG-16 is 528 MB and ResNet-50 98 MB, too large for the repository.

Debian 12: apt-get install python3-torch python3-torchvision (torch 1.13, torchvision 0.14); run with
/usr/bin/python3. No pretrained weights are downloaded.

The deterministic values (the C# side implements the same integer arithmetic, so both get the same float32s):
for a tensor named NAME with n elements, seed = FNV-1a 32-bit of NAME's UTF-8 bytes, and element i (row-major)
gets u = mix(seed + i * 0x9E3779B9 mod 2^32) / 2^32 in [0, 1), mix being murmur3's 32-bit finalizer. Then
value = scale * u + shift in float64, rounded to float32, with (scale, shift) for
  conv / linear weight: c * (u - 0.5), c = sqrt(12) * sqrt(2 / fan_in)   (He-scaled, unit-variance uniform)
  any bias, bn bias, running_mean: 0.1 * (u - 0.5);  bn weight: 0.2 * u + 0.9;  running_var: 0.5 * u + 1
  num_batches_tracked: 0;  the input (NAME "input"): 2 * u - 1.
"""
import argparse
import json
import os

import numpy as np
import torch
import torchvision

MODELS = ["vgg16", "vgg16_bn", "resnet18", "resnet50", "mobilenet_v2"]
INPUT_SIZE = 64
HERE = os.path.dirname(os.path.abspath(__file__))


def fnv1a(name):
    h = 0x811C9DC5
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def uniform(name, n):
    i = np.arange(n, dtype=np.uint64)
    h = (np.uint64(fnv1a(name)) + i * np.uint64(0x9E3779B9)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    return h.astype(np.float64) / 2.0 ** 32


def value(name, shape, is_batch_norm):
    n = int(np.prod(shape)) if len(shape) else 1
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return None
    # Every rule is affine in u, scale * u + shift, computed in that form on both sides.
    if is_batch_norm:
        scale, shift = {"weight": (0.2, 0.9), "running_var": (0.5, 1.0)}.get(leaf, (0.1, -0.05))
    elif leaf == "weight":
        c = np.sqrt(12.0) * np.sqrt(2.0 / (n // shape[0]))
        scale, shift = c, -0.5 * c
    else:
        scale, shift = 0.1, -0.05
    return torch.from_numpy((scale * uniform(name, n) + shift).astype(np.float32).reshape(shape))


def fill(model):
    batch_norms = {name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    state = model.state_dict()
    with torch.no_grad():
        for name, tensor in state.items():
            v = value(name, tuple(tensor.shape), name.rsplit(".", 1)[0] in batch_norms)
            if v is None:
                tensor.zero_()
            else:
                tensor.copy_(v)
    return model


def reference(out):
    shape = (1, 3, INPUT_SIZE, INPUT_SIZE)
    x = torch.from_numpy((2.0 * uniform("input", int(np.prod(shape))) - 1.0).astype(np.float32).reshape(shape))
    result = {"torch": torch.__version__, "torchvision": torchvision.__version__, "inputSize": INPUT_SIZE, "models": {}}
    for name in MODELS:
        model = fill(getattr(torchvision.models, name)()).eval()
        with torch.no_grad():
            logits = model(x)[0]
        result["models"][name] = {
            "stateDict": [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()],
            "logits": [float(v) for v in logits],
        }
        print(f"{name}: {len(result['models'][name]['stateDict'])} entries, logits[0..3] {logits[:3].tolist()}")
    with open(out, "w") as f:
        json.dump(result, f, separators=(",", ":"))
        f.write("\n")


def export(name, out, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)().eval()
    torch.save(model.state_dict(), out)
    print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters, torchvision's initialization with seed {seed}, written to {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("reference")
    r.add_argument("--out", default=os.path.join(HERE, "torchvision-reference.json"))
    e = sub.add_parser("export")
    e.add_argument("model", choices=MODELS)
    e.add_argument("out")
    e.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.command == "reference":
        reference(args.out)
    else:
        export(args.model, args.out, args.seed)


if __name__ == "__main__":
    main()
