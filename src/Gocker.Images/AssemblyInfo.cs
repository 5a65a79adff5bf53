using System.Runtime.CompilerServices;

// The tests exercise the descriptor-based writer directly (the backstop behind the unpacker's checks).
[assembly: InternalsVisibleTo("Gocker.Tests")]
