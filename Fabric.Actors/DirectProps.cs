using Akka.Actor;

namespace Fabric.Actors;

/// <summary>
/// Props that make an actor by calling its constructor. Akka's <c>Props.Create(() =&gt; new X(a, b))</c> takes an
/// expression tree: each call builds the tree and reads every argument back out of it by reflection (boxing value
/// types into an argument array that the Props, and so the actor's cell, keeps), and each incarnation is made by
/// <see cref="Activator.CreateInstance(Type, object[])"/>: about 3 µs per Props here, 13 times per VM. Here the Props
/// keeps the constructor's arguments as one tuple and a static lambda that calls the constructor with them (the lambda
/// captures nothing, so it is one shared delegate); a restart calls it again, as Akka called the constructor.
/// </summary>
public static class DirectProps
{
    public static Props Of<TArgs, TActor>(TArgs args, Func<TArgs, TActor> create) where TActor : ActorBase =>
        Props.CreateBy(new Producer<TArgs, TActor>(args, create));

    private sealed class Producer<TArgs, TActor>(TArgs args, Func<TArgs, TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => create(args);

        public void Release(ActorBase actor) { }
    }
}
