// gocker: the control console of the Gocker container engine (NativeAOT, no Akka).
using Gocker.Cli;

using var io = CliIO.FromConsole();
var ctx = new CliContext(io, Environment.GetEnvironmentVariable, () => DateTimeOffset.UtcNow);
return new CliApp(ctx).Run(args);
