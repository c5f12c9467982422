using System.Globalization;
using Ldrf.TorchSharp.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Architecture;

/// <summary>
/// Reads a TorchSharp network built from (nested) Sequentials of supported layers into a flat chain of
/// <see cref="LayerSpec"/>, in forward order, with the Sequential paths as names ("features.3").
/// </summary>
internal static class NetworkReader
{
    /// <summary>The layer types the adapter understands, for messages.</summary>
    public const string SupportedTypes = "Conv2d (groups = 1), BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Flatten (start_dim 1, end_dim -1), Linear and Ldrf.TorchSharp.Modules.ResidualBlock, inside (nested) Sequential containers";

    /// <summary>Reads the chain.</summary>
    /// <param name="network">The network (a Sequential).</param>
    /// <param name="paramName">The caller's argument name, for messages.</param>
    /// <exception cref="ArgumentException">A module is unsupported (the message names its path and type) or the network is empty.</exception>
    public static List<LayerSpec> Read(nn.Module network, string paramName)
    {
        ArgumentNullException.ThrowIfNull(network, paramName);
        if (network is not Sequential)
        {
            throw new ArgumentException(
                $"'{paramName}' is a {network.GetType().Name}; the network must be a Sequential (possibly nested) of {SupportedTypes}.",
                paramName);
        }

        var specs = new List<LayerSpec>();
        Walk(network, string.Empty, specs, paramName);
        if (specs.Count == 0)
        {
            throw new ArgumentException($"'{paramName}' contains no layers.", paramName);
        }

        return specs;
    }

    /// <summary>The device and floating type of the network's first parameter (the CPU and float32 when it has none).</summary>
    /// <exception cref="ArgumentException">A parameter is on the meta device, which holds no values (the message names it).</exception>
    public static (Device Device, ScalarType Dtype) DeviceAndType(nn.Module network, string paramName)
    {
        if (network.named_parameters().FirstOrDefault(p => p.parameter.device.type == DeviceType.META) is { name: not null } meta)
        {
            throw new ArgumentException(
                $"'{paramName}' has its parameter '{meta.name}' on the '{meta.parameter.device}' device, which holds no values; load or initialize the weights on the CPU or a GPU first.",
                paramName);
        }

        var parameter = network.parameters().FirstOrDefault();
        return (parameter?.device ?? CPU, parameter?.dtype ?? ScalarType.Float32);
    }

    /// <summary>A detached copy of the network's parameters and buffers, keyed by state_dict name, on their device.</summary>
    public static Dictionary<string, Tensor> CopyState(nn.Module network)
    {
        using var noGrad = no_grad();
        var copy = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in network.state_dict())
        {
            // detach() makes a second managed handle; dispose it now rather than leave it to the finalizer.
            using var detached = tensor.detach();
            copy[name] = detached.clone().DetachFromDisposeScope();
        }

        return copy;
    }

    /// <summary>
    /// Writes <paramref name="state"/> (keyed by state_dict name, as <see cref="CopyState"/> gives it) into the network's
    /// parameters and buffers in place, converting type and device; every key of the network must be in it.
    /// </summary>
    public static void RestoreState(nn.Module network, IReadOnlyDictionary<string, Tensor> state)
    {
        using var noGrad = no_grad();
        foreach (var (name, tensor) in network.state_dict())
        {
            tensor.copy_(state[name]);
        }
    }

    private static void Walk(nn.Module module, string path, List<LayerSpec> specs, string paramName, string? block = null)
    {
        foreach (var (name, child) in module.named_children())
        {
            var childPath = path.Length == 0 ? name : path + "." + name;
            if (child is Sequential)
            {
                Walk(child, childPath, specs, paramName, block);
            }
            else if (child is ResidualBlock residual)
            {
                if (block is not null)
                {
                    throw Unsupported(childPath, child, $"a place inside residual block '{block}' (residual blocks cannot nest)", paramName);
                }

                specs.Add(DescribeBlock(residual, childPath, paramName));
            }
            else
            {
                specs.Add(Describe(child, childPath, paramName));
            }
        }
    }

    // The main branch in forward order (a shared ReLU at each of its positions) and the shortcut chain.
    private static ResidualBlockSpec DescribeBlock(ResidualBlock block, string path, string paramName)
    {
        var main = new List<LayerSpec>();
        foreach (var (name, module) in block.MainBranch)
        {
            if (module is Sequential or ResidualBlock)
            {
                throw Unsupported(path + "." + name, module, "a place in the main branch of a residual block, which takes leaf layers only", paramName);
            }

            main.Add(Describe(module, path + "." + name, paramName));
        }

        var shortcut = new List<LayerSpec>();
        if (block.Downsample is { } downsample)
        {
            Walk(downsample, path + "." + ResidualBlock.DownsampleName, shortcut, paramName, path);
        }

        return new ResidualBlockSpec(path, main, shortcut, block.ReluAfterAdd);
    }

    private static LayerSpec Describe(nn.Module module, string path, string paramName)
    {
        switch (module)
        {
            case Conv2d conv:
                CheckAlive(path, paramName, ("weight", conv.weight), ("bias", conv.bias));
                if (conv.groups != 1)
                {
                    throw Unsupported(path, module, $"groups = {conv.groups} (only groups = 1 is supported)", paramName);
                }

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
                        throw Unsupported(path, module, "padding 'same' with an even kernel or a stride other than 1", paramName);
                    }
                }
                else
                {
                    padding = Pair(conv.padding, 0);
                }

                return new Conv2dSpec(path, Int(conv.in_channels), Int(conv.out_channels), kernel, stride, padding, dilation, conv.padding_mode, conv.bias is not null);
            case BatchNorm2d bn:
                CheckAlive(path, paramName, ("weight", bn.weight), ("bias", bn.bias), ("running_mean", bn.running_mean), ("running_var", bn.running_var));
                if (!bn.track_running_stats || bn.running_mean is null || bn.running_var is null)
                {
                    throw Unsupported(path, module, "track_running_stats = false (there are no running statistics to fold)", paramName);
                }

                return new BatchNorm2dSpec(path, Int(bn.running_mean.shape[0]), bn.eps, bn.momentum, bn.affine && bn.weight is not null);
            case ReLU:
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
            default:
                throw new ArgumentException(
                    $"Module '{path}' is a {module.GetType().Name}, which is not supported; supported are {SupportedTypes}.",
                    paramName);
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

    private static ArgumentException Unsupported(string path, nn.Module module, string what, string paramName) =>
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

    /// <summary>Formats a shape for messages, for example "3 x 16 x 16".</summary>
    public static string Shape(IEnumerable<long> shape) => string.Join(" x ", shape.Select(s => s.ToString(CultureInfo.InvariantCulture)));
}
