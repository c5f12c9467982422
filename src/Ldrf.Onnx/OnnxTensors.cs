using System.Buffers.Binary;
using Google.Protobuf;
using Ldrf.Onnx.Protobuf;

namespace Ldrf.Onnx;

/// <summary>Reads the numbers of an ONNX tensor (typed fields or little-endian raw data) and writes float tensors.</summary>
internal static class OnnxTensors
{
    /// <summary>The tensor's values as floats (float, double, int32 and int64 tensors).</summary>
    /// <exception cref="NotSupportedException">Another element type, or the data lives in an external file.</exception>
    /// <exception cref="InvalidDataException">The number of values does not match the dimensions.</exception>
    public static float[] Floats(TensorProto tensor, string source)
    {
        CheckLocation(tensor, source);
        float[] values = (TensorProto.Types.DataType)tensor.DataType switch
        {
            TensorProto.Types.DataType.Float => tensor.RawData.IsEmpty
                ? [.. tensor.FloatData]
                : Raw(tensor, source, 4, s => BinaryPrimitives.ReadSingleLittleEndian(s)),
            TensorProto.Types.DataType.Double => tensor.RawData.IsEmpty
                ? [.. tensor.DoubleData.Select(d => (float)d)]
                : Raw(tensor, source, 8, s => (float)BinaryPrimitives.ReadDoubleLittleEndian(s)),
            _ => [.. Longs(tensor, source).Select(v => (float)v)],
        };
        CheckCount(tensor, values.Length, source);
        return values;
    }

    /// <summary>The tensor's values as integers (int64, int32 tensors).</summary>
    /// <exception cref="NotSupportedException">Another element type, or the data lives in an external file.</exception>
    /// <exception cref="InvalidDataException">The number of values does not match the dimensions.</exception>
    public static long[] Longs(TensorProto tensor, string source)
    {
        CheckLocation(tensor, source);
        long[] values = (TensorProto.Types.DataType)tensor.DataType switch
        {
            TensorProto.Types.DataType.Int64 => tensor.RawData.IsEmpty
                ? [.. tensor.Int64Data]
                : Raw(tensor, source, 8, s => BinaryPrimitives.ReadInt64LittleEndian(s)),
            TensorProto.Types.DataType.Int32 => tensor.RawData.IsEmpty
                ? [.. tensor.Int32Data.Select(v => (long)v)]
                : Raw(tensor, source, 4, s => (long)BinaryPrimitives.ReadInt32LittleEndian(s)),
            _ => throw new NotSupportedException(
                $"ONNX model '{source}': tensor '{tensor.Name}' has element type {(TensorProto.Types.DataType)tensor.DataType}; supported: float, double, int32, int64."),
        };
        CheckCount(tensor, values.Length, source);
        return values;
    }

    /// <summary>The number of elements the tensor's dimensions hold.</summary>
    public static long Count(TensorProto tensor) => tensor.Dims.Aggregate(1L, (p, d) => p * d);

    /// <summary>A float tensor named <paramref name="name"/> with these dimensions and values, stored as raw data.</summary>
    public static TensorProto Float(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    /// <summary>An int64 tensor named <paramref name="name"/> (1-D) with these values.</summary>
    public static TensorProto Int64(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        return tensor;
    }

    private static T[] Raw<T>(TensorProto tensor, string source, int size, Func<ReadOnlySpan<byte>, T> read)
    {
        var raw = tensor.RawData.Span;
        if (raw.Length % size != 0)
        {
            throw new InvalidDataException(
                $"ONNX model '{source}': tensor '{tensor.Name}' has {raw.Length} bytes of raw data, not a multiple of its element size {size}.");
        }

        var values = new T[raw.Length / size];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = read(raw.Slice(i * size, size));
        }

        return values;
    }

    private static void CheckLocation(TensorProto tensor, string source)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
        {
            throw new NotSupportedException(
                $"ONNX model '{source}': tensor '{tensor.Name}' keeps its data in an external file; supported: weights stored inside the model file.");
        }
    }

    private static void CheckCount(TensorProto tensor, int count, string source)
    {
        if (count != Count(tensor))
        {
            throw new InvalidDataException(
                $"ONNX model '{source}': tensor '{tensor.Name}' has {count} values but its dimensions [{string.Join(", ", tensor.Dims)}] hold {Count(tensor)}.");
        }
    }
}
