using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>
/// A frozen linear probe: multinomial logistic regression on standardized features, trained once (full batch) and then
/// applied unchanged to other networks' features of the same images, so that a change in accuracy measures the features.
/// </summary>
internal sealed class LinearProbe : IDisposable
{
    private const int Steps = 500;
    private const double LearningRate = 0.05;
    private const double WeightDecay = 1e-4;

    /// <summary>How it is trained, for the run's settings text.</summary>
    public const string Describe = "features standardized with the training features' mean and deviation, full-batch Adam, 500 steps, lr 0.05, L2 1e-4, float32";

    private readonly Tensor _mean;
    private readonly Tensor _scale;
    private readonly Tensor _weight;
    private readonly Tensor _bias;

    private LinearProbe(Tensor mean, Tensor scale, Tensor weight, Tensor bias)
    {
        (_mean, _scale, _weight, _bias) = (mean, scale, weight, bias);
    }

    /// <summary>Trains on <paramref name="features"/> (N x F) and <paramref name="labels"/> (N, int64, 0..classes-1).</summary>
    public static LinearProbe Train(Tensor features, Tensor labels, int classes, int seed)
    {
        using var scope = NewDisposeScope();
        torch.random.manual_seed(seed);
        var x = features.to(float32);
        var mean = x.mean([0], keepdim: true);
        // Features that never vary (dead channels) keep a scale of 1 rather than dividing by zero.
        var deviation = x.std([0], keepdim: true);
        var scale = where(deviation > 1e-6, deviation, ones_like(deviation));
        var z = (x - mean) / scale;
        var weight = new global::TorchSharp.Modules.Parameter(zeros(x.shape[1], classes));
        var bias = new global::TorchSharp.Modules.Parameter(zeros(classes));
        var optimizer = optim.Adam([weight, bias], lr: LearningRate);
        for (var step = 0; step < Steps; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(z.matmul(weight) + bias, labels) + (WeightDecay / 2 * weight.pow(2).sum());
            loss.backward();
            optimizer.step();
        }

        return new LinearProbe(mean.MoveToOuterDisposeScope(), scale.MoveToOuterDisposeScope(),
            weight.detach().MoveToOuterDisposeScope(), bias.detach().MoveToOuterDisposeScope());
    }

    /// <summary>The predicted class of each row of <paramref name="features"/>.</summary>
    public Tensor Predict(Tensor features)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return ((features.to(float32) - _mean) / _scale).matmul(_weight).add(_bias).argmax(1).MoveToOuterDisposeScope();
    }

    /// <summary>The fraction of rows whose predicted class is the label.</summary>
    public double Accuracy(Tensor features, Tensor labels)
    {
        using var scope = NewDisposeScope();
        return Predict(features).eq(labels).to(float64).mean().item<double>();
    }

    public void Dispose()
    {
        _mean.Dispose();
        _scale.Dispose();
        _weight.Dispose();
        _bias.Dispose();
    }
}
