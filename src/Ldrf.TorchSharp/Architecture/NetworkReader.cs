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

    /// <summary>
    /// The network's parameters and buffers, keyed by state_dict name, as detached views of the same memory (no copy):
    /// for readers that never write into a state tensor (a <see cref="GraphModel"/> replaces tensors, it never writes
    /// into them), so that reading a large network does not double its memory.
    /// </summary>
    public static Dictionary<string, Tensor> ShareState(nn.Module network)
    {
        var shared = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, tensor) in network.state_dict())
        {
            shared[name] = tensor.detach().DetachFromDisposeScope();
        }

        return shared;
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

    // The chain vocabulary: the graph's leaf modules except grouped convolutions and the activations beyond ReLU.
    private static LayerSpec Describe(nn.Module module, string path, string paramName)
    {
        var spec = LayerModules.Describe(module, path, paramName, inGraph: false);
        if (spec is Conv2dSpec { Groups: not 1 } conv)
        {
            throw Unsupported(path, module, $"groups = {conv.Groups} (only groups = 1 is supported)", paramName);
        }

        if (spec is null or ActivationSpec or PReluSpec or IdentitySpec)
        {
            throw new ArgumentException(
                $"Module '{path}' is a {module.GetType().Name}, which is not supported; supported are {SupportedTypes}.",
                paramName);
        }

        return spec;
    }

    private static ArgumentException Unsupported(string path, nn.Module module, string what, string paramName) =>
        LayerModules.Unsupported(path, module, what, paramName);

    /// <summary>Formats a shape for messages, for example "3 x 16 x 16".</summary>
    public static string Shape(IEnumerable<long> shape) => string.Join(" x ", shape.Select(s => s.ToString(CultureInfo.InvariantCulture)));
}
