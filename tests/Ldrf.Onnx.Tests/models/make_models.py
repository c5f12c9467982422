#!/usr/bin/python3
"""Writes the small ONNX models the Ldrf.Onnx tests import and check against ONNX Runtime.

Run with Debian's PyTorch (python3-torch 1.13, python3-torchvision 0.14): /usr/bin/python3 make_models.py
torch.onnx.export writes the files itself; the separate onnx package is not needed. The weights are small seeded
random numbers (batch-norm statistics included), so the files are reproducible and tens of KB each.

Every model takes a N x 3 x 16 x 16 input named "image" (N dynamic) and names its output "scores" or
"features". Channel widths are multiples of 16 (libtorch's oneDNN is wrong here for other widths of 20 or more).

Constructions PyTorch's exporter never writes (Dropout and Identity nodes in an inference graph, Sum, Conv's
auto_pad, BatchNormalization's `spatial` of opset 7) come from autograd functions whose `symbolic` emits the
operator as other exporters (CNTK, TensorFlow converters) write it.
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT = "image"


def randomize(model, seed):
    """Small random weights and non-trivial batch-norm statistics, so a wrong import cannot match by accident."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.05 + 0.3 * torch.rand(m.weight.shape, generator=g))
    return model


def export(model, name, opset, output="scores", seed=0):
    randomize(model, seed).eval()
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(seed + 1))
    path = os.path.join(HERE, f"{name}-opset{opset}.onnx")
    # PRESERVE keeps BatchNormalization nodes (EVAL would fold them into the convolutions before writing).
    torch.onnx.export(model, x, path, opset_version=opset, input_names=[INPUT], output_names=[output],
                      dynamic_axes={INPUT: {0: "N"}, output: {0: "N"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes")


def conv_bn(cin, cout, k=3, stride=1, padding=1, groups=1, dilation=1):
    return [nn.Conv2d(cin, cout, k, stride, padding, dilation=dilation, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class Plain(nn.Sequential):
    """Conv, BN, Relu, MaxPool, strided and dilated Conv, LeakyRelu, AveragePool, Flatten, Gemm."""

    def __init__(self):
        super().__init__(
            *conv_bn(3, 16), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, stride=2, padding=2, dilation=2), nn.BatchNorm2d(32), nn.LeakyReLU(0.1),
            nn.AvgPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 10))


class Mobile(nn.Module):
    """MobileNetV3-style: ReLU6 (Clip), Hardswish, depthwise conv, an SE gate through HardSigmoid (Mul), residual Add."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 16), nn.ReLU6())
        self.expand = nn.Sequential(*conv_bn(16, 32, k=1, padding=0), nn.Hardswish())
        self.depthwise = nn.Sequential(*conv_bn(32, 32, groups=32), nn.ReLU6())
        self.squeeze = nn.Conv2d(32, 16, 1)
        self.excite = nn.Conv2d(16, 32, 1)
        self.project = nn.Sequential(*conv_bn(32, 16, k=1, padding=0))
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        x = self.stem(x)
        y = self.depthwise(self.expand(x))
        gate = F.hardsigmoid(self.excite(F.relu(self.squeeze(F.adaptive_avg_pool2d(y, 1)))))
        y = self.project(y * gate)
        x = x + y
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Efficient(nn.Module):
    """EfficientNet-style: SiLU and GELU as exporters write them, dilated depthwise conv, SE through Sigmoid,
    grouped conv, PRelu per channel, Reshape to 2-D, MatMul + Add."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(3, 16), nn.SiLU())
        self.depthwise = nn.Sequential(*conv_bn(16, 16, padding=2, dilation=2, groups=16), nn.SiLU())
        self.squeeze = nn.Conv2d(16, 16, 1)
        self.excite = nn.Conv2d(16, 16, 1)
        self.widen = nn.Conv2d(16, 32, 1)
        self.grouped = nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=2)
        self.prelu = nn.PReLU(32)
        self.weight = nn.Parameter(0.1 * torch.randn(32, 10))
        self.bias = nn.Parameter(0.1 * torch.randn(10))

    def forward(self, x):
        x = self.depthwise(self.stem(x))
        gate = torch.sigmoid(self.excite(F.silu(self.squeeze(F.adaptive_avg_pool2d(x, 1)))))
        x = F.gelu(self.widen(x * gate))
        x = self.prelu(self.grouped(x))
        x = F.adaptive_avg_pool2d(x, 1).reshape(-1, 32)
        return x @ self.weight + self.bias


class Dense(nn.Module):
    """DenseNet- and Inception-style: Concat of growing feature maps and of parallel branches, PRelu with one
    slope, AveragePool with padding, Sigmoid, Flatten, Gemm."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())
        self.grow1 = nn.Sequential(*conv_bn(16, 16), nn.ReLU())
        self.grow2 = nn.Sequential(*conv_bn(32, 16, k=1, padding=0), nn.PReLU())
        self.branch1 = nn.Conv2d(48, 16, 1)
        self.branch3 = nn.Conv2d(48, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        self.mix = nn.Conv2d(80, 32, 1)
        self.head = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([x, self.grow1(x)], 1)
        x = torch.cat([x, self.grow2(x)], 1)
        x = torch.cat([self.branch1(x), self.branch3(x), self.pool(x)], 1)
        x = torch.sigmoid(F.avg_pool2d(self.mix(x), 3, stride=2, padding=1))
        x = F.max_pool2d(x, 2)
        return self.head(torch.flatten(x, 1))


class _Node(torch.autograd.Function):
    """Runs `fn` in PyTorch and writes `op` with `attrs` into the ONNX graph (inputs: x, then the tensors)."""

    @staticmethod
    def forward(ctx, fn, op, attrs, x, *tensors):
        return fn(x, *tensors)

    @staticmethod
    def symbolic(g, fn, op, attrs, x, *tensors):
        return g.op(op, x, *tensors, **attrs)


class Foreign(nn.Module):
    """What other exporters write: Conv with auto_pad (SAME_UPPER, VALID), Dropout and Identity nodes, Sum of three
    inputs, Tanh, HardSigmoid with ONNX's default alpha, a strided Conv and a MaxPool with CNTK's uneven pads [1, 1, 0, 0]; with `spatial` set,
    BatchNormalization carries opset 7's spatial = 1 as CNTK writes it."""

    def __init__(self, spatial):
        super().__init__()
        self.spatial = spatial
        self.conv_same = nn.Conv2d(3, 16, 3)
        self.bn = nn.BatchNorm2d(16)
        self.conv_valid = nn.Conv2d(16, 16, 1)
        self.conv_other = nn.Conv2d(16, 16, 3, padding=1)
        self.conv_down = nn.Conv2d(16, 32, 3, bias=False)
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        w, b = self.conv_same.weight, self.conv_same.bias
        x = _Node.apply(lambda t, w, b: F.conv2d(t, w, b, padding=1), "Conv",
                        {"auto_pad_s": "SAME_UPPER", "kernel_shape_i": [3, 3]}, x, w, b)
        bn = self.bn
        attrs = {"epsilon_f": bn.eps, "momentum_f": 0.9}
        if self.spatial:
            attrs["spatial_i"] = 1
        x = _Node.apply(lambda t, *p: F.batch_norm(t, p[2], p[3], p[0], p[1], False, 0.0, bn.eps), "BatchNormalization",
                        attrs, x, bn.weight, bn.bias, bn.running_mean, bn.running_var)
        x = F.relu(x)
        x = _Node.apply(lambda t: t, "Dropout", {"ratio_f": 0.25}, x)
        a = _Node.apply(lambda t, w, b: F.conv2d(t, w, b), "Conv", {"auto_pad_s": "VALID", "kernel_shape_i": [1, 1]},
                        x, self.conv_valid.weight, self.conv_valid.bias)
        c = self.conv_other(x)
        i = _Node.apply(lambda t: t, "Identity", {}, x)
        x = _Node.apply(lambda t, u, v: t + u + v, "Sum", {}, a, c, i)
        # Tanh, and HardSigmoid with ONNX's own default slope (0.2, not torch's 1/6).
        x = _Node.apply(lambda t: torch.clamp(0.2 * t + 0.5, 0, 1), "HardSigmoid", {"alpha_f": 0.2, "beta_f": 0.5}, torch.tanh(x))
        # Pads [top, left, bottom, right] = [1, 1, 0, 0] with stride 2 on 16 x 16: the same 8 x 8 windows as padding 1.
        x = _Node.apply(lambda t, w: F.conv2d(F.pad(t, (1, 0, 1, 0)), w, stride=2), "Conv",
                        {"kernel_shape_i": [3, 3], "strides_i": [2, 2], "pads_i": [1, 1, 0, 0]}, x, self.conv_down.weight)
        x = _Node.apply(lambda t: F.max_pool2d(F.pad(t, (1, 0, 1, 0), value=float("-inf")), 3, 2), "MaxPool",
                        {"kernel_shape_i": [3, 3], "strides_i": [2, 2], "pads_i": [1, 1, 0, 0]}, x)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Unsupported(nn.Module):
    """A Softmax at the end: an operator the importer refuses."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1)

    def forward(self, x):
        return torch.softmax(self.conv(x), 1)


def main():
    for opset in (9, 11, 13, 17):
        export(Plain(), "plain", opset, seed=10)
        export(Mobile(), "mobile", opset, seed=20)
    for opset in (9, 13, 17):
        export(Efficient(), "efficient", opset, seed=30)
    for opset in (9, 13):
        export(Dense(), "dense", opset, seed=40)
    export(Foreign(spatial=True), "foreign", 7, seed=50)
    export(Foreign(spatial=False), "foreign", 11, seed=60)
    export(Unsupported(), "bad-unsupported", 13, seed=70)
    # Bad input: a file that is not ONNX at all, and a real model cut short.
    with open(os.path.join(HERE, "bad-not-onnx.onnx"), "w") as f:
        f.write("This is a text file, not an ONNX model.\n")
    with open(os.path.join(HERE, "plain-opset13.onnx"), "rb") as f:
        data = f.read()
    with open(os.path.join(HERE, "bad-truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
