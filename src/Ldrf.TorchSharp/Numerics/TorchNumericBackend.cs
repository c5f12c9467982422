using System.Globalization;
using System.Runtime.InteropServices;
using Ldrf.Numerics;
using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Double;
using TorchSharp;
using static TorchSharp.torch;
using SimdVector = System.Numerics.Vector<double>;

namespace Ldrf.TorchSharp.Numerics;

/// <summary>
/// An <see cref="INumericBackend"/> on libtorch in double precision: matmul, <c>torch.linalg.eigh</c>,
/// <c>torch.linalg.svd</c>, <c>torch.linalg.cholesky_ex</c> and <c>torch.cholesky_solve</c>. libtorch's CPU
/// build links Intel MKL, so on CPU this is much faster than the managed MathNet provider for matrices of a few
/// hundred channels (docs/benchmarks.md gives the measured ratios); on a CUDA device it runs on the GPU.
/// </summary>
/// <remarks>
/// Results follow the same conventions as <see cref="MathNetNumericBackend"/>, so the two agree up to
/// round-off: eigenvalues and singular values descending, and each eigenvector / left singular vector
/// signed so that its largest-magnitude component (the first on ties) is positive, with the matching right
/// singular vector flipped alongside. On the CPU the input tensors share the arguments' storage for the
/// duration of a call (no copy); on another device each argument is copied there. Each result is copied back
/// once; the arguments are never modified. Tensors live only inside a call (a dispose scope), so the backend is
/// safe to use from one thread at a time and holds no native memory between calls.
/// </remarks>
internal sealed class TorchNumericBackend : INumericBackend
{
    private readonly Device _device;

    /// <summary>Creates a backend on <paramref name="device"/> (default: CPU).</summary>
    /// <param name="device">Where the arithmetic runs, for example <c>torch.CUDA</c>.</param>
    public TorchNumericBackend(Device? device = null)
    {
        _device = device ?? CPU;
    }

    /// <summary>The device the arithmetic runs on.</summary>
    public Device Device => _device;

    /// <inheritdoc />
    public string Name => "libtorch (" + _device + ", float64)";

    /// <inheritdoc />
    public Matrix<double> Multiply(Matrix<double> a, Matrix<double> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.ColumnCount != b.RowCount)
        {
            throw new ArgumentException(
                $"Cannot multiply 'a' ({Shape(a)}) by 'b' ({Shape(b)}): a's column count must equal b's row count.", nameof(b));
        }

        using var scope = NewDisposeScope();
        return ToMatrix(ToTensor(a).matmul(ToTensor(b)));
    }

    /// <inheritdoc />
    public Matrix<double> MultiplyTransposed(Matrix<double> a, Matrix<double> b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.ColumnCount != b.ColumnCount)
        {
            throw new ArgumentException(
                $"Cannot form a * bᵀ for 'a' ({Shape(a)}) and 'b' ({Shape(b)}): both must have the same column count.", nameof(b));
        }

        using var scope = NewDisposeScope();
        var ta = ToTensor(a);
        return ToMatrix(ta.matmul(ReferenceEquals(a, b) ? ta.t() : ToTensor(b).t()));
    }

    /// <inheritdoc />
    public (Vector<double> Values, Matrix<double> Vectors) SymmetricEigen(Matrix<double> symmetric)
    {
        ArgumentNullException.ThrowIfNull(symmetric);
        if (symmetric.RowCount != symmetric.ColumnCount)
        {
            throw new ArgumentException($"'symmetric' must be square but is {Shape(symmetric)}.", nameof(symmetric));
        }

        CheckFinite(symmetric, nameof(symmetric));
        using var scope = NewDisposeScope();

        // eigh reads the lower triangle and returns ascending eigenvalues; reversed to descending on the
        // managed side (torch's flip would be one more full copy of the vectors).
        var (values, vectors) = linalg.eigh(ToTensor(symmetric));
        var n = symmetric.RowCount;
        var storage = ColumnMajorCopy(vectors);
        ReverseColumns(storage, n, n);
        FixSigns(storage, n, n, null, 0);
        var descending = ToArray(values);
        Array.Reverse(descending);
        return (Vector<double>.Build.DenseOfArray(descending), Matrix<double>.Build.Dense(n, n, storage));
    }

    /// <inheritdoc />
    public (Matrix<double> U, Vector<double> S, Matrix<double> VT) Svd(Matrix<double> a)
    {
        ArgumentNullException.ThrowIfNull(a);
        CheckFinite(a, nameof(a));
        using var scope = NewDisposeScope();
        var (u, s, vh) = linalg.svd(ToTensor(a), fullMatrices: false);
        var (m, k, n) = (a.RowCount, (int)s.shape[0], a.ColumnCount);
        var uStorage = ColumnMajorCopy(u);
        var vtStorage = ColumnMajorCopy(vh);
        FixSigns(uStorage, m, k, vtStorage, n);
        return (Matrix<double>.Build.Dense(m, k, uStorage), Vector<double>.Build.DenseOfArray(ToArray(s)), Matrix<double>.Build.Dense(k, n, vtStorage));
    }

    /// <inheritdoc />
    public Matrix<double> SolvePositiveDefinite(Matrix<double> spd, Matrix<double> rhs)
    {
        ArgumentNullException.ThrowIfNull(spd);
        ArgumentNullException.ThrowIfNull(rhs);
        if (spd.RowCount != spd.ColumnCount)
        {
            throw new ArgumentException($"'spd' must be square but is {Shape(spd)}.", nameof(spd));
        }

        if (rhs.RowCount != spd.RowCount)
        {
            throw new ArgumentException($"'rhs' is {Shape(rhs)} but must have {spd.RowCount} rows to match 'spd' ({Shape(spd)}).", nameof(rhs));
        }

        CheckFinite(spd, nameof(spd));
        CheckFinite(rhs, nameof(rhs));
        using var scope = NewDisposeScope();
        var (factor, info) = linalg.cholesky_ex(ToTensor(spd));
        var failedAt = info.item<int>();
        if (failedAt != 0)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"'spd' ({Shape(spd)}) is not positive definite: its Cholesky factorization failed at leading minor {failedAt}. A positive ridge (lambda) makes it definite."),
                nameof(spd));
        }

        return ToMatrix(cholesky_solve(ToTensor(rhs), factor));
    }

    // MathNet keeps dense matrices column-major. Reading that storage as a row-major tensor gives the
    // transpose, so transposing back is a free view. On the CPU the tensor shares the caller's array (pinned
    // for the call; the backend never writes into its inputs), so no copy is made; other devices get one copy.
    private Tensor ToTensor(Matrix<double> m)
    {
        var shared = View(m);
        return _device.type == DeviceType.CPU ? shared : shared.to(_device);
    }

    /// <summary>A CPU float64 tensor over the matrix's own storage (no copy; the tensor must not outlive the matrix or be written into).</summary>
    internal static Tensor View(Matrix<double> m) => frombuffer(ColumnMajor(m), ScalarType.Float64).view(m.ColumnCount, m.RowCount).t();

    private static double[] ToArray(Tensor t) => t.cpu().contiguous().data<double>().ToArray();

    /// <summary>A rows x columns tensor (any device, type and strides) as a new MathNet matrix, in one native copy.</summary>
    internal static Matrix<double> ToMatrix(Tensor t) =>
        Matrix<double>.Build.Dense((int)t.shape[0], (int)t.shape[1], ColumnMajorCopy(t));

    // One native copy (from any device, any strides) straight into a new managed array in MathNet's
    // column-major order; the array is not zeroed first because the copy overwrites all of it.
    private static double[] ColumnMajorCopy(Tensor t)
    {
        var (rows, columns) = (t.shape[0], t.shape[1]);
        var storage = GC.AllocateUninitializedArray<double>(checked((int)(rows * columns)));
        using var flat = frombuffer(storage, ScalarType.Float64);
        using var target = flat.view(columns, rows);
        target.copy_(t.t());
        return storage;
    }

    private static double[] ColumnMajor(Matrix<double> m) => m is DenseMatrix dense ? dense.Values : m.ToColumnMajorArray();

    // Column j of a column-major rows x columns array swaps places with column columns - 1 - j.
    private static void ReverseColumns(double[] storage, int rows, int columns)
    {
        for (var j = 0; j < columns / 2; j++)
        {
            var left = storage.AsSpan(j * rows, rows);
            var right = storage.AsSpan((columns - 1 - j) * rows, rows);
            for (var i = 0; i < rows; i++)
            {
                (left[i], right[i]) = (right[i], left[i]);
            }
        }
    }

    // The sign rule of MathNetNumericBackend: the largest-magnitude component of each column (first on ties)
    // is positive; row j of the k x alongColumns column-major matrix alongside flips with column j.
    private static void FixSigns(double[] columns, int rows, int count, double[]? alongside, int alongColumns)
    {
        for (var j = 0; j < count; j++)
        {
            var column = columns.AsSpan(j * rows, rows);
            var best = 0.0;
            var negative = false;
            foreach (var value in column)
            {
                if (Math.Abs(value) > best)
                {
                    best = Math.Abs(value);
                    negative = value < 0;
                }
            }

            if (!negative)
            {
                continue;
            }

            foreach (ref var value in column)
            {
                value = -value;
            }

            if (alongside is not null)
            {
                for (var c = 0; c < alongColumns; c++)
                {
                    alongside[j + (c * count)] = -alongside[j + (c * count)];
                }
            }
        }
    }

    private static void CheckFinite(Matrix<double> m, string paramName)
    {
        if (m.RowCount == 0 || m.ColumnCount == 0)
        {
            throw new ArgumentException($"'{paramName}' must not be empty but is {Shape(m)}.", paramName);
        }

        var values = ColumnMajor(m);
        if (AllFinite(values))
        {
            return;
        }

        for (var k = 0; k < values.Length; k++)
        {
            if (!double.IsFinite(values[k]))
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture,
                        $"'{paramName}' ({Shape(m)}) has a non-finite entry {values[k]} at ({k % m.RowCount}, {k / m.RowCount})."), paramName);
            }
        }
    }

    // x - x is 0 for a finite x and NaN for NaN and ±infinity, so one vectorized pass with no branch per
    // entry answers whether all are finite; only a failing matrix is searched again for the message.
    private static bool AllFinite(ReadOnlySpan<double> values)
    {
        var lanes = MemoryMarshal.Cast<double, SimdVector>(values);
        var sum = SimdVector.Zero;
        foreach (var lane in lanes)
        {
            sum += lane - lane;
        }

        var tail = 0.0;
        for (var k = lanes.Length * SimdVector.Count; k < values.Length; k++)
        {
            tail += values[k] - values[k];
        }

        return System.Numerics.Vector.EqualsAll(sum, SimdVector.Zero) && tail == 0.0;
    }

    private static string Shape(Matrix<double> m) => string.Create(CultureInfo.InvariantCulture, $"{m.RowCount} x {m.ColumnCount}");
}
