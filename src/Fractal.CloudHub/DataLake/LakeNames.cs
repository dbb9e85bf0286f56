using System.Buffers;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// The names that become parts of lake paths (node ids, stream names). Both are restricted to
/// <c>[A-Za-z0-9._-]</c> so a hostile name can never escape its partition directory or object
/// prefix, and so Hive-style partition values need no escaping.
/// </summary>
public static class LakeNames
{
    /// <summary>Longest accepted stream name.</summary>
    public const int MaxStreamLength = 64;

    /// <summary>Longest accepted node id.</summary>
    public const int MaxNodeIdLength = 128;

    private static readonly SearchValues<char> s_allowed =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    /// <summary>True when <paramref name="stream"/> matches <c>[A-Za-z0-9._-]{1,64}</c>.</summary>
    public static bool IsValidStream(string? stream) => IsValid(stream, MaxStreamLength);

    /// <summary>True when <paramref name="nodeId"/> matches <c>[A-Za-z0-9._-]{1,128}</c>.</summary>
    public static bool IsValidNodeId(string? nodeId) => IsValid(nodeId, MaxNodeIdLength);

    /// <summary>True when every character of <paramref name="value"/> is in <c>[A-Za-z0-9._-]</c>.</summary>
    public static bool HasOnlyAllowedCharacters(string value) => !value.AsSpan().ContainsAnyExcept(s_allowed);

    private static bool IsValid(string? value, int maxLength) =>
        !string.IsNullOrEmpty(value) && value.Length <= maxLength && HasOnlyAllowedCharacters(value);
}
