using System.Runtime.CompilerServices;

namespace Fabric.Specs;

internal static class SpecsSetup
{
    /// <summary>On a 2-core machine TestKit start-up starves the thread pool unless it starts wider.</summary>
    [ModuleInitializer]
    internal static void RaiseThreadPool()
    {
        ThreadPool.GetMinThreads(out var worker, out var io);
        ThreadPool.SetMinThreads(Math.Max(worker, 32), Math.Max(io, 32));
    }
}
