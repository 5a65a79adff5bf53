using Akka.Actor;
using Akka.Hosting;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;

namespace Gocker.Host;

/// <summary>How a route talks to the engine: a message to the container supervisor (or through it
/// to one container), the reply typed, a Status.Failure rethrown for <see cref="ErrorMapping"/>.</summary>
public static class EngineAsk
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    internal static IActorRef Supervisor(HttpContext ctx) => ctx.RequestServices.GetRequiredService<ActorRegistry>().Get<ContainerSupervisorKey>();

    internal static async Task<T> Ask<T>(HttpContext ctx, object message, TimeSpan? timeout = null)
    {
        var reply = await Supervisor(ctx).Ask<object>(message, timeout ?? Timeout, ctx.RequestAborted);
        return reply switch
        {
            Status.Failure f => throw f.Cause,
            T t => t,
            _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name}"),
        };
    }

    internal static Task<T> AskContainer<T>(HttpContext ctx, string id, object message, TimeSpan? timeout = null) =>
        Ask<T>(ctx, new ContainerSupervisor.ToContainer(id, message), timeout);
}
