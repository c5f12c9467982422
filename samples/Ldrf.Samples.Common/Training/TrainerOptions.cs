namespace Ldrf.Samples.Common.Training;

/// <summary>The optimizer a <see cref="Trainer"/> uses.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent with (Nesterov) momentum and weight decay.</summary>
    Sgd,

    /// <summary>Adam with (L2) weight decay.</summary>
    Adam,
}

/// <summary>How the learning rate changes over the run.</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate at every step.</summary>
    Constant,

    /// <summary>Cosine decay from the rate to zero over all steps.</summary>
    Cosine,

    /// <summary>
    /// One cycle: linear warm-up from a tenth of the rate to the rate over the first
    /// <see cref="TrainerOptions.WarmupFraction"/> of the steps, then cosine decay to zero.
    /// </summary>
    OneCycle,
}

/// <summary>Settings of a <see cref="Trainer"/>. Setters validate.</summary>
public sealed class TrainerOptions
{
    private int _epochs = 1;
    private int? _maxSteps;
    private int _batchSize = 128;
    private double _learningRate = 0.05;
    private double _momentum = 0.9;
    private double _weightDecay = 5e-4;
    private double _warmupFraction = 0.15;
    private int _cropPadding;

    /// <summary>Passes over the data. Default 1.</summary>
    public int Epochs
    {
        get => _epochs;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _epochs = value;
        }
    }

    /// <summary>When set, stop after this many optimizer steps (the schedule spans these steps). Default null.</summary>
    public int? MaxSteps
    {
        get => _maxSteps;
        set
        {
            if (value is <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "MaxSteps must be null or positive.");
            }

            _maxSteps = value;
        }
    }

    /// <summary>Examples per step. Default 128.</summary>
    public int BatchSize
    {
        get => _batchSize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _batchSize = value;
        }
    }

    /// <summary>Peak learning rate. Default 0.05 (for SGD; around 1e-3 suits Adam).</summary>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            _learningRate = value;
        }
    }

    /// <summary>SGD momentum (Nesterov). Ignored by Adam. Default 0.9.</summary>
    public double Momentum
    {
        get => _momentum;
        set
        {
            if (value is < 0 or >= 1 || double.IsNaN(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "Momentum must be in [0, 1).");
            }

            _momentum = value;
        }
    }

    /// <summary>L2 weight decay. Default 5e-4.</summary>
    public double WeightDecay
    {
        get => _weightDecay;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _weightDecay = value;
        }
    }

    /// <summary>The optimizer. Default <see cref="OptimizerKind.Sgd"/>.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Sgd;

    /// <summary>The learning-rate schedule. Default <see cref="LearningRateSchedule.OneCycle"/>.</summary>
    public LearningRateSchedule Schedule { get; set; } = LearningRateSchedule.OneCycle;

    /// <summary>Fraction of the steps spent warming up under <see cref="LearningRateSchedule.OneCycle"/>. Default 0.15.</summary>
    public double WarmupFraction
    {
        get => _warmupFraction;
        set
        {
            if (value is < 0 or >= 1 || double.IsNaN(value))
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "WarmupFraction must be in [0, 1).");
            }

            _warmupFraction = value;
        }
    }

    /// <summary>Random horizontal flips of training images. Default false.</summary>
    public bool HorizontalFlip { get; set; }

    /// <summary>Random crops after padding by this many pixels (0 disables). Default 0; 2 is a light augmentation.</summary>
    public int CropPadding
    {
        get => _cropPadding;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _cropPadding = value;
        }
    }

    /// <summary>Value used for the padding of random crops (the normalized value of a black pixel suits Fashion-MNIST). Default 0.</summary>
    public float PaddingValue { get; set; }

    /// <summary>Seed of the shuffling, augmentation and dropout. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Report progress every this many steps. Default 50.</summary>
    public int ProgressInterval { get; set; } = 50;
}
