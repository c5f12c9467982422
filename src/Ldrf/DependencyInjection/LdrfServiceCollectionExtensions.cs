using Ldrf;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Ldrf's layer pruner and its parts in a service collection.</summary>
public static class LdrfServiceCollectionExtensions
{
    /// <summary>Registers Ldrf with default options.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddLdrf(this IServiceCollection services) => services.AddLdrf(_ => { });

    /// <summary>
    /// Registers, as singletons and only where nothing is registered yet (TryAdd): <see cref="LdrfOptions"/>
    /// (configured by <paramref name="configure"/>), <see cref="INumericBackend"/>
    /// (<see cref="MathNetNumericBackend"/>), <see cref="IEmbeddingDecomposer"/>, <see cref="INeuronSelector"/>
    /// and <see cref="IRecomposer"/> chosen by the options, and <see cref="ILayerPruner"/>
    /// (<see cref="LdrfLayerPruner"/> composed of those parts). Register your own part first to replace one.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static IServiceCollection AddLdrf(this IServiceCollection services, Action<LdrfOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new LdrfOptions();
        configure(options);
        services.TryAddSingleton(options);
        services.TryAddSingleton<INumericBackend>(MathNetNumericBackend.Instance);
        services.TryAddSingleton(sp => LdrfComponents.CreateDecomposer(sp.GetRequiredService<LdrfOptions>().Embedding, sp.GetRequiredService<INumericBackend>()));
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<LdrfOptions>();
            return LdrfComponents.CreateSelector(o.Selection, o.Seed, sp.GetRequiredService<INumericBackend>());
        });
        services.TryAddSingleton(sp => LdrfComponents.CreateRecomposer(sp.GetRequiredService<LdrfOptions>(), sp.GetRequiredService<INumericBackend>()));
        services.TryAddSingleton<ILayerPruner>(sp => new LdrfLayerPruner(
            sp.GetRequiredService<LdrfOptions>(),
            sp.GetRequiredService<IEmbeddingDecomposer>(),
            sp.GetRequiredService<INeuronSelector>(),
            sp.GetRequiredService<IRecomposer>()));
        return services;
    }
}
