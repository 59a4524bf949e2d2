// In-process heap tests share the process-wide zone map, and walks read other heaps'
// zone headers through it; they run one at a time (in parallel with the program tests).
namespace FtMalloc.Tests.Core;

[CollectionDefinition(Name)]
public sealed class InProcessCollection
{
    public const string Name = "in-process heaps";
}
