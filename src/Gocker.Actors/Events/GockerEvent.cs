namespace Gocker.Actors.Events;

/// <summary>
/// One engine event, shaped after Docker's event messages (Type, Action, Actor.ID, Actor.Attributes,
/// time). Actors publish them on the ActorSystem's EventStream; whoever wants them (the event log
/// behind `GET /events`) subscribes. Publishing costs nothing when nobody listens.
/// </summary>
/// <param name="Type">"container", "network", "image" or "group".</param>
/// <param name="Action">Docker's action names (create, start, die, oom, kill, stop, restart,
/// destroy, pause, unpause) plus Gocker's supervision decisions (e.g. "restart-scheduled",
/// "restart-skipped", "group-give-up").</param>
/// <param name="Id">The full id (or name, for networks and groups) of the subject.</param>
/// <param name="Attributes">name, image, exitCode, signal, reason, delay… (string values, as Docker).</param>
public sealed record GockerEvent(
    string Type,
    string Action,
    string Id,
    IReadOnlyDictionary<string, string> Attributes,
    DateTimeOffset Time);
