using Ldrf.TorchSharp.Recovery;
using Ldrf.TorchSharp.Tests.Reliability;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Tests.Recovery;

/// <summary>
/// The recovery trainer's part of the bad-input catalogue (docs/bad-input-catalogue.md): the exact exception type, the
/// caller's argument as ParamName, and a message that names the option or argument at fault.
/// </summary>
[Category("BadInput")]
public class RecoveryBadInputTests
{
    private static readonly RecoveryOptions OneStep = new() { MaxSteps = 1, BatchSize = 16 };

    private static RecoveryResult Recover(nn.Module<Tensor, Tensor> original, nn.Module<Tensor, Tensor> pruned, Tensor images, Tensor? labels = null) =>
        new RecoveryTrainer().Recover(original, pruned, images, labels, OneStep);

    // An argument exception from RecoveryTrainer.Recover: its ParamName must be one of Recover's arguments.
    private static T RecoverThrows<T>(TestDelegate code, params string[] fragments)
        where T : ArgumentException =>
        CallerArgument.Throws<T>(typeof(RecoveryTrainer), nameof(RecoveryTrainer.Recover), code, fragments);

    [TestCase("original")]
    [TestCase("pruned")]
    [TestCase("images")]
    public void A71_a_null_network_or_images_are_named(string argument)
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = RecoveryTests.Student();
        using var images = RecoveryTests.Images(32);
        var ex = RecoverThrows<ArgumentNullException>(() => Recover(
            argument == "original" ? null! : teacher, argument == "pruned" ? null! : student, argument == "images" ? null! : images))!;
        Assert.That(ex.ParamName, Is.EqualTo(argument));
    }

    [Test]
    public void A72_a_pruned_network_with_an_unsupported_layer_names_its_path_and_type()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = nn.Sequential(("features", nn.Sequential(("0", nn.Conv2d(3, 16, 3)), ("1", nn.Tanh()))), ("flatten", nn.Flatten()), ("head", nn.Linear(16 * 10 * 10, 5)));
        using var images = RecoveryTests.Images(32);
        var ex = RecoverThrows<ArgumentException>(() => Recover(teacher, student, images), "'features.1'", "Tanh");
        Assert.That(ex.ParamName, Is.EqualTo("pruned"));
    }

    [Test]
    public void A73_a_pruned_network_with_other_outputs_than_the_original_names_both_counts()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = nn.Sequential(("features", nn.Sequential(("0", nn.Conv2d(3, 16, 3)), ("1", nn.ReLU()))), ("flatten", nn.Flatten()), ("head", nn.Linear(16 * 10 * 10, 4)));
        using var images = RecoveryTests.Images(32);
        var ex = RecoverThrows<ArgumentException>(() => Recover(teacher, student, images), "'pruned' gives 4 outputs", "'original' gives 5");
        Assert.That(ex.ParamName, Is.EqualTo("pruned"));
    }

    [Test]
    public void A74_images_of_the_wrong_shape_are_named_with_their_shape()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = RecoveryTests.Student();
        using var flat = torch.randn(32, 3 * 12 * 12);
        using var fourChannels = torch.randn(32, 4, 12, 12);
        var rank = RecoverThrows<ArgumentException>(() => Recover(teacher, student, flat), "'images'", "32 x 432", "N x C x H x W");
        var channels = RecoverThrows<ArgumentException>(() => Recover(teacher, student, fourChannels), "features.0", "4 x 12 x 12");
        Assert.That((rank.ParamName, channels.ParamName), Is.EqualTo(("images", "images")));
    }

    [Test]
    public void A75_nan_in_the_images_names_its_position()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = RecoveryTests.Student();
        using var images = RecoveryTests.Images(32);
        images[5, 1, 2, 3] = torch.tensor(float.NaN);
        var ex = RecoverThrows<ArgumentException>(() => Recover(teacher, student, images), "'images'", "NaN", "[5, 1, 2, 3]");
        Assert.That(ex.ParamName, Is.EqualTo("images"));
    }

    [Test]
    public void A76_too_few_images_to_hold_out_names_the_option_and_the_count()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = RecoveryTests.Student();
        using var one = RecoveryTests.Images(16).narrow(0, 0, 1);
        var ex = RecoverThrows<ArgumentException>(() => Recover(teacher, student, one), "'images' holds 1 image", "HeldOutFraction");
        Assert.That(ex.ParamName, Is.EqualTo("images"));
    }

    [Test]
    public void A77_labels_of_the_wrong_length_or_outside_the_classes_are_named()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = RecoveryTests.Student();
        using var images = RecoveryTests.Images(32);
        using var short_ = torch.zeros(31, ScalarType.Int64);
        using var outside = torch.full(32, 5, ScalarType.Int64);
        using var floats = torch.zeros(32);
        var length = RecoverThrows<ArgumentException>(() => Recover(teacher, student, images, short_), "'labels'", "31", "32 integer class indices");
        var range = RecoverThrows<ArgumentException>(() => Recover(teacher, student, images, outside), "'labels'", "from 5 to 5", "[0, 5)");
        var type = RecoverThrows<ArgumentException>(() => Recover(teacher, student, images, floats), "'labels'", "Float32");
        Assert.That(new[] { length.ParamName, range.ParamName, type.ParamName }, Is.All.EqualTo("labels"));
    }

    [Test]
    public void A78_nan_in_a_weight_of_the_pruned_network_names_the_tensor()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = RecoveryTests.Student();
        using var images = RecoveryTests.Images(32);
        using (no_grad())
        {
            student.named_parameters().First(p => p.name == "features.2.weight").parameter[1, 2, 0, 0] = torch.tensor(float.NaN);
        }

        var ex = RecoverThrows<ArgumentException>(() => Recover(teacher, student, images), "'features.2.weight'", "[1, 2, 0, 0]");
        Assert.That(ex.ParamName, Is.EqualTo("pruned"));
    }

    private static readonly (string Option, Action<RecoveryOptions> Set)[] BadOptions =
    [
        (nameof(RecoveryOptions.Epochs), o => o.Epochs = 0),
        (nameof(RecoveryOptions.MaxSteps), o => o.MaxSteps = 0),
        (nameof(RecoveryOptions.BatchSize), o => o.BatchSize = -1),
        (nameof(RecoveryOptions.LearningRate), o => o.LearningRate = 0),
        (nameof(RecoveryOptions.LearningRate), o => o.LearningRate = double.NaN),
        (nameof(RecoveryOptions.LearningRate), o => o.LearningRate = double.PositiveInfinity),
        (nameof(RecoveryOptions.Optimizer), o => o.Optimizer = (RecoveryOptimizer)7),
        (nameof(RecoveryOptions.Schedule), o => o.Schedule = (RecoverySchedule)7),
        (nameof(RecoveryOptions.Momentum), o => o.Momentum = 1),
        (nameof(RecoveryOptions.Temperature), o => o.Temperature = 0),
        (nameof(RecoveryOptions.LabelWeight), o => o.LabelWeight = -1),
        (nameof(RecoveryOptions.HeldOutFraction), o => o.HeldOutFraction = 0),
        (nameof(RecoveryOptions.HeldOutFraction), o => o.HeldOutFraction = 1),
        (nameof(RecoveryOptions.Patience), o => o.Patience = 0),
    ];

    [Test]
    public void A79_recovery_options_out_of_range_are_named_by_the_trainer_all_at_once()
    {
        using var teacher = TestNetworks.WideVgg();
        using var student = RecoveryTests.Student();
        using var images = RecoveryTests.Images(32);
        foreach (var (option, set) in BadOptions)
        {
            var options = new RecoveryOptions();
            set(options);
            var before = Describe(options);
            var ex = RecoverThrows<ArgumentException>(() => new RecoveryTrainer().Recover(teacher, student, images, options: options), "'options'", $"'{option}' must be");
            Assert.That(ex.ParamName, Is.EqualTo("options"), option);
            Assert.That(Describe(options), Is.EqualTo(before), $"{option}: the caller's options are left as they are");
        }

        // Every invalid value at once, not only the first.
        var all = new RecoveryOptions();
        foreach (var (_, set) in BadOptions)
        {
            set(all);
        }

        var every = RecoverThrows<ArgumentException>(() => new RecoveryTrainer().Recover(teacher, student, images, options: all), "'options'");
        Assert.That(BadOptions.Select(b => b.Option).Distinct(), Has.All.Matches<string>(o => every.Message.Contains($"'{o}' must be", StringComparison.Ordinal)));
    }

    private static string Describe(RecoveryOptions o) =>
        FormattableString.Invariant($"{o.Epochs} {o.MaxSteps} {o.BatchSize} {o.LearningRate} {o.Optimizer} {o.Schedule} {o.Momentum} {o.Temperature} {o.LabelWeight} {o.HeldOutFraction} {o.Patience} {o.Seed}");
}
