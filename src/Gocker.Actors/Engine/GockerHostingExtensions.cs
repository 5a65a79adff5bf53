using Akka.Hosting;
using Gocker.Actors.Containers;

namespace Gocker.Actors.Engine;

/// <summary>Marker for the ActorRegistry.</summary>
public sealed class ContainerSupervisorKey;

/// <summary>Marker for the ActorRegistry: the <see cref="Events.EventLog"/>.</summary>
public sealed class EventLogKey;

/// <summary>Marker for the ActorRegistry: the <see cref="Groups.GroupsManager"/>.</summary>
public sealed class GroupsManagerKey;

public static class GockerHostingExtensions
{
    /// <summary>Default dispatcher and scheduler settings; gocker.hocon may override them. Ends with a
    /// newline: specs append their own settings to it.</summary>
    public const string DefaultHocon = """
        gocker.dispatchers.container {
          # Container actors make blocking calls (spawn, cgroup writes, fsynced records; the mounts
          # are gocker-init's, in the container's own mount namespace): keep them off the default
          # dispatcher so the API and supervisor stay responsive.
          type = ForkJoinDispatcher
          throughput = 10
          dedicated-thread-pool { thread-count = 8 }
          # Akka stops an idle dispatcher's threads after 1 s without actors (after the last `rm`):
          # re-creating them cost the next start ~2 ms. Keep them.
          shutdown-timeout = 365d
        }
        # Akka's default scheduler ticks every 10 ms forever once anything was scheduled, and each
        # tick wakes (and spins) a pool thread: an idle daemon cost 6-7% of a core. This one sleeps
        # until the next timer is due (TimerQueueScheduler.cs).
        akka.scheduler.implementation = "Gocker.Actors.Engine.TimerQueueScheduler, Gocker.Actors"

        """;

    /// <summary>Adds the Gocker engine (the ContainerSupervisor and its children) to any Akka.Hosting
    /// application: `services.AddAkka("gocker", b => b.WithGocker(engineServices))`.</summary>
    public static AkkaConfigurationBuilder WithGocker(this AkkaConfigurationBuilder builder, EngineServices services)
    {
        builder.AddHocon(DefaultHocon, HoconAddMode.Append);
        return builder.WithActors((system, registry) =>
        {
            // First, and subscribed here synchronously: the supervisor's first events must not be missed.
            var events = system.ActorOf(Events.EventLog.Props(services.Options.Events), "events");
            system.EventStream.Subscribe(events, typeof(Events.GockerEvent));
            registry.Register<EventLogKey>(events);
            // Bad gocker.supervision values fail the daemon's start, not the first container start.
            Faults.SupervisionSettings.For(system);
            services.Faults.ArmGlobal(system.Settings.Config.GetConfig("gocker.faults"));
            // Before the containers: a re-adopted member's exit report must find its group. It
            // reaches the containers by path (they start next).
            var groups = system.ActorOf(Groups.GroupsManager.Props(services.Options.GroupsDir, services.Groups,
                system.ActorSelection("/user/containers"), services.Clock, services.Options.DefaultStopTimeout), "groups");
            system.EventStream.Subscribe(groups, typeof(Events.GockerEvent));
            system.EventStream.Subscribe(groups, typeof(ContainerActor.GroupMemberExited));
            registry.Register<GroupsManagerKey>(groups);
            var supervisor = system.ActorOf(ContainerSupervisor.Props(services), "containers");
            registry.Register<ContainerSupervisorKey>(supervisor);
        });
    }
}
