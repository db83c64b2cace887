using Fabric.Hardware.Observation;
using Fabric.Hardware.Protocol;

namespace Fabric.Hardware.Deterministic;

/// <summary>What an exhaustive exploration did: the delivery orders it ran to their end (one per Mazurkiewicz trace it
/// reached, with reduction), the orders it cut short as equivalent to one already run (sleep sets), the deliveries made
/// in all, whether it enumerated every order, and the first violation with the order that produced it (units named by
/// their place among the fabric's units).</summary>
public sealed record ExhaustiveResult(long Orders, long Pruned, long Deliveries, bool Complete, IReadOnlyList<Violation> Violations, IReadOnlyList<int>? FailingOrder)
{
    public bool Passed => Violations.Count == 0;
}

/// <summary>
/// Every delivery order of a tiny scenario (DESIGN.md §6.5's stretch: an exhaustive strategy with partial-order
/// reduction), by stateless search: each order is run from a fresh fabric of the units (<see cref="UnitFabric"/>), guided
/// delivery by delivery, depth first. Two deliveries commute — their orders are the same trace — when they are at
/// different units and send to no unit in common: a unit's delivery reads and writes only its own state and its
/// mailbox's head, and appends to the tails of the mailboxes it sends to, so only two appends to one mailbox do not
/// commute. Sleep sets (Godefroid 1996) then skip every order that only swaps commuting deliveries of one already run,
/// so each trace is run about once; <c>reduce = false</c> runs every interleaving. The devices start, the fabric runs
/// until nothing is left, the devices stop, it runs out again, and the checks judge the events: an order is one schedule
/// of explore. The scenario must start no timer (time has no part in an order); a timer is refused by name.
/// <para>The checks read the events in the order of the run; for two commuting deliveries that order is one of the
/// two, so a check that depended on it could see only one of them. The checks of I1-I8 judge each interrupt's and each
/// VPE's own history, which commuting deliveries at different units do not reorder.</para>
/// </summary>
public static class ExhaustiveExploration
{
    /// <summary>Explores <paramref name="vms"/> VMs of <paramref name="spec"/>, each order judged by a fresh checker from
    /// <paramref name="checker"/>, until every order is run, a violation is found, <paramref name="maxOrders"/> orders
    /// are run or <paramref name="budget"/> (real time) is spent. <paramref name="progress"/> is told the orders run so far
    /// about once a second.</summary>
    public static ExhaustiveResult Run(int vms, VmSpec spec, Func<InvariantChecker> checker, long maxOrders, TimeSpan budget, bool reduce = true,
        Action<long, long>? progress = null)
    {
        var search = new Search(reduce);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shown = TimeSpan.Zero;
        long orders = 0, pruned = 0, deliveries = 0;
        while (true)
        {
            var check = checker();
            long seq = 0;
            UnitFabric? fabric = null;
            fabric = new UnitFabric(vms, spec, search,
                (ev, vm, vpe, id, arg) => check.Observe(new FabricEvent(++seq, (long)fabric!.Now.TotalNanoseconds, ev, vm, vpe, id, arg)));
            search.Begin();
            var redundant = false;
            try
            {
                fabric.StartDevices();
                fabric.RunUntil(() => false, TimeSpan.MaxValue);
                fabric.StopDevices();
                fabric.RunUntil(() => false, TimeSpan.MaxValue);
            }
            catch (Search.Redundant)
            {
                redundant = true;
            }
            deliveries += fabric.Steps;
            if (redundant) pruned++;
            else
            {
                orders++;
                var violations = check.Finish();
                if (violations.Count > 0) return new(orders, pruned, deliveries, false, violations, search.Order());
            }
            var complete = !search.Backtrack();
            if (complete || orders >= maxOrders || clock.Elapsed >= budget) return new(orders, pruned, deliveries, complete, [], null);
            if (clock.Elapsed - shown >= TimeSpan.FromSeconds(1))
            {
                shown = clock.Elapsed;
                progress?.Invoke(orders, pruned);
            }
        }
    }

    /// <summary>What one delivery did: the unit that took a message, and the units it sent to.</summary>
    private sealed record Footprint(int Unit, HashSet<int> Sends)
    {
        public bool CommutesWith(Footprint other) => Unit != other.Unit && !Sends.Overlaps(other.Sends);
    }

    /// <summary>A point of choice on the current order: the units ready there, the one chosen, those already run from
    /// here (with what they did), and the sleep set (deliveries that need not run from here: each commutes with
    /// everything run since an order that ran it).</summary>
    private sealed class Node(int[] enabled, Dictionary<int, Footprint> sleep)
    {
        public readonly int[] Enabled = enabled;
        public readonly Dictionary<int, Footprint> Sleep = sleep;
        public readonly Dictionary<int, Footprint> Done = new();
        public int Chosen;
        public Footprint? ChosenDid;

        public int? Next() => Enabled.Where(u => !Done.ContainsKey(u) && !Sleep.ContainsKey(u)).Select(u => (int?)u).FirstOrDefault();
    }

    /// <summary>The depth-first search over orders, as the guide of each run: it replays the current order's prefix, then
    /// takes the first unit not run and not asleep at each new point.</summary>
    private sealed class Search(bool reduce) : IDeliveryGuide
    {
        public sealed class Redundant : Exception;

        private readonly List<Node> _path = new();
        private int _depth;

        public void Begin() => _depth = 0;

        public IReadOnlyList<int> Order() => [.. _path.Take(_depth).Select(n => n.Chosen)];

        public int Choose(IReadOnlyList<int> ready)
        {
            if (_depth < _path.Count)
            {
                var at = _path[_depth];
                var i = IndexOf(ready, at.Chosen);
                if (i < 0) throw new InvalidOperationException($"an order replayed differently at delivery {_depth}: unit {at.Chosen} is not ready (the units are not deterministic)");
                _depth++;
                return i;
            }
            var node = new Node([.. ready.Order()], SleepAfter(_depth == 0 ? null : _path[_depth - 1]));
            if (node.Next() is not { } choice) throw new Redundant();
            node.Chosen = choice;
            _path.Add(node);
            _depth++;
            return IndexOf(ready, choice);
        }

        public void Delivered(int unit, IReadOnlyList<int> sentTo) => _path[_depth - 1].ChosenDid = new Footprint(unit, [.. sentTo]);

        /// <summary>The sleep set after <paramref name="parent"/>'s choice: what slept there, and the deliveries already run
        /// from there, that commute with the one chosen.</summary>
        private Dictionary<int, Footprint> SleepAfter(Node? parent)
        {
            var sleep = new Dictionary<int, Footprint>();
            if (!reduce || parent?.ChosenDid is not { } did) return sleep;
            foreach (var (u, f) in parent.Sleep.Concat(parent.Done))
                if (f.CommutesWith(did)) sleep[u] = f;
            return sleep;
        }

        /// <summary>The next order: the deepest point with a unit neither run nor asleep takes it; false when none is left.</summary>
        public bool Backtrack()
        {
            // A run cut short as redundant ended inside the path: what lies below its last point was not reached.
            if (_path.Count > _depth) _path.RemoveRange(_depth, _path.Count - _depth);
            while (_path.Count > 0)
            {
                var node = _path[^1];
                node.Done[node.Chosen] = node.ChosenDid ?? new Footprint(node.Chosen, []);
                if (node.Next() is { } next)
                {
                    node.Chosen = next;
                    node.ChosenDid = null;
                    return true;
                }
                _path.RemoveAt(_path.Count - 1);
            }
            return false;
        }

        private static int IndexOf(IReadOnlyList<int> ready, int unit)
        {
            for (var i = 0; i < ready.Count; i++)
                if (ready[i] == unit) return i;
            return -1;
        }
    }
}
