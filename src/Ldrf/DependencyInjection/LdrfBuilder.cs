using Ldrf;
using Ldrf.Baselines;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>What <c>AddLdrf</c> and <c>AddLdrfTorchSharp</c> return, for chaining further registrations.</summary>
public sealed class LdrfBuilder
{
    internal LdrfBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection Ldrf was added to.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Validates <see cref="LdrfOptions"/> and <see cref="BaselineOptions"/>, the options the registered pruners are
    /// built from, when the host starts (<c>ValidateOnStart</c>), so that invalid values stop the application before it
    /// runs, with every invalid option named. Options passed per call (<c>NetworkPruningOptions</c>,
    /// <c>RecoveryOptions</c>) are checked when they are used; add <c>Services.AddOptions&lt;T&gt;().ValidateOnStart()</c>
    /// for those you bind from configuration.
    /// </summary>
    /// <returns>This builder.</returns>
    public LdrfBuilder ValidateOnStart()
    {
        Services.AddOptions<LdrfOptions>().ValidateOnStart();
        Services.AddOptions<BaselineOptions>().ValidateOnStart();
        return this;
    }
}
