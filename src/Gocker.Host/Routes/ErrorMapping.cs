using Gocker.Actors.Containers;
using Gocker.Api;
using Gocker.Images;

namespace Gocker.Host;

/// <summary>The one place where an engine exception becomes an HTTP status and Docker's error body
/// ({"message": ...}): every route, middleware and fallback answers errors through it.</summary>
public static class ErrorMapping
{
    public static IResult Error(Exception ex)
    {
        ex = StorageGuard.Translate(ex);
        var (code, exit) = ex switch
        {
            ContainerNotFoundException or ImageNotFoundException or Gocker.Network.NetworkNotFoundException or RouteNotFoundException => (404, (int?)null),
            BadRequestException or UnsafeArchiveException or ArgumentException or InvalidDataException or System.Text.Json.JsonException => (400, null),
            RequestTooLargeException => (413, null),
            InsufficientStorageException => (507, null),
            Microsoft.AspNetCore.Http.BadHttpRequestException b => (b.StatusCode, null),
            ConflictException or InvalidStateException or Gocker.Network.NetworkConflictException => (409, null),
            StartFailedException s => (500, s.ExitCode),
            _ => (500, null),
        };
        return Results.Json(new ErrorResponse { Message = ex.Message, ExitCode = exit }, GockerJson.Default.ErrorResponse, statusCode: code);
    }

    /// <summary>Runs a handler, answering what it throws through <see cref="Error"/> (a cancelled
    /// request is left to ASP.NET: the client is gone).</summary>
    internal static async Task<IResult> Guard(Func<Task<IResult>> handler)
    {
        try { return await handler(); }
        catch (Exception ex) when (ex is not OperationCanceledException) { return Error(ex is AggregateException { InnerException: { } inner } ? inner : ex); }
    }
}
