using Ldrf.TorchSharp.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// The one mapping between TorchSharp modules and <see cref="LayerSpec"/>s: describing a module as a spec (chains and
/// graph networks), creating a new module for a spec (the builders), and applying the operations that have no
/// module (sum, concatenation, gating).
/// </summary>
internal static class LayerModules
{
    /// <summary>The modules a graph node may hold, for messages.</summary>
    public const string GraphTypes = "Conv2d (any groups, dilation and padding mode), BatchNorm2d (with running statistics), ReLU, ReLU6, Hardtanh, LeakyReLU, PReLU, SiLU, Hardswish, Hardsigmoid, Sigmoid, Tanh, GELU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Identity, Flatten (start_dim 1, end_dim -1) and Linear";

    /// <summary>
    /// The spec of a leaf module, or null when its type is not one of <see cref="GraphTypes"/>. Hyperparameters
    /// that no spec can express (a stride-2 'same' padding, a partial flatten, a batch norm without running
    /// statistics, an in-place activation in a graph) are refused here with the module's path.
    /// </summary>
    /// <param name="module">The module.</param>
    /// <param name="path">Its path or node name, for messages and as the spec's path.</param>
    /// <param name="paramName">The caller's argument name.</param>
    /// <param name="inGraph">Whether the module is a graph node, where an in-place activation would overwrite a tensor another node reads.</param>
    /// <exception cref="ArgumentException">The module is disposed or has hyperparameters no spec expresses.</exception>
    public static LayerSpec? Describe(nn.Module module, string path, string paramName, bool inGraph)
    {
        switch (module)
        {
            case Conv2d conv:
                CheckAlive(path, paramName, ("weight", conv.weight), ("bias", conv.bias));
                return DescribeConv(conv, path, paramName);
            case BatchNorm2d bn:
                CheckAlive(path, paramName, ("weight", bn.weight), ("bias", bn.bias), ("running_mean", bn.running_mean), ("running_var", bn.running_var));
                if (!bn.track_running_stats || bn.running_mean is null || bn.running_var is null)
                {
                    throw Unsupported(path, module, "track_running_stats = false (there are no running statistics to fold)", paramName);
                }

                return new BatchNorm2dSpec(path, Int(bn.running_mean.shape[0]), bn.eps, bn.momentum, bn.affine && bn.weight is not null);
            case ReLU relu:
                CheckInPlace(path, module, relu.inplace && inGraph, paramName);
                return new ReluSpec(path);
            case MaxPool2d pool:
                var poolKernel = Pair(pool.kernel_size, 1);
                return new MaxPool2dSpec(path, poolKernel, Pair(pool.stride, 0, poolKernel), Pair(pool.padding, 0), Pair(pool.dilation, 1), pool.ceil_mode);
            case AvgPool2d avg:
                var avgKernel = Pair(avg.kernel_size, 1);
                return new AvgPool2dSpec(path, avgKernel, Pair(avg.stride, 0, avgKernel), Pair(avg.padding, 0), avg.ceil_mode, avg.count_include_pad, avg.divisor_override);
            case AdaptiveAvgPool2d adaptive:
                return new AdaptiveAvgPool2dSpec(path, Pair(adaptive.output_size, 1));
            case Dropout dropout:
                CheckInPlace(path, module, dropout.inplace && inGraph, paramName);
                return new DropoutSpec(path, dropout.p);
            case Flatten flatten:
                if (flatten.start_dim != 1 || flatten.end_dim != -1)
                {
                    throw Unsupported(path, module, $"start_dim = {flatten.start_dim}, end_dim = {flatten.end_dim} (only 1 and -1 are supported)", paramName);
                }

                return new FlattenSpec(path);
            case Linear linear:
                CheckAlive(path, paramName, ("weight", linear.weight), ("bias", linear.bias));
                return new LinearSpec(path, Int(linear.in_features), Int(linear.out_features), linear.bias is not null);
            case PReLU prelu:
                CheckAlive(path, paramName, ("weight", prelu.weight));
                return new PReluSpec(path, Int(prelu.num_parameters));
            case Identity:
                return new IdentitySpec(path);
            case ReLU6 relu6:
                return Activation(path, module, relu6.inplace, ActivationKind.Relu6, inGraph, paramName);
            case Hardtanh hardtanh:
                return Activation(path, module, hardtanh.inplace, ActivationKind.Clamp, inGraph, paramName, hardtanh.min_val, hardtanh.max_val);
            case LeakyReLU leaky:
                return Activation(path, module, leaky.inplace, ActivationKind.LeakyRelu, inGraph, paramName, leaky.negative_slope);
            case SiLU silu:
                return Activation(path, module, silu.inplace, ActivationKind.Silu, inGraph, paramName);
            case Hardswish hardswish:
                return Activation(path, module, hardswish.inplace, ActivationKind.Hardswish, inGraph, paramName);
            case Hardsigmoid hardsigmoid:
                return Activation(path, module, hardsigmoid.inplace, ActivationKind.Hardsigmoid, inGraph, paramName);
            case Modules.Clamp clamp:
                return new ActivationSpec(path, ActivationKind.Clamp, clamp.Min, clamp.Max);
            case ScaledHardsigmoid scaled:
                return new ActivationSpec(path, ActivationKind.Hardsigmoid, scaled.Alpha, scaled.Beta);
            case Sigmoid sigmoid:
                return Activation(path, module, sigmoid.inplace, ActivationKind.Sigmoid, inGraph, paramName);
            case Tanh tanh:
                return Activation(path, module, tanh.inplace, ActivationKind.Tanh, inGraph, paramName);
            case GELU gelu:
                return Activation(path, module, gelu.inplace, ActivationKind.Gelu, inGraph, paramName, gelu.approximate == GELU.Approximate.tanh ? 1 : 0);
            default:
                return null;
        }
    }

    /// <summary>
    /// A new module for <paramref name="spec"/> (TorchSharp's initialization, the global generator left as it was
    /// by the caller's scope), or null for the operations that have no module (<see cref="AddSpec"/>,
    /// <see cref="ConcatSpec"/>, <see cref="MultiplySpec"/>; see <see cref="Apply"/>).
    /// </summary>
    public static nn.Module<Tensor, Tensor>? Create(LayerSpec spec, ScalarType dtype)
    {
        // TorchSharp's initializers leave temporary tensors to the finalizer (Conv2d with a bias leaves one each);
        // a scope frees them at once, and the module's own parameters and buffers are taken out of it first.
        using var scope = NewDisposeScope();
        var module = CreateUnscoped(spec, dtype);
        if (module is not null)
        {
            scope.Detach(module.parameters());
            scope.Detach(module.buffers());
        }

        return module;
    }

    /// <summary>
    /// Runs <paramref name="create"/> and restores the global random generator afterwards: module constructors draw
    /// their initial weights from it, and pruning or loading must never change the caller's random sequence.
    /// </summary>
    public static T PreservingRng<T>(Func<T> create)
    {
        using var rng = torch.random.get_rng_state();
        try
        {
            return create();
        }
        finally
        {
            torch.random.set_rng_state(rng);
        }
    }

    /// <summary>
    /// Gives <paramref name="module"/> the state of the layer at <paramref name="path"/>: copied into its parameters
    /// and buffers, or, with <paramref name="share"/>, as views of the state's own tensors where they live on the CPU
    /// in the module's type (no copy: for the pruner's read-only networks, which would otherwise each hold a copy of
    /// the weights). A shared parameter does not require gradients.
    /// </summary>
    /// <exception cref="InvalidOperationException">A tensor is missing or has another shape (a bug in the caller: the specs and the state disagree).</exception>
    public static void LoadState(nn.Module module, string path, IReadOnlyDictionary<string, Tensor> state, bool share = false)
    {
        using var noGrad = no_grad();
        foreach (var (name, target) in module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).Concat(module.named_buffers()).ToList())
        {
            var key = path + "." + name;
            if (!state.TryGetValue(key, out var source))
            {
                throw new InvalidOperationException($"No tensor '{key}' for layer '{path}'.");
            }

            if (!source.shape.SequenceEqual(target.shape))
            {
                throw new InvalidOperationException(
                    $"Tensor '{key}' is {NetworkReader.Shape(source.shape)} but layer '{path}' needs {NetworkReader.Shape(target.shape)}.");
            }

            if (!share || source.device_type != DeviceType.CPU || target.device_type != DeviceType.CPU || source.dtype != target.dtype || !Share(module, name, source))
            {
                target.copy_(source);
            }
        }
    }

    // Replaces the module's own tensor `name` by a view of `source`; false for a tensor this cannot replace.
    private static bool Share(nn.Module module, string name, Tensor source)
    {
        Parameter View() => new(source.detach(), requires_grad: false);
        switch (module, name)
        {
            case (Conv2d conv, "weight"):
                conv.weight = View();
                return true;
            case (Conv2d conv, "bias"):
                conv.bias = View();
                return true;
            case (Linear linear, "weight"):
                linear.weight = View();
                return true;
            case (Linear linear, "bias"):
                linear.bias = View();
                return true;
            case (BatchNorm2d bn, "weight"):
                bn.weight = View();
                return true;
            case (BatchNorm2d bn, "bias"):
                bn.bias = View();
                return true;
            case (BatchNorm2d bn, "running_mean"):
                bn.running_mean = source.detach();
                return true;
            case (BatchNorm2d bn, "running_var"):
                bn.running_var = source.detach();
                return true;
            default:
                return false;
        }
    }

    /// <summary>
    /// Runs one node: its module on its single input when it has one, else the operation itself (a sum, a
    /// concatenation along the channels, a gate product, or a ReLU that a residual block applies after its add).
    /// </summary>
    public static Tensor Apply(LayerSpec spec, nn.Module<Tensor, Tensor>? module, IReadOnlyList<Tensor> inputs)
    {
        if (module is not null)
        {
            return module.forward(inputs[0]);
        }

        switch (spec)
        {
            case AddSpec:
                var sum = inputs[0].add(inputs[1]);
                for (var i = 2; i < inputs.Count; i++)
                {
                    sum.add_(inputs[i]);
                }

                return sum;
            case ConcatSpec:
                return cat([.. inputs], 1);
            case MultiplySpec:
                var (x, gate) = (inputs[0], inputs[1]);
                if (gate.dim() == 2 && x.dim() == 4)
                {
                    using var broadcast = gate.reshape(gate.shape[0], gate.shape[1], 1, 1);
                    return x.mul(broadcast);
                }

                return x.mul(gate);
            case ReluSpec:
                return nn.functional.relu(inputs[0]);
            case IdentitySpec:
                return inputs[0].alias();
            default:
                throw new InvalidOperationException($"Node '{spec.Path}' ({spec.TypeName}) has no module.");
        }
    }

    private static nn.Module<Tensor, Tensor>? CreateUnscoped(LayerSpec spec, ScalarType dtype) => spec switch
    {
        Conv2dSpec c => nn.Conv2d(c.InChannels, c.OutChannels, (c.Kernel[0], c.Kernel[1]), (c.Stride[0], c.Stride[1]),
            (c.Padding[0], c.Padding[1]), (c.Dilation[0], c.Dilation[1]), c.PaddingMode, c.Groups, c.HasBias, dtype: dtype),
        BatchNorm2dSpec b => BatchNorm(b, dtype),
        ReluSpec => nn.ReLU(),
        MaxPool2dSpec m => nn.MaxPool2d((m.Kernel[0], m.Kernel[1]), (m.Stride[0], m.Stride[1]), (m.Padding[0], m.Padding[1]), (m.Dilation[0], m.Dilation[1]), m.CeilMode),
        AvgPool2dSpec a => nn.AvgPool2d((a.Kernel[0], a.Kernel[1]), (a.Stride[0], a.Stride[1]), (a.Padding[0], a.Padding[1]), a.CeilMode, a.CountIncludePad, a.DivisorOverride),
        DropoutSpec d => nn.Dropout(d.P),
        FlattenSpec => nn.Flatten(),
        AdaptiveAvgPool2dSpec a => nn.AdaptiveAvgPool2d((a.OutputSize[0], a.OutputSize[1])),
        LinearSpec l => nn.Linear(l.InFeatures, l.OutFeatures, l.HasBias, dtype: dtype),
        ActivationSpec a => Activation(a),
        PReluSpec p => nn.PReLU(p.Parameters, dtype: dtype),
        IdentitySpec => nn.Identity(),
        AddSpec or ConcatSpec or MultiplySpec => null,
        _ => throw new InvalidOperationException($"Unknown layer spec {spec.GetType().Name} at '{spec.Path}'."),
    };

    private static nn.Module<Tensor, Tensor> Activation(ActivationSpec spec) => spec.Kind switch
    {
        ActivationKind.Relu6 => nn.ReLU6(),
        ActivationKind.Clamp => new Modules.Clamp(spec.Alpha, spec.Beta),
        ActivationKind.LeakyRelu => nn.LeakyReLU(spec.Alpha),
        ActivationKind.Silu => nn.SiLU(),
        ActivationKind.Hardswish => nn.Hardswish(),
        ActivationKind.Hardsigmoid => spec.Alpha == 0 && spec.Beta == 0 ? nn.Hardsigmoid() : new ScaledHardsigmoid(spec.Alpha, spec.Beta),
        ActivationKind.Sigmoid => nn.Sigmoid(),
        ActivationKind.Tanh => nn.Tanh(),
        ActivationKind.Gelu => nn.GELU(spec.Alpha == 1 ? GELU.Approximate.tanh : GELU.Approximate.none),
        _ => throw new InvalidOperationException($"Unknown activation {spec.Kind} at '{spec.Path}'."),
    };

    // Created without a dtype, as users create it, so the integer num_batches_tracked buffer keeps its type.
    private static nn.Module<Tensor, Tensor> BatchNorm(BatchNorm2dSpec spec, ScalarType dtype)
    {
        var bn = nn.BatchNorm2d(spec.Channels, spec.Eps, spec.Momentum ?? 0.1, spec.Affine, true);
        return dtype == ScalarType.Float32 ? bn : bn.to(dtype);
    }

    private static Conv2dSpec DescribeConv(Conv2d conv, string path, string paramName)
    {
        var kernel = Pair(conv.kernel_size, 1);
        var dilation = Pair(conv.dilation, 1);
        var stride = Pair(conv.stride, 1);
        int[] padding;
        if (conv.padding_type is Padding type)
        {
            if (type == Padding.Valid)
            {
                padding = [0, 0];
            }
            else if (stride[0] == 1 && stride[1] == 1 && kernel.All(k => k % 2 == 1))
            {
                padding = [dilation[0] * (kernel[0] - 1) / 2, dilation[1] * (kernel[1] - 1) / 2];
            }
            else
            {
                throw Unsupported(path, conv, "padding 'same' with an even kernel or a stride other than 1", paramName);
            }
        }
        else
        {
            padding = Pair(conv.padding, 0);
        }

        return new Conv2dSpec(path, Int(conv.in_channels), Int(conv.out_channels), kernel, stride, padding, dilation, conv.padding_mode, conv.bias is not null, Int(conv.groups));
    }

    private static ActivationSpec Activation(string path, nn.Module module, bool inplace, ActivationKind kind, bool inGraph, string paramName, double alpha = 0, double beta = 0)
    {
        CheckInPlace(path, module, inplace && inGraph, paramName);
        return new ActivationSpec(path, kind, alpha, beta);
    }

    private static void CheckInPlace(string path, nn.Module module, bool refused, string paramName)
    {
        if (refused)
        {
            throw Unsupported(path, module, "inplace = true, which would overwrite a tensor that another node of the graph may read; create it with inplace: false", paramName);
        }
    }

    // A disposed module keeps its fields but their native tensors are gone (and it lists no parameters any
    // more); libtorch's own error ("empty handle") would not say which argument is at fault.
    private static void CheckAlive(string path, string paramName, params (string Name, Tensor? Tensor)[] tensors)
    {
        foreach (var (name, tensor) in tensors)
        {
            if (tensor is not null && tensor.IsInvalid)
            {
                throw new ArgumentException(
                    $"'{paramName}' has been disposed: tensor '{path}.{name}' no longer has native storage. Pass a live network (for example, load it again).",
                    paramName);
            }
        }
    }

    /// <summary>The exception for a module with a setting or place the adapter cannot handle.</summary>
    public static ArgumentException Unsupported(string path, nn.Module module, string what, string paramName) =>
        new($"Module '{path}' ({module.GetType().Name}) has {what}.", paramName);

    // TorchSharp stores 2-D hyperparameters as long[] of length 1 or 2; a null or zero stride means "the kernel".
    private static int[] Pair(long[]? values, int fallback, int[]? whenZero = null)
    {
        if (values is null || values.Length == 0)
        {
            return whenZero is null ? [fallback, fallback] : (int[])whenZero.Clone();
        }

        var pair = values.Length == 1 ? new[] { Int(values[0]), Int(values[0]) } : new[] { Int(values[0]), Int(values[1]) };
        if (whenZero is not null && pair[0] == 0 && pair[1] == 0)
        {
            return (int[])whenZero.Clone();
        }

        return pair;
    }

    private static int Int(long value) => checked((int)value);
}
