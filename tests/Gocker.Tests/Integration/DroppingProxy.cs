using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gocker.Tests.Integration;

/// <summary>A loopback TCP proxy in front of a registry that cuts the connection carrying the first GET
/// of one blob after a number of bytes of its answer (a registry or proxy dropping a layer mid-way).
/// Later requests, the resumption included, pass untouched.</summary>
public sealed class DroppingProxy : IDisposable
{
    readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    readonly int _target;
    readonly string _blobPath;
    readonly int _cutAfter;
    readonly CancellationTokenSource _stop = new();
    int _cuts;
    readonly List<string> _requests = [];

    public DroppingProxy(int targetPort, string digest, int cutAfter)
    {
        _target = targetPort;
        _blobPath = "/blobs/" + digest;
        _cutAfter = cutAfter;
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public string Host => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
    public int Cuts => Volatile.Read(ref _cuts);
    public IReadOnlyList<string> Requests { get { lock (_requests) return _requests.ToList(); } }

    async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = Task.Run(() => Serve(client));
        }
    }

    async Task Serve(TcpClient client)
    {
        using (client)
        using (var server = new TcpClient())
        {
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, _target);
                var c = client.GetStream();
                var s = server.GetStream();
                long cutAt = -1; // bytes of the answer after which this connection is cut
                long sent = 0;
                var up = Task.Run(async () =>
                {
                    var buf = new byte[65536];
                    int n;
                    while ((n = await c.ReadAsync(buf, _stop.Token)) > 0)
                    {
                        var text = Encoding.ASCII.GetString(buf, 0, n);
                        foreach (var line in text.Split("\r\n").Where(l => l.StartsWith("GET ") || l.StartsWith("Range:", StringComparison.OrdinalIgnoreCase)))
                            lock (_requests) _requests.Add(line);
                        if (text.StartsWith("GET ") && text.Contains(_blobPath) && Interlocked.CompareExchange(ref _cuts, 1, 0) == 0)
                            Volatile.Write(ref cutAt, Volatile.Read(ref sent) + _cutAfter);
                        await s.WriteAsync(buf.AsMemory(0, n), _stop.Token);
                    }
                });
                var down = new byte[4096];
                int m;
                while ((m = await s.ReadAsync(down, _stop.Token)) > 0)
                {
                    var limit = Volatile.Read(ref cutAt);
                    if (limit >= 0 && sent + m >= limit)
                    {
                        await c.WriteAsync(down.AsMemory(0, (int)Math.Max(0, limit - sent)), _stop.Token);
                        client.Client.LingerState = new LingerOption(true, 0); // a reset, as a dropped link
                        return;
                    }
                    await c.WriteAsync(down.AsMemory(0, m), _stop.Token);
                    sent += m;
                }
                await up;
            }
            catch (Exception) { } // either side went away: the connection ends
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
