using System.Text;
using System.Text.Json;
using Gocker.Api;
using Gocker.Cli;

namespace Gocker.Tests.Cli;

public class SmallAnswersTests
{
    static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void The_create_answer_reads_id_and_warnings_case_insensitively()
    {
        var a = SmallAnswers.CreateResponse(B("""{"id":"abc","WARNINGS":["w1","w2"],"Extra":1}"""));
        Assert.Equal("abc", a.Id);
        Assert.Equal(["w1", "w2"], a.Warnings);
        // What the daemon writes (the shared context) reads back the same.
        var written = JsonSerializer.SerializeToUtf8Bytes(new ContainerCreateResponse { Id = "x", Warnings = ["w"] }, GockerJson.Default.ContainerCreateResponse);
        var back = SmallAnswers.CreateResponse(written);
        Assert.Equal(("x", "w"), (back.Id, Assert.Single(back.Warnings)));
    }

    [Fact]
    public void The_wait_answer_reads_code_oom_and_error()
    {
        var ok = SmallAnswers.WaitResponse(B("""{"StatusCode":137,"OOMKilled":true}"""));
        Assert.Equal((137, true, (string?)null), (ok.StatusCode, ok.OOMKilled, ok.Error?.Message));
        var failed = SmallAnswers.WaitResponse(B("""{"statuscode":-1,"error":{"message":"gone"}}"""));
        Assert.Equal((-1, false, "gone"), (failed.StatusCode, failed.OOMKilled, failed.Error?.Message));
        var written = JsonSerializer.SerializeToUtf8Bytes(new WaitResponse { StatusCode = 3, Error = new WaitError { Message = "m" } }, GockerJson.Default.WaitResponse);
        var back = SmallAnswers.WaitResponse(written);
        Assert.Equal((3, "m"), (back.StatusCode, back.Error?.Message));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("[1]")]
    [InlineData("{\"StatusCode\":")]
    public void Anything_but_an_object_is_a_json_error(string body) =>
        Assert.ThrowsAny<JsonException>(() => SmallAnswers.WaitResponse(B(body)));
}
