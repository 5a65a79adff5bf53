using Akka.Hosting;
using Gocker.Actors.Containers;

namespace Gocker.Actors.Engine;

/// <summary>Marker for the ActorRegistry.</summary>
public sealed class ContainerSupervisorKey;

public static class GockerHostingExtensions
{
    /// <summary>Default dispatcher settings; gocker.hocon may override them.</summary>
    public const string DefaultHocon = """
        gocker.dispatchers.container {
          # Container actors make blocking syscalls (spawn, mount, cgroup writes): keep them off
          # the default dispatcher so the API and supervisor stay responsive.
          type = ForkJoinDispatcher
          throughput = 10
          dedicated-thread-pool { thread-count = 8 }
        }
        """;

    /// <summary>Adds the Gocker engine (the ContainerSupervisor and its children) to any Akka.Hosting
    /// application: `services.AddAkka("gocker", b => b.WithGocker(engineServices))`.</summary>
    public static AkkaConfigurationBuilder WithGocker(this AkkaConfigurationBuilder builder, EngineServices services)
    {
        builder.AddHocon(DefaultHocon, HoconAddMode.Append);
        return builder.WithActors((system, registry) =>
        {
            // Bad gocker.supervision values fail the daemon's start, not the first container start.
            Faults.SupervisionSettings.For(system);
            services.Faults.ArmGlobal(system.Settings.Config.GetConfig("gocker.faults"));
            var supervisor = system.ActorOf(ContainerSupervisor.Props(services), "containers");
            registry.Register<ContainerSupervisorKey>(supervisor);
        });
    }
}
