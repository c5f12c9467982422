namespace Ldrf.Allocation;

/// <summary>
/// A layer whose cost depends on channel counts: FLOPs = <see cref="CostPerPair"/> · in′ · out′, where in′
/// is the kept count of <see cref="InputLayer"/> (or <see cref="InputChannels"/> when it is null) and
/// out′ the kept count of <see cref="OutputLayer"/> (or <see cref="OutputChannels"/>).
/// </summary>
/// <remarks>
/// For a convolution CostPerPair = kh · kw · H_out · W_out (multiply-accumulates per input-output channel
/// pair; divide groups in yourself). A VGG chain is conv_j with InputLayer = conv_{j−1} (the first one
/// with fixed InputChannels) and OutputLayer = conv_j; the classifier's first Linear, whose input is
/// C_last · H · W features, is InputLayer = conv_last with CostPerPair = H · W and fixed OutputChannels =
/// its output features. Costs that no pruning changes go into the allocator's fixed FLOPs.
/// </remarks>
/// <param name="Name">A name for messages.</param>
/// <param name="CostPerPair">FLOPs per (input channel, output channel) pair, ≥ 0.</param>
/// <param name="InputLayer">The prunable layer feeding it, or null for a fixed input width.</param>
/// <param name="InputChannels">The unpruned input width (must equal the input layer's channels when linked).</param>
/// <param name="OutputLayer">The prunable layer it produces, or null for a fixed output width.</param>
/// <param name="OutputChannels">The unpruned output width (must equal the output layer's channels when linked).</param>
internal sealed record ComputeLayer(string Name, double CostPerPair, string? InputLayer, int InputChannels, string? OutputLayer, int OutputChannels);
