using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Samples.Common.Training;

/// <summary>Accuracy and loss of a classifier on a labelled set.</summary>
/// <param name="Accuracy">Fraction of examples whose arg-max logit is the label.</param>
/// <param name="Loss">Mean cross-entropy.</param>
/// <param name="Count">Number of examples.</param>
public sealed record EvaluationResult(double Accuracy, double Loss, int Count);

/// <summary>Evaluates classifiers in evaluation mode, without gradients, batch by batch.</summary>
public static class Evaluator
{
    /// <summary>Fraction of examples the model classifies correctly.</summary>
    /// <param name="model">A classifier mapping N x C x H x W images to N x classes logits.</param>
    /// <param name="images">Images, N x C x H x W (batches are moved to the model's device).</param>
    /// <param name="labels">Labels, N, int64.</param>
    /// <param name="batchSize">Examples per forward pass.</param>
    /// <returns>The accuracy in [0, 1].</returns>
    public static double Accuracy(nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, int batchSize = 500) =>
        Evaluate(model, images, labels, batchSize).Accuracy;

    /// <summary>Accuracy and mean cross-entropy. The model's training/evaluation mode is restored afterwards.</summary>
    /// <param name="model">A classifier mapping N x C x H x W images to N x classes logits.</param>
    /// <param name="images">Images, N x C x H x W (batches are moved to the model's device).</param>
    /// <param name="labels">Labels, N, int64.</param>
    /// <param name="batchSize">Examples per forward pass.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns>Accuracy, loss and count.</returns>
    public static EvaluationResult Evaluate(
        nn.Module<Tensor, Tensor> model, Tensor images, Tensor labels, int batchSize = 500, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        long count = images.shape[0];
        if (labels.shape.Length != 1 || labels.shape[0] != count)
        {
            throw new ArgumentException(
                $"labels must be a vector of {count} labels, got shape [{string.Join(", ", labels.shape)}].", nameof(labels));
        }

        if (count == 0)
        {
            throw new ArgumentException("images holds no examples.", nameof(images));
        }

        var device = model.parameters().FirstOrDefault()?.device ?? images.device;
        bool wasTraining = model.training;
        model.eval();
        long correct = 0;
        double lossSum = 0;
        try
        {
            using var noGrad = torch.no_grad();
            for (long start = 0; start < count; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = torch.NewDisposeScope();
                long length = Math.Min(batchSize, count - start);
                var x = images.narrow(0, start, length).to(device);
                var y = labels.narrow(0, start, length).to(device);
                var logits = model.forward(x);
                correct += logits.argmax(1).eq(y).sum().item<long>();
                lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
            }
        }
        finally
        {
            model.train(wasTraining);
        }

        return new EvaluationResult((double)correct / count, lossSum / count, (int)count);
    }
}
