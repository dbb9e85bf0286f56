using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Fractal.Testing.Processes;

/// <summary>
/// A program under test as a real OS process (`dotnet X.dll args`), with its output captured so
/// tests can await a line (readiness) instead of sleeping, and kill -9 it.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly List<(Regex Pattern, TaskCompletionSource<Match> Match)> _waiters = [];

    private ChildProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the process printed so far (stdout and stderr), for assertions and failure messages.</summary>
    public string Output => string.Join('\n', _lines);

    public static ChildProcess StartDotnet(string dll, IEnumerable<string> args, IDictionary<string, string>? environment = null, int niceness = 0)
    {
        var withWorkstationGc = new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            withWorkstationGc[key] = value;
        }

        return Start("dotnet", [dll, .. args], withWorkstationGc, niceness);
    }

    /// <summary>Starts any executable, such as a published Native AOT program.</summary>
    /// <param name="niceness">
    /// Other than 0: started through <c>nice -n</c>, which execs the program, so the process (its
    /// id, its CPU time) is the program's and every thread it creates has that niceness.
    /// </param>
    public static ChildProcess Start(string fileName, IEnumerable<string> args, IDictionary<string, string>? environment = null, int niceness = 0)
    {
        if (niceness != 0)
        {
            args = ["-n", niceness.ToString(System.Globalization.CultureInfo.InvariantCulture), fileName, .. args];
            fileName = "nice";
        }

        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>CPU time (user and system) the process has used so far.</summary>
    public TimeSpan TotalProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Completes with the first output line (past or future) matching <paramref name="pattern"/>.</summary>
    public Task<Match> WaitForLineAsync(string pattern, TimeSpan timeout)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        var waiter = new TaskCompletionSource<Match>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters)
        {
            foreach (var line in _lines)
            {
                if (regex.Match(line) is { Success: true } match)
                {
                    return Task.FromResult(match);
                }
            }

            _waiters.Add((regex, waiter));
        }

        _process.Exited += (_, _) => waiter.TrySetException(new InvalidOperationException($"process exited ({SafeExitCode()}) before printing /{pattern}/:\n{Output}"));
        if (_process.HasExited)
        {
            waiter.TrySetException(new InvalidOperationException($"process exited ({SafeExitCode()}) before printing /{pattern}/:\n{Output}"));
        }

        return waiter.Task.WaitAsync(timeout);
    }

    /// <summary>SIGKILL: no shutdown code runs, exactly like a crash or the OOM killer.</summary>
    public async Task KillHardAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as systemd stops a unit; returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, 15);
        }

        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        await KillHardAsync();
        _process.Dispose();
    }

    private string SafeExitCode() => _process.HasExited ? $"exit code {_process.ExitCode}" : "running";

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _lines.Enqueue(line);
        lock (_waiters)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Pattern.Match(line) is { Success: true } match)
                {
                    _waiters[i].Match.TrySetResult(match);
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
