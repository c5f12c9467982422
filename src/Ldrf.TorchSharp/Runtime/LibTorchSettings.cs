using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Runtime;

/// <summary>Process-wide switches of libtorch's CPU backend that TorchSharp 0.107 does not expose.</summary>
/// <remarks>
/// Measured on this project's machines (TorchSharp 0.107, libtorch 2.10, Debian 12, x64): libtorch's oneDNN
/// (MKL-DNN) CPU convolutions of pruned networks, with layer widths such as 28, 56 or 112 channels, sometimes
/// returned NaN for finite weights and inputs; which run failed varied from process to process, and a failing
/// convolution failed again on the same tensors. With oneDNN switched off, libtorch's other CPU kernels gave
/// finite results in every run. <see cref="Pruning.TorchSharpPruner"/> therefore switches oneDNN off while it
/// prunes a CPU network and restores the previous setting afterwards; an application that runs pruned networks
/// on CPU can do the same with <see cref="TrySetMkldnnEnabled"/>. The switch is libtorch's global
/// <c>at::Context</c> flag, reached through its C++ symbols, so it works only on Linux x64 builds of libtorch;
/// elsewhere the methods return false and change nothing.
/// </remarks>
public static class LibTorchSettings
{
    private const string LibTorchCpu = "libtorch_cpu";

    /// <summary>Reads whether libtorch may use oneDNN for CPU operations.</summary>
    /// <param name="enabled">The current setting, when the method returns true.</param>
    /// <returns>False where the setting cannot be reached (not Linux x64, or libtorch not found).</returns>
    public static bool TryGetMkldnnEnabled(out bool enabled)
    {
        enabled = false;
        if (!IsReachable())
        {
            return false;
        }

        try
        {
            enabled = UserEnabledMkldnn(GlobalContext());
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>Allows or forbids libtorch's use of oneDNN for CPU operations, for the whole process.</summary>
    /// <param name="enabled">The new setting.</param>
    /// <returns>False where the setting cannot be reached (not Linux x64, or libtorch not found); nothing changed then.</returns>
    public static bool TrySetMkldnnEnabled(bool enabled)
    {
        if (!IsReachable())
        {
            return false;
        }

        try
        {
            SetUserEnabledMkldnn(GlobalContext(), enabled);
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static bool IsReachable()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != System.Runtime.InteropServices.Architecture.X64)
        {
            return false;
        }

        // Touching the torch API makes TorchSharp load libtorch before the symbols below are resolved.
        _ = get_num_threads();
        return true;
    }

    // at::globalContext(), at::Context::userEnabledMkldnn() const, at::Context::setUserEnabledMkldnn(bool):
    // Itanium C++ ABI names; member functions take the Context pointer as their first argument.
    [DllImport(LibTorchCpu, EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport(LibTorchCpu, EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

    [DllImport(LibTorchCpu, EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);
}
