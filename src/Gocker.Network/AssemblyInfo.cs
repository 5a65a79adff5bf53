[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Gocker.Tests")]
