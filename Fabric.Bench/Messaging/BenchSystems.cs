using Akka.Actor;
using Akka.Configuration;

namespace Fabric.Bench.Messaging;

/// <summary>The bench's actor systems: Akka settings from the same embedded <c>akka.hocon</c> the host uses (dispatcher
/// throughput included), plus, when counting, <see cref="CountingMailbox"/> as every actor's mailbox (the default one and the deque one of
/// actors with a stash).</summary>
public static class BenchSystems
{
    private static readonly Lazy<Config> Embedded = new(() =>
    {
        using var stream = typeof(BenchSystems).Assembly.GetManifestResourceStream("akka.hocon")
                           ?? throw new InvalidOperationException("akka.hocon is not embedded in Fabric.Bench");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>The dispatcher throughput the fabric runs with (akka.hocon).</summary>
    public static int Throughput => Embedded.Value.GetInt("akka.actor.default-dispatcher.throughput", 30);

    public static ActorSystem Create(string name, bool countMessages, string? extraHocon = null) =>
        ActorSystem.Create(name, Settings(countMessages, extraHocon));

    /// <summary>The settings of <see cref="Create"/>, for systems the bench does not create itself (a cluster's nodes).</summary>
    public static Config Settings(bool countMessages, string? extraHocon = null)
    {
        var config = Embedded.Value;
        if (extraHocon is not null) config = ConfigurationFactory.ParseString(extraHocon).WithFallback(config);
        if (countMessages)
        {
            var counting = typeof(CountingMailbox).AssemblyQualifiedNameWithoutVersion();
            config = ConfigurationFactory.ParseString(
                $"akka.actor.default-mailbox.mailbox-type = \"{counting}\"\nakka.actor.mailbox.unbounded-deque-based.mailbox-type = \"{counting}\"")
                .WithFallback(config);
        }
        return config;
    }

    private static string AssemblyQualifiedNameWithoutVersion(this Type t) => $"{t.FullName}, {t.Assembly.GetName().Name}";
}
