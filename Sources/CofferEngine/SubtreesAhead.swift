import CofferCrypto
import CofferRepository

/// The subtrees of one directory a restore walks, loaded ahead of it a window at a time.
/// Loading a tree is a read of the repository's cache (from disk when cold) or of the
/// store; one after another, the bench's 780 directories held the walk, and the
/// restore's first pack read behind it, for a third of a second of disk waits
/// (docs/benchmarks.md). Each level of the walk keeps its own window, so at most
/// `window` loads per level of depth are in flight.
struct SubtreesAhead {
    static let window = 16

    private let repository: any SnapshotSource
    /// Node positions of the directories with a subtree, in walk order.
    private let positions: [Int]
    private let nodes: [Node]
    private var loads: [Int: Task<Tree, Error>] = [:]
    private var started = 0
    private var taken = 0

    init(_ tree: Tree, repository: any SnapshotSource) {
        self.repository = repository
        nodes = tree.nodes
        positions = tree.nodes.indices.filter { tree.nodes[$0].kind == .directory && tree.nodes[$0].subtree != nil }
        startAhead()
    }

    /// The load of the subtree at node position `index` (nil: the node has none), started now
    /// if it was not yet; the window moves past it.
    mutating func take(_ index: Int) -> Task<Tree, Error>? {
        guard let subtree = nodes[index].subtree, nodes[index].kind == .directory else { return nil }
        let load = loads.removeValue(forKey: index) ?? load(subtree)
        while taken < positions.count && positions[taken] <= index { taken += 1 }
        startAhead()
        return load
    }

    /// Stops the loads nobody took (the walk refused a name, or failed).
    func cancel() { for load in loads.values { load.cancel() } }

    private mutating func startAhead() {
        while started < min(taken + SubtreesAhead.window, positions.count) {
            let index = positions[started]
            if let subtree = nodes[index].subtree { loads[index] = load(subtree) }
            started += 1
        }
    }

    private func load(_ id: Hash256) -> Task<Tree, Error> {
        let repository = repository
        return Task { try await repository.loadTree(id) }
    }
}
