using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Amazon.Runtime;
using Amazon.S3;

namespace Fractal.Testing.Swift;

/// <summary>
/// A real S3 endpoint on loopback: OpenStack Swift (Debian's packages) with its s3api
/// middleware, in its own temporary directory on ports from the OS. The four servers (proxy,
/// account, container, object) are child processes of the test host, started through
/// <c>Swift/swift-s3.sh run</c>; <see cref="StopAsync"/> and <see cref="StartAsync"/> take the
/// whole store down and bring it back on the same data and ports, so tests can exercise outages.
/// </summary>
/// <remarks>
/// Start-up costs several seconds (four Python servers), so share one instance per test
/// collection through <see cref="SwiftS3Fixture"/> and give each test its own bucket.
/// </remarks>
public sealed class SwiftS3Server : IAsyncDisposable
{
    /// <summary>Region s3api signs for (its <c>location</c> setting).</summary>
    public const string Region = "us-east-1";

    private static readonly string[] _servers = ["account", "container", "object", "proxy"];
    private static readonly TimeSpan _startTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan _stopTimeout = TimeSpan.FromSeconds(15);

    private readonly string _script;
    private readonly int[] _backendPorts;
    private readonly List<Process> _processes = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly bool _ownsDirectory;
    private bool _disposed;

    private SwiftS3Server(string directory, bool ownsDirectory, int proxyPort, int[] backendPorts)
    {
        Directory = directory;
        _ownsDirectory = ownsDirectory;
        _backendPorts = backendPorts;
        Port = proxyPort;
        Endpoint = new Uri($"http://127.0.0.1:{proxyPort.ToString(CultureInfo.InvariantCulture)}");
        _script = ScriptPath;
    }

    /// <summary>The harness script, copied next to the test assembly.</summary>
    public static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "Swift", "swift-s3.sh");

    /// <summary>Whether Debian's Swift servers are installed on this machine.</summary>
    public static bool IsInstalled =>
        File.Exists("/usr/bin/swift-proxy-server") && File.Exists("/usr/bin/swift-object-server")
        && File.Exists("/usr/bin/swift-container-server") && File.Exists("/usr/bin/swift-account-server");

    /// <summary>How to install what this harness needs (CI does this before the tests).</summary>
    public const string InstallHint = "apt-get install -y swift swift-proxy swift-account swift-container swift-object";

    /// <summary>State directory: configuration, rings, object data and server logs (<c>run/*.log</c>).</summary>
    public string Directory { get; }

    /// <summary>The S3 endpoint, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public Uri Endpoint { get; }

    /// <summary>The proxy's TCP port.</summary>
    public int Port { get; }

    /// <summary>tempauth user <c>account:user</c>, used as the S3 access key.</summary>
    public string AccessKey { get; } = "fractal:agent";

    /// <summary>tempauth password, used as the S3 secret key.</summary>
    public string SecretKey { get; } = "secret123";

    /// <summary>Whether the servers are running (between a start and a stop).</summary>
    public bool IsRunning { get; private set; }

    /// <summary>
    /// Starts a new store in <paramref name="directory"/> (a fresh temporary directory, removed on
    /// dispose, when null) and waits until it serves requests.
    /// </summary>
    public static async Task<SwiftS3Server> StartNewAsync(string? directory = null, CancellationToken cancellationToken = default)
    {
        if (!IsInstalled)
        {
            throw new InvalidOperationException($"OpenStack Swift is not installed; the S3 tests need a real store: {InstallHint}");
        }

        var owns = directory is null;
        directory ??= Path.Combine(Path.GetTempPath(), "fractal-tests", $"swift-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(directory);
        var server = new SwiftS3Server(directory, owns, FreePort.Next(), [FreePort.Next(), FreePort.Next(), FreePort.Next()]);
        try
        {
            await server.ConfigureAsync(cancellationToken);
            await server.StartAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// A client for this store with the settings Swift needs: path-style addressing, no
    /// aws-chunked payloads and no flexible checksums unless an operation requires them
    /// (AWSSDK v4 defaults to CRC32 trailers, which Swift 2.30 rejects).
    /// </summary>
    public AmazonS3Client CreateClient(TimeSpan? timeout = null, int maxErrorRetry = 2)
    {
        var config = new AmazonS3Config
        {
            ServiceURL = Endpoint.ToString(),
            ForcePathStyle = true,
            AuthenticationRegion = Region,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = timeout ?? TimeSpan.FromSeconds(30),
            MaxErrorRetry = maxErrorRetry,
        };
        return new AmazonS3Client(new BasicAWSCredentials(AccessKey, SecretKey), config);
    }

    /// <summary>Starts the four servers (again, on the same data and ports) and waits until they serve.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (IsRunning)
            {
                return;
            }

            foreach (var name in _servers)
            {
                _processes.Add(StartServer(name));
            }

            IsRunning = true;
            try
            {
                await WaitUntilReadyAsync(cancellationToken);
            }
            catch
            {
                await StopCoreAsync();
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops every server process (SIGTERM to each process group, SIGKILL after a grace period)
    /// and returns once they have exited; connections to <see cref="Endpoint"/> are refused then.
    /// </summary>
    public async Task StopAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await StopCoreAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops all processes and removes the directory if this instance created it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await StopCoreAsync();
        }
        finally
        {
            _gate.Release();
        }

        if (_ownsDirectory)
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // A server may still be closing a file for a moment; the OS temp cleaner takes the rest.
            }
        }
    }

    /// <summary>The last lines of the servers' logs, for failure messages.</summary>
    public string LogTail(int lines = 20)
    {
        var parts = new List<string>();
        foreach (var name in _servers)
        {
            var log = Path.Combine(Directory, "run", name + ".log");
            if (File.Exists(log))
            {
                var all = File.ReadAllLines(log);
                parts.Add($"--- {name}.log ---");
                parts.AddRange(all.Skip(Math.Max(0, all.Length - lines)));
            }
        }

        return string.Join(Environment.NewLine, parts);
    }

    private async Task ConfigureAsync(CancellationToken cancellationToken)
    {
        var (exitCode, output) = await RunScriptAsync(cancellationToken,
            "configure", Directory, Port.ToString(CultureInfo.InvariantCulture),
            _backendPorts[0].ToString(CultureInfo.InvariantCulture),
            _backendPorts[1].ToString(CultureInfo.InvariantCulture),
            _backendPorts[2].ToString(CultureInfo.InvariantCulture));
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"swift-s3.sh configure failed ({exitCode}): {output}");
        }
    }

    private Process StartServer(string name)
    {
        var info = new ProcessStartInfo("bash")
        {
            UseShellExecute = false,
            // The servers never read stdin; not inheriting the test host's keeps them detached from it.
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add(_script);
        info.ArgumentList.Add("run");
        info.ArgumentList.Add(Directory);
        info.ArgumentList.Add(name);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start swift-{name}-server.");
        process.StandardInput.Close();
        return process;
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_startTimeout);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        // Readiness of an external process has no signal to await: poll its ports.
        using var poll = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            do
            {
                var exited = _processes.FirstOrDefault(p => p.HasExited);
                if (exited is not null)
                {
                    throw new InvalidOperationException(
                        $"A Swift server exited during start-up with code {exited.ExitCode}.{Environment.NewLine}{LogTail()}");
                }

                if (await IsReadyAsync(http, timeout.Token))
                {
                    return;
                }
            }
            while (await poll.WaitForNextTickAsync(timeout.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Swift did not become ready within {_startTimeout}.{Environment.NewLine}{LogTail()}");
        }
    }

    private async Task<bool> IsReadyAsync(HttpClient http, CancellationToken cancellationToken)
    {
        foreach (var port in _backendPorts)
        {
            using var tcp = new TcpClient();
            try
            {
                await tcp.ConnectAsync("127.0.0.1", port, cancellationToken);
            }
            catch (SocketException)
            {
                return false;
            }
        }

        try
        {
            using var response = await http.GetAsync(new Uri(Endpoint, "/info"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false; // the 2 s request timeout, not ours
        }
    }

    private async Task StopCoreAsync()
    {
        if (_processes.Count == 0)
        {
            IsRunning = false;
            return;
        }

        // The script signals each server's process group (each server setsid()s, so a group holds
        // the server and any worker it forked), waits, and SIGKILLs what is left.
        await RunScriptAsync(CancellationToken.None, "stop", Directory);
        foreach (var process in _processes)
        {
            using var wait = new CancellationTokenSource(_stopTimeout);
            try
            {
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
            }

            process.Dispose();
        }

        _processes.Clear();
        IsRunning = false;
    }

    private async Task<(int ExitCode, string Output)> RunScriptAsync(CancellationToken cancellationToken, params string[] arguments)
    {
        var info = new ProcessStartInfo("bash")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(_script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start bash.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, (await stdout) + (await stderr));
    }
}
