using Akka.Actor;
using Akka.Event;

namespace Gocker.Actors.Containers;

/// <summary>How CgroupActor, NamespaceActor and ExecActor answer a request: the result, or Status.Failure.</summary>
internal static class ChildReply
{
    public static void Answer(IActorRef sender, ILoggingAdapter log, Func<object> op)
    {
        object result;
        try { result = op(); }
        catch (Exception ex)
        {
            // The failure goes back to the ContainerActor, whose step policy decides (retry or tear
            // down; ContainerActor.Faults.cs). Throwing as well would park this child until the
            // parent's supervision directive is processed, which cannot happen while the parent
            // awaits this very child.
            log.Warning("{0} failed: {1}", op.Method.Name, ex.Message);
            sender.Tell(new Status.Failure(ex));
            return;
        }
        sender.Tell(result);
    }
}
