using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Runtime;

/// <summary>Process-wide switches of libtorch's CPU backend that TorchSharp 0.107 does not expose.</summary>
/// <remarks>
/// <para>
/// Ldrf itself never sets these: it leaves libtorch's global state as the application set it. The tests use them
/// to check that pruning leaves the switch alone and to measure the oneDNN defect below, which matters for a
/// network whose convolution input widths are off oneDNN's channel block (for example a network pruned with
/// <see cref="Pruning.NetworkPruningOptions.ChannelMultiple"/> = 1).
/// </para>
/// <para>
/// Measured on this project's machines (AMD EPYC with AVX-512, TorchSharp 0.107, libtorch 2.10, default settings,
/// nothing toggled), a float32 3x3 convolution, batch of 2 or more, against the same convolution in float64: the
/// forward pass was right for input widths 1 to 16 and every multiple of 16, and wrong by 5% to 40% or NaN for
/// every other input width from 17 up, varying from process to process; the input gradient (training) was right
/// only for output widths that are multiples of 16. With <c>ONEDNN_MAX_CPU_ISA=AVX2</c> the block is 8 channels
/// instead. Switching oneDNN off (<see cref="TrySetMkldnnEnabled"/>(false)) makes every width right but slower,
/// and on CPUs that NNPACK does not support libtorch then prints "Could not initialize NNPACK! Reason:
/// Unsupported hardware." for each convolution.
/// The table is in docs/results.md (the harness's <c>--convolution-widths</c>); docs/troubleshooting.md says what to do.
/// </para>
/// <para>
/// The switch is libtorch's global <c>at::Context</c> flag, reached through its C++ symbols, so it works only on
/// Linux x64 builds of libtorch; elsewhere the methods return false and change nothing. It affects every thread
/// of the process: set it once at start-up, before any network runs.
/// </para>
/// </remarks>
internal static class LibTorchSettings
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
