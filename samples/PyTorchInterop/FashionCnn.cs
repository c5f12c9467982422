using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

/// <summary>
/// The network of fashion_cnn.py, built in TorchSharp with the same module names, so that PyTorch's
/// state_dict keys (conv1.weight, fc1.bias, ...) are this Sequential's parameter names.
/// </summary>
internal static class FashionCnn
{
    /// <summary>The widths of the network as trained in PyTorch.</summary>
    public static readonly Widths Original = new(16, 32, 32, 64);

    public static Sequential Create(Widths w) => Sequential(
        ("conv1", Conv2d(1, w.Conv1, 3, padding: 1)), ("relu1", ReLU()),
        ("conv2", Conv2d(w.Conv1, w.Conv2, 3, padding: 1)), ("relu2", ReLU()), ("pool1", MaxPool2d(2)),
        ("conv3", Conv2d(w.Conv2, w.Conv3, 3, padding: 1)), ("relu3", ReLU()), ("pool2", MaxPool2d(2)),
        ("flatten", Flatten()),
        ("fc1", Linear(w.Conv3 * 7 * 7, w.Hidden)), ("relu4", ReLU()),
        ("fc2", Linear(w.Hidden, 10)));

    /// <summary>
    /// The same CNN with a BatchNorm2d after each convolution and no convolution biases, the way torchvision's
    /// vgg*_bn and ResNets are built: fashion_cnn.py's <c>fashion_cnn_bn</c>, with its module names.
    /// </summary>
    public static Sequential CreateWithBatchNorm(Widths w) => Sequential(
        ("conv1", Conv2d(1, w.Conv1, 3, padding: 1, bias: false)), ("bn1", BatchNorm2d(w.Conv1)), ("relu1", ReLU()),
        ("conv2", Conv2d(w.Conv1, w.Conv2, 3, padding: 1, bias: false)), ("bn2", BatchNorm2d(w.Conv2)), ("relu2", ReLU()), ("pool1", MaxPool2d(2)),
        ("conv3", Conv2d(w.Conv2, w.Conv3, 3, padding: 1, bias: false)), ("bn3", BatchNorm2d(w.Conv3)), ("relu3", ReLU()), ("pool2", MaxPool2d(2)),
        ("flatten", Flatten()),
        ("fc1", Linear(w.Conv3 * 7 * 7, w.Hidden)), ("relu4", ReLU()),
        ("fc2", Linear(w.Hidden, 10)));

    /// <summary>Reads the widths of a network of this layout from its parameter shapes (a pruned one has fewer channels).</summary>
    public static Widths WidthsOf(Module<Tensor, Tensor> network)
    {
        var shapes = network.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);
        return new((int)shapes["conv1.weight"][0], (int)shapes["conv2.weight"][0], (int)shapes["conv3.weight"][0], (int)shapes["fc1.weight"][0]);
    }

    /// <summary>Output channels of the three convolutions and units of the hidden linear layer.</summary>
    public sealed record Widths(int Conv1, int Conv2, int Conv3, int Hidden)
    {
        public override string ToString() => $"conv1 {Conv1}, conv2 {Conv2}, conv3 {Conv3}, fc1 {Hidden}";
    }
}
