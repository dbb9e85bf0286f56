using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks.S3;

/// <summary>Cross-field checks DataAnnotations cannot express; messages name key and value.</summary>
internal sealed class S3UplinkOptionsValidator : IValidateOptions<S3UplinkOptions>
{
    public ValidateOptionsResult Validate(string? name, S3UplinkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        var section = S3UplinkOptions.SectionName;
        if (options.ServiceUrl.Length > 0
            && (!Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"{section}:ServiceUrl = '{options.ServiceUrl}': must be an absolute http or https URL.");
        }

        if (string.IsNullOrEmpty(options.AccessKey) != string.IsNullOrEmpty(options.SecretKey))
        {
            failures.Add($"{section}:AccessKey and {section}:SecretKey must be set together (or both left empty for the default credential chain).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
