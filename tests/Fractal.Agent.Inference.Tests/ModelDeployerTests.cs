using Fractal.Agent.Inference.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Tests;

public sealed class ModelDeployerTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void LoadStaged_AfterRestart_RestoresActiveAndPreviousVersions()
    {
        using (var runtime = TestModels.Runtime(_directory.Path))
        {
            var deployer = Deployer(runtime);
            deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(1));
            deployer.Deploy("v2", TestModels.SpecJson(), TestModels.Onnx(2));
        }

        using var restarted = TestModels.Runtime(_directory.Path);
        Deployer(restarted).LoadStaged();

        Assert.Equal("v2", TestModels.Predict(restarted).ModelVersion);
        Assert.Equal(2, TestModels.Predict(restarted).Label);
        Assert.Equal("v1", restarted.Previous?.Version);
    }

    [Fact]
    public void DeployReplacing_WhileTheExpectedVersionIsActive_Deploys()
    {
        using var runtime = TestModels.Runtime(_directory.Path);
        var deployer = Deployer(runtime);
        deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(1));

        var info = deployer.DeployReplacing("v1", "v1-local-1", TestModels.SpecJson(), TestModels.Onnx(2));

        Assert.Equal("v1-local-1", info?.Version);
        Assert.Equal(2, TestModels.Predict(runtime).Label);
        Assert.Equal("v1", runtime.Previous?.Version);
    }

    [Fact]
    public void DeployReplacing_AfterANewerVersionArrived_DeploysNothing()
    {
        using var runtime = TestModels.Runtime(_directory.Path);
        var deployer = Deployer(runtime);
        deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(1));
        deployer.Deploy("v2", TestModels.SpecJson(), TestModels.Onnx(2));

        var info = deployer.DeployReplacing("v1", "v1-local-1", TestModels.SpecJson(), TestModels.Onnx(0));

        Assert.Null(info);
        Assert.Equal("v2", runtime.Active?.Version);
        Assert.False(Directory.Exists(Path.Combine(_directory.Path, "v1-local-1")));
    }

    [Fact]
    public void ReadActive_ReturnsTheActiveVersionAsStaged()
    {
        using var runtime = TestModels.Runtime(_directory.Path);
        var deployer = Deployer(runtime);
        Assert.Null(deployer.ReadActive());
        var onnx = TestModels.Onnx(1);
        deployer.Deploy("v1", TestModels.SpecJson(), onnx);

        var staged = deployer.ReadActive();

        Assert.Equal("v1", staged?.Version);
        Assert.Equal(onnx, staged?.OnnxModel);
        Assert.Equal(TestModels.Inputs, staged?.Spec.InputSize);
    }

    [Fact]
    public void Rollback_AfterRestart_IsRemembered()
    {
        using (var runtime = TestModels.Runtime(_directory.Path))
        {
            var deployer = Deployer(runtime);
            deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(1));
            deployer.Deploy("v2", TestModels.SpecJson(), TestModels.Onnx(2));
            deployer.Rollback();
        }

        using var restarted = TestModels.Runtime(_directory.Path);
        Deployer(restarted).LoadStaged();

        Assert.Equal("v1", TestModels.Predict(restarted).ModelVersion);
    }

    [Fact]
    public void Deploy_RejectedModel_IsNotStagedAndActiveKeepsServing()
    {
        using var runtime = TestModels.Runtime(_directory.Path);
        var deployer = Deployer(runtime);
        deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(1));

        Assert.Throws<ModelRejectedException>(() => deployer.Deploy("v2", TestModels.SpecJson(), [1, 2, 3]));

        Assert.False(Directory.Exists(Path.Combine(_directory.Path, "v2")));
        Assert.Equal("v1", File.ReadAllText(Path.Combine(_directory.Path, "active")));
        Assert.Equal("v1", TestModels.Predict(runtime).ModelVersion);
    }

    [Fact]
    public void Deploy_InvalidSpec_ThrowsModelRejected()
    {
        using var runtime = TestModels.Runtime(_directory.Path);

        var ex = Assert.Throws<ModelRejectedException>(() => Deployer(runtime).Deploy("v1", "{ not json", TestModels.Onnx(1)));

        Assert.Contains("invalid spec", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("")]
    public void Deploy_UnsafeVersionName_ThrowsArgumentException(string version)
    {
        using var runtime = TestModels.Runtime(_directory.Path);

        Assert.Throws<ArgumentException>(() => Deployer(runtime).Deploy(version, TestModels.SpecJson(), TestModels.Onnx(1)));
    }

    [Fact]
    public void LoadStaged_CorruptStagedActive_FallsBackToPreviousVersion()
    {
        using (var runtime = TestModels.Runtime(_directory.Path))
        {
            var deployer = Deployer(runtime);
            deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(1));
            deployer.Deploy("v2", TestModels.SpecJson(), TestModels.Onnx(2));
        }

        File.WriteAllBytes(Path.Combine(_directory.Path, "v2", "model.onnx"), [0xDE, 0xAD]);
        using var restarted = TestModels.Runtime(_directory.Path);
        Deployer(restarted).LoadStaged();

        Assert.Equal("v1", TestModels.Predict(restarted).ModelVersion);
    }

    private ModelDeployer Deployer(ModelRuntime runtime) =>
        new(runtime, Options.Create(new InferenceOptions { ModelDirectory = _directory.Path }), NullLogger<ModelDeployer>.Instance);
}
