using Xunit.Abstractions;
using Xunit.Sdk;

namespace Fractal.Packaging.Tests;

/// <summary>Orders a class's tests by <see cref="StepAttribute"/>: the package's life on one machine is a sequence.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class StepAttribute(int number) : Attribute
{
    public int Number { get; } = number;
}

public sealed class StepOrderer : ITestCaseOrderer
{
    public const string TypeName = "Fractal.Packaging.Tests.StepOrderer";
    public const string AssemblyName = "Fractal.Packaging.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases)
        where TTestCase : ITestCase
        => testCases.OrderBy(c => c.TestMethod.Method.GetCustomAttributes(typeof(StepAttribute).AssemblyQualifiedName)
            .Select(a => (int)a.GetConstructorArguments().First())
            .DefaultIfEmpty(int.MaxValue)
            .First());
}
