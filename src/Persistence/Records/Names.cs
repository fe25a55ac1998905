using System.Text.RegularExpressions;

namespace ClusterNode.Persistence.Records;

/// <summary>Table, record id and blob field names: 1 to 128 letters, digits, '-', '_', '.', but not '.' or '..'.</summary>
public static partial class Names
{
    public const int MaxLength = 128;

    [GeneratedRegex(@"^[A-Za-z0-9_.-]{1,128}\z")]
    private static partial Regex Pattern();

    public static bool IsValid(string? name) => name is not null && name is not "." and not ".." && Pattern().IsMatch(name);

    /// <summary>Why <paramref name="name"/> is not a valid <paramref name="what"/>, or null when it is.</summary>
    public static string? Problem(string what, string? name) => name switch
    {
        null or "" => $"{what} is empty",
        { Length: > MaxLength } => $"{what} is {name.Length} characters long; at most {MaxLength} are allowed",
        "." or ".." => $"{what} '{name}' is not allowed",
        _ when !Pattern().IsMatch(name) => $"{what} '{name}' may only hold letters, digits, '-', '_' and '.'",
        _ => null,
    };
}
