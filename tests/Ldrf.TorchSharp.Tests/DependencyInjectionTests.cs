using Ldrf.Baselines;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Selection;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Ldrf.TorchSharp.Tests;

public class DependencyInjectionTests
{
    private static LdrfLayerPruner ResolveLdrf(IServiceProvider provider) =>
        (LdrfLayerPruner)provider.GetRequiredService<ILayerPruner>();

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    // The valid capacity r of every layer in the report: the one figure of a keep-ratio run that the energy threshold changes.
    private static int?[] Capacities(TorchSharpPruner pruner)
    {
        using var network = TestNetworks.SmallVgg(redundant: true);
        var batches = TestNetworks.Batches(4);
        var options = new NetworkPruningOptions
        {
            ChannelMultiple = 1,
            PerLayerKeepRatios = new Dictionary<string, double> { ["features.3"] = 0.5, ["classifier.0"] = 0.5 },
            MeasureLatency = false,
        };
        using var result = pruner.Prune(network, batches, options);
        batches.ForEach(b => b.Dispose());
        return result.Report.Layers.Where(l => l.ValidCapacity is not null).Select(l => l.ValidCapacity).ToArray();
    }

    [Test]
    public void The_configured_options_reach_the_layer_pruner_and_the_network_pruner_on_the_libtorch_backend()
    {
        using var provider = new ServiceCollection()
            .AddLdrfTorchSharp(o => { o.EnergyThreshold = 0.6; o.Embedding = EmbeddingKind.ActivationPca; })
            .Services.BuildServiceProvider();

        var layerPruner = ResolveLdrf(provider);
        Assert.That(layerPruner.Options.EnergyThreshold, Is.EqualTo(0.6));
        Assert.That(layerPruner.Decomposer, Is.InstanceOf<ActivationPcaDecomposer>());
        Assert.That(provider.GetRequiredService<INumericBackend>(), Is.InstanceOf<TorchNumericBackend>());
        Assert.That(provider.GetRequiredService<IEmbeddingDecomposer>(), Is.SameAs(layerPruner.Decomposer), "the pruner is built from the registered parts");

        // The container's TorchSharpPruner prunes exactly as one built by hand with the same options, and not as the defaults.
        var resolved = Capacities(provider.GetRequiredService<TorchSharpPruner>());
        var byHand = Capacities(new TorchSharpPruner(new LdrfOptions { EnergyThreshold = 0.6, Embedding = EmbeddingKind.ActivationPca }));
        var defaults = Capacities(new TorchSharpPruner());
        Assert.That(resolved, Is.Not.Empty);
        Assert.That(resolved, Is.EqualTo(byHand));
        Assert.That(resolved, Is.Not.EqualTo(defaults), "the threshold must change some layer's valid capacity, or this test shows nothing");
        Assert.That(provider.GetRequiredService<RecoveryTrainer>(), Is.SameAs(provider.GetRequiredService<RecoveryTrainer>()), "a singleton");
    }

    [Test]
    public void A_second_call_and_Configure_compose_with_the_first_instead_of_being_dropped()
    {
        var services = new ServiceCollection();
        services.AddLdrfTorchSharp(o => o.EnergyThreshold = 0.95);
        services.AddLdrf(o => o.Selection = SelectionKind.EmbeddingEnergy);
        services.Configure<LdrfOptions>(o => o.Seed = 7);
        using var provider = services.BuildServiceProvider();

        var options = ResolveLdrf(provider).Options;
        Assert.That((options.EnergyThreshold, options.Selection, options.Seed), Is.EqualTo((0.95, SelectionKind.EmbeddingEnergy, 7)));
        Assert.That(provider.GetRequiredService<INumericBackend>(), Is.InstanceOf<TorchNumericBackend>(), "the first backend registration wins");
        Assert.That(provider.GetServices<IValidateOptions<LdrfOptions>>().Count(), Is.EqualTo(1), "the validator is registered once");
    }

    [Test]
    public void Invalid_options_are_all_reported_at_once_when_a_pruner_is_resolved()
    {
        using var provider = new ServiceCollection()
            .AddLdrfTorchSharp(o => { o.EnergyThreshold = 1.5; o.RidgeScale = -1; o.Lambda = double.NaN; })
            .Services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<TorchSharpPruner>())!;
        Assert.That(ex.OptionsType, Is.EqualTo(typeof(LdrfOptions)));
        Assert.That(ex.Failures, Has.Count.EqualTo(3));
        Assert.That(ex.Message, Does.Contain("'EnergyThreshold'").And.Contain("1.5").And.Contain("'RidgeScale'").And.Contain("-1").And.Contain("'Lambda'"));
    }

    [Test]
    public void Binding_from_configuration_sets_every_value_then_reports_every_invalid_one()
    {
        var configuration = Configuration(
            ("Ldrf:EnergyThreshold", "0.9"), ("Ldrf:Selection", "L1Norm"),
            ("Ldrf:Pruning:TargetFlopsReduction", "3"), ("Ldrf:Pruning:ChannelMultiple", "8"),
            ("Ldrf:Recovery:Epochs", "0"), ("Ldrf:Recovery:Momentum", "1"), ("Ldrf:Recovery:LearningRate", "-0.1"),
            ("Ldrf:Baselines:RidgeScale", "0.5"));
        using var provider = new ServiceCollection().AddLdrfTorchSharp(configuration.GetSection("Ldrf")).Services.BuildServiceProvider();

        var ldrf = ResolveLdrf(provider).Options;
        Assert.That((ldrf.EnergyThreshold, ldrf.Selection), Is.EqualTo((0.9, SelectionKind.L1Norm)));
        var pruning = provider.GetRequiredService<IOptions<NetworkPruningOptions>>().Value;
        Assert.That((pruning.TargetFlopsReduction, pruning.ChannelMultiple), Is.EqualTo(((double?)3, 8)));
        Assert.That(((ThiNetLayerPruner)provider.GetRequiredKeyedService<ILayerPruner>(BaselineKind.ThiNet)).RidgeScale, Is.EqualTo(0.5));

        var ex = Assert.Throws<OptionsValidationException>(() => _ = provider.GetRequiredService<IOptions<RecoveryOptions>>().Value)!;
        Assert.That(ex.Failures, Has.Count.EqualTo(3), "binding does not stop at the first bad value");
        Assert.That(ex.Message, Does.Contain("'Epochs'").And.Contain("'Momentum'").And.Contain("'LearningRate'"));
    }

    [Test]
    public void Per_layer_keep_ratios_bind_from_configuration()
    {
        var configuration = Configuration(("Ldrf:Pruning:PerLayerKeepRatios:features.3", "0.5"), ("Ldrf:Pruning:PerLayerKeepRatios:classifier.0", "0.25"));
        using var provider = new ServiceCollection().AddLdrfTorchSharp(configuration.GetSection("Ldrf")).Services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<NetworkPruningOptions>>().Value;
        Assert.That(options.TargetFlopsReduction, Is.Null);
        Assert.That(options.PerLayerKeepRatios, Is.EquivalentTo(new Dictionary<string, double> { ["features.3"] = 0.5, ["classifier.0"] = 0.25 }));
    }

    [Test]
    public void ValidateOnStart_throws_when_the_host_starts_not_before()
    {
        var services = new ServiceCollection();
        services.AddLdrfTorchSharp(o => o.EnergyThreshold = 0).ValidateOnStart();
        services.Configure<BaselineOptions>(o => o.RidgeScale = double.PositiveInfinity);
        using var provider = services.BuildServiceProvider();

        // What a host does when it starts: run every options validation registered with ValidateOnStart. Both options
        // types are invalid, so both are reported (in an AggregateException, one OptionsValidationException each).
        var ex = Assert.ThrowsAsync<AggregateException>(async () => await provider.GetRequiredService<IAsyncStartupValidator>().ValidateAsync(CancellationToken.None))!;
        var failures = ex.InnerExceptions.Cast<OptionsValidationException>().ToDictionary(e => e.OptionsType, e => e.Message);
        Assert.That(failures.Keys, Is.EquivalentTo(new[] { typeof(LdrfOptions), typeof(BaselineOptions) }));
        Assert.That(failures[typeof(LdrfOptions)], Does.Contain("'EnergyThreshold'").And.Contain("(0, 1]"));
        Assert.That(failures[typeof(BaselineOptions)], Does.Contain("'RidgeScale'").And.Contain("Infinity"));
    }

    [Test]
    public void LDRF_and_every_baseline_live_in_one_container_keyed_by_method()
    {
        using var provider = new ServiceCollection().AddLdrfTorchSharp().Services.BuildServiceProvider();

        Assert.That(provider.GetRequiredService<ILayerPruner>(), Is.InstanceOf<LdrfLayerPruner>());
        var expected = new Dictionary<BaselineKind, Type>
        {
            [BaselineKind.L1Norm] = typeof(NoReconstructionLayerPruner),
            [BaselineKind.RandomLeastSquares] = typeof(LeastSquaresLayerPruner),
            [BaselineKind.ThiNet] = typeof(ThiNetLayerPruner),
            [BaselineKind.ChannelPruning] = typeof(ChannelPruningLayerPruner),
        };
        Assert.That(expected.Keys, Is.EquivalentTo(Enum.GetValues<BaselineKind>()), "every baseline is listed here");
        foreach (var (kind, type) in expected)
        {
            Assert.That(provider.GetRequiredKeyedService<ILayerPruner>(kind), Is.TypeOf(type), kind.ToString());
        }

        var networkPruners = expected.Keys.Select(k => provider.GetRequiredKeyedService<TorchSharpPruner>(k)).Append(provider.GetRequiredService<TorchSharpPruner>());
        Assert.That(networkPruners, Is.Unique, "one network pruner per method");
    }

    [Test]
    public void A_backend_registered_first_is_kept()
    {
        var services = new ServiceCollection();
        services.AddSingleton<INumericBackend>(MathNetNumericBackend.Instance);
        services.AddLdrfTorchSharp();
        using var provider = services.BuildServiceProvider();
        Assert.That(provider.GetRequiredService<INumericBackend>(), Is.SameAs(MathNetNumericBackend.Instance));
    }
}
