using Fractal.Agent.Sync.Buffer;

namespace Fractal.Agent.Sync.Tests.Buffer;

public sealed class GroupCommitPacerTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(2);

    /// <summary>Runs <paramref name="groups"/> groups under load; each gets the size and cycle the load gives it with or without the wait.</summary>
    private static List<bool> Run(GroupCommitPacer pacer, int groups, Func<bool, (int Size, TimeSpan Cycle)> load)
    {
        var decisions = new List<bool>();
        for (var i = 0; i < groups; i++)
        {
            var delayed = pacer.ShouldDelay();
            decisions.Add(delayed);
            var (size, cycle) = load(delayed);
            pacer.Record(size, delayed, cycle);
        }

        return decisions;
    }

    private static TimeSpan Ms(double milliseconds) => TimeSpan.FromMilliseconds(milliseconds);

    // Readings arriving at 10,000/s whatever the acknowledgements (a broker's window): without the
    // wait a group is what arrives during a 1.8 ms commit; with it, during 2 ms more.
    private static (int, TimeSpan) OpenLoop(bool delayed) => delayed ? (38, Ms(3.8)) : (18, Ms(1.8));

    // 64 producers, each waiting for its acknowledgement: all 64 are in every group anyway when
    // it waits, so the wait only lengthens the cycle; without it, groups of 35 in 1.15 ms.
    private static (int, TimeSpan) ClosedLoop(bool delayed) => delayed ? (64, Ms(4.4)) : (35, Ms(1.15));

    [Fact]
    public void ZeroDelay_NeverWaits()
    {
        var pacer = new GroupCommitPacer(TimeSpan.Zero);

        Assert.DoesNotContain(true, Run(pacer, 200, OpenLoop));
        Assert.False(pacer.Waiting);
    }

    [Fact]
    public void Start_DoesNotWait_ButProbesTheWaitOnceInProbeEveryGroups()
    {
        var pacer = new GroupCommitPacer(Delay);

        var decisions = Run(pacer, GroupCommitPacer.ProbeEvery, _ => (10, Ms(1)));

        Assert.Equal(GroupCommitPacer.ProbeEvery - 1, decisions.IndexOf(true));
        Assert.Single(decisions, d => d);
    }

    [Fact]
    public void OpenLoopArrivals_LargerGroupsAtTheSameRate_SwitchTheWaitOn()
    {
        var pacer = new GroupCommitPacer(Delay);

        Run(pacer, GroupCommitPacer.ProbeEvery, OpenLoop);
        Assert.True(pacer.Waiting);

        // From then on it waits, except the probes that keep the undelayed figures current.
        var decisions = Run(pacer, 4 * GroupCommitPacer.ProbeEvery, OpenLoop);
        Assert.Equal(4, decisions.Count(d => !d));
        Assert.True(pacer.Waiting);
    }

    [Fact]
    public void ClosedLoopProducers_LargerGroupsAtHalfTheRate_KeepTheWaitOff()
    {
        var pacer = new GroupCommitPacer(Delay);

        var decisions = Run(pacer, 8 * GroupCommitPacer.ProbeEvery, ClosedLoop);

        Assert.False(pacer.Waiting);
        Assert.Equal(8, decisions.Count(d => d));
    }

    [Fact]
    public void GroupsThatAreFullAnyway_NoGrowth_KeepTheWaitOff()
    {
        var pacer = new GroupCommitPacer(Delay);

        // 1000 producers: every group holds all of them, waited for or not.
        Run(pacer, 4 * GroupCommitPacer.ProbeEvery, delayed => (1000, delayed ? Ms(7.7) : Ms(5.7)));

        Assert.False(pacer.Waiting);
    }

    [Fact]
    public void LoadTurningClosedLoop_WhileWaiting_SwitchesTheWaitOffAgain()
    {
        var pacer = new GroupCommitPacer(Delay);
        Run(pacer, 2 * GroupCommitPacer.ProbeEvery, OpenLoop);
        Assert.True(pacer.Waiting);

        Run(pacer, 8 * GroupCommitPacer.ProbeEvery, ClosedLoop);

        Assert.False(pacer.Waiting);
    }

    [Fact]
    public void ZeroOrNegativeCycle_IsIgnored()
    {
        var pacer = new GroupCommitPacer(Delay);

        Run(pacer, 4 * GroupCommitPacer.ProbeEvery, delayed => delayed ? (100, TimeSpan.Zero) : (10, Ms(1)));

        Assert.False(pacer.Waiting);
    }
}
