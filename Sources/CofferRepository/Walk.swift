import CofferCrypto
import Foundation

/// Walks snapshot trees, visiting each distinct tree once. Used by check,
/// prune and `ls`.
public struct TreeWalker {
    public let repository: Repository
    public init(repository: Repository) { self.repository = repository }

    /// Calls `visit` for every node below `tree` with its path. A tree that
    /// cannot be loaded is passed to `unreadable` (and its subtree skipped);
    /// trees in `seen` are not descended into again.
    public func walk(_ tree: Hash256, path: String = "", seen: inout Set<Hash256>,
                     visit: (String, Node) throws -> Void,
                     unreadable: (String, Hash256, Error) throws -> Void) async throws {
        guard seen.insert(tree).inserted else { return }
        let t: Tree
        do { t = try await repository.loadTree(tree) } catch {
            try unreadable(path.isEmpty ? "/" : path, tree, error)
            return
        }
        for node in t.nodes {
            let p = path.isEmpty ? node.name : path + "/" + node.name
            try visit(p, node)
            if let sub = node.subtree { try await walk(sub, path: p, seen: &seen, visit: visit, unreadable: unreadable) }
        }
    }

    /// The tree of the directory at `path` (components separated by "/", relative to the
    /// snapshot's root; "" or "/" is the root), loading only the trees on the way there.
    public func directory(_ root: Hash256, at path: String) async throws -> Tree {
        var tree = try await repository.loadTree(root)
        var walked = ""
        for name in path.split(separator: "/", omittingEmptySubsequences: true).map(String.init) where name != "." {
            walked += "/" + name
            guard let node = tree.nodes.first(where: { $0.name == name }) else {
                throw RepositoryError(.missing, "\(walked): no such file or directory in the snapshot")
            }
            guard node.kind == .directory, let subtree = node.subtree else {
                throw RepositoryError(.invalidArgument, "\(walked): not a directory")
            }
            tree = try await repository.loadTree(subtree)
        }
        return tree
    }
}

