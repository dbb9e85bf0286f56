using Xunit;

namespace Fractal.Testing.Swift;

/// <summary>
/// One Swift S3 store shared by a test collection: declare
/// <c>[CollectionDefinition(Name)] class X : ICollectionFixture&lt;SwiftS3Fixture&gt;</c> in the test
/// project (xunit looks for collection definitions in the test assembly) and put the S3 test
/// classes in that collection. Tests in a collection run one after another, so a test may stop
/// and restart <see cref="Server"/>; each test uses its own bucket.
/// </summary>
public sealed class SwiftS3Fixture : IAsyncLifetime
{
    /// <summary>Collection name the S3 test classes use.</summary>
    public const string Name = "Swift S3";

    private SwiftS3Server? _server;

    /// <summary>The shared store (running at the start of every test).</summary>
    public SwiftS3Server Server => _server ?? throw new InvalidOperationException("The Swift fixture is not initialized.");

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await SwiftS3Server.StartNewAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>Restarts the store if a previous test left it stopped (for example after a failed assertion).</summary>
    public Task EnsureRunningAsync() => Server.IsRunning ? Task.CompletedTask : Server.StartAsync();
}
