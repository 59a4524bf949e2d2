// Marks a static method that ILC compiles as a plain native function exported under the
// given C symbol name. Unlike [UnmanagedCallersOnly], such a method has no reverse P/Invoke
// frame: calling it never attaches the thread to the .NET runtime or starts the runtime,
// which is what a malloc called from other libraries' constructors, from foreign threads
// and after fork needs. ILC recognises the attribute by its full name
// (System.Runtime.RuntimeExportAttribute) in any assembly; the declaration is ours.
namespace System.Runtime;

[AttributeUsage(AttributeTargets.Method, Inherited = false)]
internal sealed class RuntimeExportAttribute : Attribute
{
    public RuntimeExportAttribute(string entry) => Entry = entry;

    /// <summary>The C symbol name the method is exported under.</summary>
    public string Entry { get; }
}
