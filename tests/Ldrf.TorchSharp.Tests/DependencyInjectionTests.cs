using Ldrf.Numerics;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using Microsoft.Extensions.DependencyInjection;

namespace Ldrf.TorchSharp.Tests;

public class DependencyInjectionTests
{
    [Test]
    public void AddLdrfTorchSharp_registers_the_pruner_on_the_libtorch_backend_and_the_recovery_trainer()
    {
        var services = new ServiceCollection().AddLdrfTorchSharp(o => o.EnergyThreshold = 0.95);
        using var provider = services.BuildServiceProvider();
        Assert.That(provider.GetRequiredService<INumericBackend>(), Is.InstanceOf<TorchNumericBackend>());
        Assert.That(provider.GetRequiredService<LdrfOptions>().EnergyThreshold, Is.EqualTo(0.95));
        Assert.That(provider.GetRequiredService<TorchSharpPruner>(), Is.Not.Null);
        Assert.That(provider.GetRequiredService<RecoveryTrainer>(), Is.Not.Null);
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
