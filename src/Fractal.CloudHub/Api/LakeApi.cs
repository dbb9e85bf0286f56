using Fractal.CloudHub.DataLake;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fractal.CloudHub.Api;

/// <summary>The operator's read-only view of the data lake.</summary>
internal static class LakeApi
{
    public static IEndpointRouteBuilder MapLakeApi(this IEndpointRouteBuilder endpoints)
    {
        // Per (stream, node): records, files, high-water mark, loss entries and lost records.
        endpoints.MapGet("/api/lake/summary", async (ILakeReader lake, CancellationToken cancellationToken) =>
            TypedResults.Ok(await lake.GetSummaryAsync(cancellationToken).ConfigureAwait(false)));
        return endpoints;
    }
}
