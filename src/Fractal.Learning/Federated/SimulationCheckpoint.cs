using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Fractal.Learning.Federated;

/// <summary>
/// The global model after a completed round of a <see cref="FederatedSimulation"/>: all a
/// simulation with a stateless server step (FedAvg, FedProx, robust aggregators) needs to go on
/// from there, because local optimizers restart every round and shuffles are seeded per round.
/// </summary>
/// <param name="CompletedRounds">Rounds the weights are the result of (1 or more).</param>
/// <param name="Weights">The flattened global parameters.</param>
/// <param name="Tag">What experiment the weights belong to; resuming compares it with the settings.</param>
public sealed record SimulationCheckpoint(int CompletedRounds, float[] Weights, string Tag)
{
    private const uint Magic = 0x4b43_4c46; // "FLCK" little-endian
    private const int Version = 1;
    private const int DigestLength = 32; // SHA-256 of everything before it

    /// <summary>Writes the checkpoint atomically (a temporary file renamed over <paramref name="path"/>).</summary>
    /// <param name="path">The checkpoint file.</param>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var tag = Encoding.UTF8.GetBytes(Tag);
        var weights = MemoryMarshal.AsBytes(Weights.AsSpan());
        var body = new byte[4 + 4 + 4 + tag.Length + 4 + 4 + weights.Length];
        var span = body.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], tag.Length);
        tag.CopyTo(span[12..]);
        var at = 12 + tag.Length;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], CompletedRounds);
        BinaryPrimitives.WriteInt32LittleEndian(span[(at + 4)..], Weights.Length);
        weights.CopyTo(span[(at + 8)..]);

        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(body);
            file.Write(SHA256.HashData(body));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Reads a checkpoint written by <see cref="Save"/>.</summary>
    /// <param name="path">The checkpoint file.</param>
    /// <returns>The checkpoint.</returns>
    /// <exception cref="InvalidDataException">The file is not a checkpoint, is truncated or corrupt.</exception>
    public static SimulationCheckpoint Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var data = File.ReadAllBytes(path);
        if (data.Length < 20 + DigestLength || BinaryPrimitives.ReadUInt32LittleEndian(data) != Magic)
        {
            throw new InvalidDataException($"{path} is not a simulation checkpoint.");
        }

        var body = data.AsSpan(0, data.Length - DigestLength);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(data.AsSpan(data.Length - DigestLength)))
        {
            throw new InvalidDataException($"{path} is corrupt (checksum mismatch).");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
        if (version != Version)
        {
            throw new InvalidDataException($"{path} has checkpoint version {version}; this build reads version {Version}.");
        }

        var tagLength = BinaryPrimitives.ReadInt32LittleEndian(body[8..]);
        if (tagLength < 0 || tagLength > body.Length - 20)
        {
            throw new InvalidDataException($"{path} is corrupt (tag length {tagLength}).");
        }

        var tag = Encoding.UTF8.GetString(body.Slice(12, tagLength));
        var at = 12 + tagLength;
        var rounds = BinaryPrimitives.ReadInt32LittleEndian(body[at..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(body[(at + 4)..]);
        if (rounds < 1 || count < 1 || (long)count * sizeof(float) != body.Length - at - 8)
        {
            throw new InvalidDataException($"{path} is corrupt ({rounds} rounds, {count} weights in {body.Length - at - 8} bytes).");
        }

        var weights = MemoryMarshal.Cast<byte, float>(body[(at + 8)..]).ToArray();
        return new SimulationCheckpoint(rounds, weights, tag);
    }
}
