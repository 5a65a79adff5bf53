using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Spawn;

public class UserResolverTests
{
    const string Passwd = "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1234:2345:App:/home/app:/bin/sh\nbroken line\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const string Group = "root:x:0:\nstaff:x:2345:\nextra:x:777:app,other\nwheel:x:10:root\n";

    [Fact]
    public void Empty_user_is_root_with_roots_groups_and_home()
    {
        var u = UserResolver.Resolve("", Passwd, Group);
        Assert.Equal((0u, 0u, "/root"), (u.Uid, u.Gid, u.Home));
        Assert.Equal([10u], u.Groups);
    }

    [Fact]
    public void A_name_takes_uid_gid_home_and_member_groups_from_the_files()
    {
        var u = UserResolver.Resolve("app", Passwd, Group);
        Assert.Equal((1234u, 2345u, "/home/app"), (u.Uid, u.Gid, u.Home));
        Assert.Equal([777u], u.Groups);
    }

    [Fact]
    public void A_numeric_uid_needs_no_entry_and_then_gets_gid_0()
    {
        var u = UserResolver.Resolve("1000", Passwd, Group);
        Assert.Equal((1000u, 0u, "/"), (u.Uid, u.Gid, u.Home));
        Assert.Empty(u.Groups);
        Assert.Equal(2345u, UserResolver.Resolve("1234", Passwd, Group).Gid); // with an entry: its gid
        Assert.Equal(1000u, UserResolver.Resolve("1000", null, null).Uid);   // no /etc/passwd at all
    }

    [Fact]
    public void Group_part_by_name_or_number()
    {
        Assert.Equal(2345u, UserResolver.Resolve("1000:staff", Passwd, Group).Gid);
        var u = UserResolver.Resolve("app:42", Passwd, Group);
        Assert.Equal((1234u, 42u), (u.Uid, u.Gid));
    }

    [Theory]
    [InlineData("ghost", "unable to find user ghost")]
    [InlineData("app:ghosts", "unable to find group ghosts")]
    [InlineData("app:", "empty group")]
    [InlineData("4294967295", "unable to find user 4294967295")] // (uid_t)-1 is not a uid: taken as a name
    public void Unknown_names_are_clear_errors(string user, string message)
    {
        var e = Assert.Throws<UnknownUserException>(() => UserResolver.Resolve(user, Passwd, Group));
        Assert.Contains(message, e.Message);
    }
}
