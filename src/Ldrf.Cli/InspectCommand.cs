using System.Globalization;
using Ldrf.Onnx;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Pruning;
using Spectre.Console;

namespace Ldrf.Cli;

/// <summary><c>ldrf inspect</c>: the graph's layers with their output shapes, FLOPs and parameters, and its channel groups (prunable or coupled, and by what).</summary>
internal static class InspectCommand
{
    public static int Run(string model, string? inputShape, bool residualStreams, IAnsiConsole console)
    {
        // The importer first: a file that is not ONNX (or uses an unsupported operator) is named as such.
        using var network = OnnxModel.Load(model);
        var shape = inputShape is not null ? ParseShape(inputShape) : ModelImageShape(model);
        using var graph = GraphModel.FromNetwork(network, "MODEL");
        var complexity = graph.Complexity(shape, "--input-shape");
        using var folded = graph.FoldBatchNorm("MODEL");
        var groups = ChannelGroups.Analyze(folded, folded.Shapes(shape, "--input-shape"), residualStreams);

        console.WriteLine($"{model}: input '{graph.InputName}' {string.Join("x", shape)} per image, output '{graph.OutputName}', {graph.Nodes.Count} nodes");
        var layers = new Table().Border(TableBorder.Simple)
            .AddColumns("node", "operation", "inputs", "output", "FLOPs", "parameters");
        foreach (var (node, cost) in graph.Nodes.Zip(complexity.Layers))
        {
            layers.AddRow(
                Markup.Escape(node.Name), node.Op.TypeName, Markup.Escape(string.Join(", ", node.Inputs)), string.Join("x", cost.OutputShape),
                Count(cost.Flops), Count(cost.Parameters));
        }

        layers.AddRow("total", "", "", "", Count(complexity.TotalFlops), Count(complexity.TotalParameters));
        console.Write(layers);

        var prunable = groups.Groups.Count(g => g.Prunable);
        console.WriteLine($"Channel groups: {groups.Groups.Count} ({prunable} prunable, {groups.Groups.Count - prunable} coupled and kept whole). Batch norms fold into the convolution before them.");
        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("group (source)", "channels", "pruned in lockstep", "consumers", "status");
        foreach (var g in groups.Groups)
        {
            table.AddRow(
                Markup.Escape(g.Name), g.Channels.ToString(CultureInfo.InvariantCulture), Markup.Escape(List(g.Lockstep)), Markup.Escape(List(g.Consumers)),
                g.Prunable ? "prunable" : Markup.Escape("coupled by " + g.CoupledBy));
        }

        console.Write(table);
        return ExitCodes.Success;
    }

    /// <summary>The model's C, H, W from its ONNX input, or a usage error asking for --input-shape when a size is open.</summary>
    public static long[] ModelImageShape(string model)
    {
        var shape = OnnxRunner.TryImageShape(model);
        return shape is not null && shape.All(d => d > 0) ? shape
            : throw new UsageException($"--input-shape is needed: '{model}' does not fix its input's channels, height and width (give for example --input-shape 3x224x224).");
    }

    /// <summary>C x H x W (or N x C x H x W, the batch ignored) from text such as 3x224x224 or 1,3,224,224.</summary>
    public static long[] ParseShape(string text)
    {
        var parts = text.Split('x', 'X', ',');
        var values = parts.Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : -1).ToArray();
        if (values.Length is not (3 or 4) || values.Any(v => v < 1))
        {
            throw new UsageException($"--input-shape must be CxHxW or NxCxHxW with positive sizes (for example 3x224x224) but is '{text}'.");
        }

        return [.. values.Skip(values.Length - 3)];
    }

    private static string List(IReadOnlyList<string> names) => names.Count == 0 ? "-" : string.Join(", ", names);

    internal static string Count(long value) => value switch
    {
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{value / 1e9:F2}G"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{value / 1e6:F1}M"),
        >= 10_000 => string.Create(CultureInfo.InvariantCulture, $"{value / 1e3:F1}k"),
        _ => value.ToString(CultureInfo.InvariantCulture),
    };
}
