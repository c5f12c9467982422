using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Ldrf.Samples.Common.Models;

/// <summary>Shape of a <see cref="FashionMnistVgg"/> network.</summary>
public sealed class FashionMnistVggOptions
{
    private IReadOnlyList<int> _widths = [32, 32, 64, 64, 128, 128, 256, 256];
    private int _hiddenUnits = 128;
    private double _dropout = 0.3;

    /// <summary>
    /// Output channels of each 3x3 convolution, in order. A 2x2 max-pool follows every second convolution.
    /// Default 32, 32, 64, 64, 128, 128, 256, 256 (28 -> 14 -> 7 -> 3 pixels). Must hold an even count, at least 2,
    /// and at most 8 (four pools take 28 pixels down to 1).
    /// </summary>
    public IReadOnlyList<int> Widths
    {
        get => _widths;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Count < 2 || value.Count % 2 != 0 || value.Count > 8)
            {
                throw new ArgumentException($"Widths needs an even count of 2..8 convolutions, got {value.Count}.", nameof(value));
            }

            if (value.Any(w => w <= 0))
            {
                throw new ArgumentException($"Widths must all be positive, got [{string.Join(", ", value)}].", nameof(value));
            }

            _widths = [.. value];
        }
    }

    /// <summary>Units of the classifier's hidden linear layer; 0 means a single Linear to the 10 classes. Default 128.</summary>
    public int HiddenUnits
    {
        get => _hiddenUnits;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _hiddenUnits = value;
        }
    }

    /// <summary>Dropout probability in the classifier; 0 leaves Dropout out. Default 0.3.</summary>
    public double Dropout
    {
        get => _dropout;
        set
        {
            if (value is < 0 or >= 1 || double.IsNaN(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Dropout must be in [0, 1).");
            }

            _dropout = value;
        }
    }
}

/// <summary>
/// A VGG-style network for 1 x 28 x 28 Fashion-MNIST images, built only from standard TorchSharp modules
/// so that tools which walk <see cref="global::TorchSharp.Modules.Sequential"/> containers (such as a pruner) understand it.
/// </summary>
/// <remarks>
/// Layout: <c>Sequential(features, classifier)</c>. <c>features</c> holds, for every convolution i (1-based),
/// <c>conv{i}</c> (Conv2d 3x3, padding 1, no bias), <c>bn{i}</c> (BatchNorm2d) and <c>relu{i}</c> (ReLU), and after every
/// second convolution <c>pool{i/2}</c> (MaxPool2d 2x2). <c>classifier</c> holds <c>flatten</c>, then (when hidden
/// units &gt; 0) <c>dropout1</c>, <c>fc1</c>, <c>relu</c>, and finally <c>dropout2</c> and <c>fc2</c> to 10 classes
/// (the dropout layers only when Dropout &gt; 0).
/// </remarks>
public static class FashionMnistVgg
{
    /// <summary>Builds a freshly initialized network (use <c>torch.random.manual_seed</c> first for a fixed initialization).</summary>
    /// <param name="options">The shape; null uses the defaults.</param>
    /// <param name="device">Where to put the parameters; null means CPU.</param>
    /// <returns>The network, in training mode.</returns>
    public static Sequential Create(FashionMnistVggOptions? options = null, Device? device = null)
    {
        options ??= new FashionMnistVggOptions();
        var features = new List<(string, Module<Tensor, Tensor>)>();
        int inChannels = 1;
        int size = Data.FashionMnist.ImageSize;
        for (int i = 0; i < options.Widths.Count; i++)
        {
            int width = options.Widths[i];
            // No conv bias: the BatchNorm that follows has its own shift.
            features.Add(($"conv{i + 1}", Conv2d(inChannels, width, 3, padding: 1, bias: false)));
            features.Add(($"bn{i + 1}", BatchNorm2d(width)));
            features.Add(($"relu{i + 1}", ReLU()));
            if (i % 2 == 1)
            {
                features.Add(($"pool{(i + 1) / 2}", MaxPool2d(2)));
                size /= 2;
            }

            inChannels = width;
        }

        var classifier = new List<(string, Module<Tensor, Tensor>)> { ("flatten", Flatten()) };
        long flat = (long)inChannels * size * size;
        if (options.HiddenUnits > 0)
        {
            if (options.Dropout > 0)
            {
                classifier.Add(("dropout1", Dropout(options.Dropout)));
            }

            classifier.Add(("fc1", Linear(flat, options.HiddenUnits)));
            classifier.Add(("relu", ReLU()));
            flat = options.HiddenUnits;
        }

        if (options.Dropout > 0)
        {
            classifier.Add(("dropout2", Dropout(options.Dropout)));
        }

        classifier.Add(("fc2", Linear(flat, Data.FashionMnist.ClassCount)));

        var model = Sequential(("features", Sequential(features)), ("classifier", Sequential(classifier)));
        return device is null ? model : model.to(device);
    }

    /// <summary>Builds a network with <paramref name="options"/> and loads weights saved with <c>module.save</c>.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <param name="options">The shape the checkpoint was trained with; null uses the defaults.</param>
    /// <param name="device">Where to put the parameters; null means CPU.</param>
    /// <returns>The network, in evaluation mode.</returns>
    public static Sequential Load(string path, FashionMnistVggOptions? options = null, Device? device = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        }

        var model = Create(options);
        model.load(path);
        model.eval();
        return device is null ? model : model.to(device);
    }
}
