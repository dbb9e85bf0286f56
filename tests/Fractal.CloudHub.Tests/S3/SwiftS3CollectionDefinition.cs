using Fractal.Testing.Swift;

namespace Fractal.CloudHub.Tests.S3;

/// <summary>One Swift S3 store for every S3 test class of this assembly (its tests run one at a time).</summary>
[CollectionDefinition(SwiftS3Fixture.Name)]
public sealed class SwiftS3CollectionDefinition : ICollectionFixture<SwiftS3Fixture>;
