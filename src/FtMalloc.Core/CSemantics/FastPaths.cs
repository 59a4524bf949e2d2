// The one flag the exported malloc and free test before their fast paths (Exports.cs).
// It is open only when the library is set up (the zone map's root exists, so free's fast
// path reads it without a null test) and no debugging hook is on (Instrumented: tracing
// and perturbing need every call to go through their wrappers). Closed, every call takes
// the full path, which handles the state it finds. A static int is zero before anything
// runs, so "closed" is the value a call made before set-up sees.
namespace FtMalloc.Core.CSemantics;

internal static class FastPaths
{
    private static int s_open;
    private static int s_ready;

    public static bool Open => s_open != 0;

    /// <summary>Set-up is done (and the zone map's root exists): open the fast paths unless a hook is on.</summary>
    public static void MarkReady()
    {
        s_ready = 1;
        Update();
    }

    /// <summary>Recomputes Open; Instrumented calls it whenever a hook changes.</summary>
    public static void Update() => s_open = s_ready != 0 && !Instrumented.IsOn ? 1 : 0;
}
