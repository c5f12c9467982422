using Ldrf;
using Ldrf.Baselines;
using Ldrf.Numerics;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Ldrf's TorchSharp pruner in a service collection.</summary>
public static class LdrfTorchSharpServiceCollectionExtensions
{
    /// <summary>Registers the TorchSharp adapter with default LDRF options (see <see cref="AddLdrfTorchSharp(IServiceCollection, Action{LdrfOptions})"/>).</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>A builder over <paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    public static LdrfBuilder AddLdrfTorchSharp(this IServiceCollection services) => services.AddLdrfTorchSharp(_ => { });

    /// <summary>
    /// Registers, only where nothing is registered yet (TryAdd): the parts' linear algebra on libtorch on the CPU
    /// (MKL-backed, in float64, instead of <c>AddLdrf</c>'s managed MathNet); everything <c>AddLdrf</c> registers
    /// (<see cref="LdrfOptions"/> configured by <paramref name="configure"/>, <see cref="BaselineOptions"/>, the LDRF
    /// <see cref="ILayerPruner"/> and the baselines keyed by <see cref="BaselineKind"/>); <see cref="NetworkPruningOptions"/>
    /// and <see cref="RecoveryOptions"/> as options with validators that report every invalid value at once; and, as
    /// singletons with the registered logger, <see cref="TorchSharpPruner"/> on the LDRF layer pruner, a
    /// <see cref="TorchSharpPruner"/> per baseline keyed by its <see cref="BaselineKind"/>, and <see cref="RecoveryTrainer"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the LDRF options; several calls compose (see <c>AddLdrf</c>).</param>
    /// <returns>A builder over <paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static LdrfBuilder AddLdrfTorchSharp(this IServiceCollection services, Action<LdrfOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.TryAddSingleton<INumericBackend>(_ => new TorchNumericBackend());
        var builder = services.AddLdrf(configure);
        services.AddOptions<NetworkPruningOptions>();
        services.AddOptions<RecoveryOptions>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NetworkPruningOptions>>(NetworkPruningOptionsValidator.Instance));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RecoveryOptions>>(RecoveryOptionsValidator.Instance));
        services.TryAddSingleton(sp => new TorchSharpPruner(sp.GetRequiredService<ILayerPruner>(), sp.GetService<ILogger<TorchSharpPruner>>()));
        foreach (var kind in Enum.GetValues<BaselineKind>())
        {
            services.TryAddKeyedSingleton(kind, (sp, key) => new TorchSharpPruner(sp.GetRequiredKeyedService<ILayerPruner>(key), sp.GetService<ILogger<TorchSharpPruner>>()));
        }

        services.TryAddSingleton(sp => new RecoveryTrainer(sp.GetService<ILogger<RecoveryTrainer>>()));
        return builder;
    }

    /// <summary>
    /// <see cref="AddLdrfTorchSharp(IServiceCollection, Action{LdrfOptions})"/> with every options type bound from
    /// <paramref name="configuration"/>: <see cref="LdrfOptions"/> from the section itself, and its subsections
    /// <c>Pruning</c> (<see cref="NetworkPruningOptions"/>), <c>Recovery</c> (<see cref="RecoveryOptions"/>) and
    /// <c>Baselines</c> (<see cref="BaselineOptions"/>). Pass the application's <c>Ldrf</c> section, for example
    /// <c>builder.Configuration.GetSection("Ldrf")</c>. Invalid values are all reported together, when the options are
    /// first used or, after <see cref="LdrfBuilder.ValidateOnStart"/>, when the host starts.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section to bind.</param>
    /// <returns>A builder over <paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public static LdrfBuilder AddLdrfTorchSharp(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = services.AddLdrfTorchSharp();
        services.AddOptions<LdrfOptions>().Bind(configuration);
        services.AddOptions<NetworkPruningOptions>().Bind(configuration.GetSection(PruningSection));
        services.AddOptions<RecoveryOptions>().Bind(configuration.GetSection(RecoverySection));
        services.AddOptions<BaselineOptions>().Bind(configuration.GetSection(BaselinesSection));
        return builder;
    }

    private const string PruningSection = "Pruning";
    private const string RecoverySection = "Recovery";
    private const string BaselinesSection = "Baselines";
}
