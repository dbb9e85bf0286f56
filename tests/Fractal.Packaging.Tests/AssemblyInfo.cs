using System.Runtime.Versioning;

// dpkg, systemd and unix sockets: these tests exist only on Linux.
[assembly: SupportedOSPlatform("linux")]
