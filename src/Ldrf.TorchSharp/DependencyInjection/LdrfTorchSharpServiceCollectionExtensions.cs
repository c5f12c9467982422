using Ldrf;
using Ldrf.Numerics;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Ldrf's TorchSharp pruner in a service collection.</summary>
public static class LdrfTorchSharpServiceCollectionExtensions
{
    /// <summary>Registers the TorchSharp adapter with default LDRF options.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddLdrfTorchSharp(this IServiceCollection services) => services.AddLdrfTorchSharp(_ => { });

    /// <summary>
    /// Registers, as singletons and only where nothing is registered yet (TryAdd): a CPU
    /// <see cref="TorchNumericBackend"/> as <see cref="INumericBackend"/> (libtorch's MKL-backed linear algebra),
    /// everything <c>AddLdrf</c> registers (configured by <paramref name="configure"/>), and
    /// <see cref="TorchSharpPruner"/> built on the registered <see cref="ILayerPruner"/> and logger, and
    /// <see cref="RecoveryTrainer"/> with the registered logger.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the LDRF options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddLdrfTorchSharp(this IServiceCollection services, Action<LdrfOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.TryAddSingleton<INumericBackend>(_ => new TorchNumericBackend());
        services.AddLdrf(configure);
        services.TryAddSingleton(sp => new TorchSharpPruner(sp.GetRequiredService<ILayerPruner>(), sp.GetService<ILogger<TorchSharpPruner>>()));
        services.TryAddSingleton(sp => new RecoveryTrainer(sp.GetService<ILogger<RecoveryTrainer>>()));
        return services;
    }
}
