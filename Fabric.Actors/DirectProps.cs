using Akka.Actor;

namespace Fabric.Actors;

/// <summary>
/// Props that make an actor by calling its constructor through a delegate. Akka's <c>Props.Create(() =&gt; new X(a, b))</c>
/// takes an expression tree: each call builds the tree and reads every argument back out of it by reflection (boxing
/// value types into an argument array that the Props, and so the actor's cell, keeps), and each incarnation is made by
/// <see cref="Activator.CreateInstance(Type, object[])"/>. That is about 3 µs per Props here, 13 times per VM; a
/// delegate costs one closure over the same arguments. A restart calls the delegate again, as Akka called the constructor.
/// </summary>
public static class DirectProps
{
    public static Props Of<TActor>(Func<TActor> create) where TActor : ActorBase => Props.CreateBy(new Producer<TActor>(create));

    private sealed class Producer<TActor>(Func<TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => create();

        public void Release(ActorBase actor) { }
    }
}
