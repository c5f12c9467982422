using Ldrf;
using Ldrf.Baselines;
using Ldrf.Decomposition;
using Ldrf.Numerics;
using Ldrf.Recomposition;
using Ldrf.Selection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Ldrf's layer pruners and their parts in a service collection, with options the Microsoft.Extensions way.</summary>
public static class LdrfServiceCollectionExtensions
{
    /// <summary>Registers Ldrf with default options (see <see cref="AddLdrf(IServiceCollection, Action{LdrfOptions})"/>).</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder over <paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static LdrfBuilder AddLdrf(this IServiceCollection services) => services.AddLdrf(_ => { });

    /// <summary>
    /// Registers <see cref="LdrfOptions"/> and <see cref="BaselineOptions"/> as options (<c>AddOptions&lt;T&gt;</c>), each
    /// with a validator that reports every invalid value at once, and, as singletons and only where nothing is registered
    /// yet (TryAdd): <see cref="IEmbeddingDecomposer"/>, <see cref="INeuronSelector"/> and <see cref="IRecomposer"/>
    /// chosen by the options (their linear algebra on the managed MathNet provider), <see cref="ILayerPruner"/>
    /// (<see cref="LdrfLayerPruner"/> composed of those parts) and, keyed by <see cref="BaselineKind"/>, every baseline as
    /// an <see cref="ILayerPruner"/> (<c>GetRequiredKeyedService&lt;ILayerPruner&gt;(BaselineKind.ThiNet)</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options. It runs when the options are first resolved, after the configurations
    /// registered before it, so several calls (and <c>services.Configure&lt;LdrfOptions&gt;</c>) compose.</param>
    /// <returns>A builder over <paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <remarks>
    /// Bind the options from configuration with <c>services.AddOptions&lt;LdrfOptions&gt;().Bind(configuration.GetSection("Ldrf"))</c>
    /// (package Microsoft.Extensions.Options.ConfigurationExtensions), or use <c>AddLdrfTorchSharp(configuration)</c>.
    /// Invalid options are reported when a pruner is first resolved (an <see cref="OptionsValidationException"/> naming
    /// every invalid option), or when the host starts after <see cref="LdrfBuilder.ValidateOnStart"/>. Register your own
    /// part before this call to replace one.
    /// </remarks>
    public static LdrfBuilder AddLdrf(this IServiceCollection services, Action<LdrfOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<LdrfOptions>().Configure(configure);
        services.AddOptions<BaselineOptions>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LdrfOptions>>(LdrfOptionsValidator.Instance));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<BaselineOptions>>(BaselineOptionsValidator.Instance));

        services.TryAddSingleton<INumericBackend>(MathNetNumericBackend.Instance);
        services.TryAddSingleton(sp => LdrfComponents.CreateDecomposer(Options(sp).Embedding, sp.GetRequiredService<INumericBackend>()));
        services.TryAddSingleton(sp =>
        {
            var o = Options(sp);
            return LdrfComponents.CreateSelector(o.Selection, o.Seed, sp.GetRequiredService<INumericBackend>());
        });
        services.TryAddSingleton(sp => LdrfComponents.CreateRecomposer(Options(sp), sp.GetRequiredService<INumericBackend>()));
        services.TryAddSingleton<ILayerPruner>(sp => new LdrfLayerPruner(
            Options(sp),
            sp.GetRequiredService<IEmbeddingDecomposer>(),
            sp.GetRequiredService<INeuronSelector>(),
            sp.GetRequiredService<IRecomposer>()));
        foreach (var kind in Enum.GetValues<BaselineKind>())
        {
            services.TryAddKeyedSingleton<ILayerPruner>(kind, (sp, _) => BaselinePruners.Create(
                kind, sp.GetRequiredService<IOptions<BaselineOptions>>().Value, sp.GetRequiredService<INumericBackend>()));
        }

        return new LdrfBuilder(services);
    }

    // The validated options: IOptions<T>.Value runs every registered validator and throws OptionsValidationException.
    private static LdrfOptions Options(IServiceProvider services) => services.GetRequiredService<IOptions<LdrfOptions>>().Value;
}
