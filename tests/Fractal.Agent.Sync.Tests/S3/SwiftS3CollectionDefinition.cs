using Fractal.Testing.Swift;

namespace Fractal.Agent.Sync.Tests.S3;

/// <summary>One Swift S3 store for every S3 test class of this assembly (its tests run one at a time).</summary>
[CollectionDefinition(SwiftS3Fixture.Name)]
public sealed class SwiftS3CollectionDefinition : ICollectionFixture<SwiftS3Fixture>;
