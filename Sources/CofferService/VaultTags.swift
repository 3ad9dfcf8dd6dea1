import CofferModel
import Foundation

/// CBR's vault tag API: the tags a vault shows in `tags`, changed one at a
/// time or in batches (at most 10 keys per vault, as at creation).
extension VaultService {
    public func tags(project: String, vaultID: String) async throws -> [Tag] {
        guard let v = try await store.get(project: project, id: vaultID) else { throw VaultService.notFound(vaultID) }
        return VaultService.decodeTags(v.tags)
    }

    static func decodeTags(_ text: String) -> [Tag] { (try? JSONDecoder().decode([Tag].self, from: Data(text.utf8))) ?? [] }

    /// Adds tags, replacing the value of a key the vault already has.
    public func addTags(caller: Principal, vaultID: String, _ added: [Tag], field: String) async throws {
        try await changeTags(caller: caller, vaultID: vaultID) { current in
            try Validate.tags(added, field: field, characters: .printable)
            var tags = current
            for tag in added {
                let key = tag.key.trimmingCharacters(in: .whitespaces)
                if let i = tags.firstIndex(where: { $0.key == key }) { tags[i].value = tag.value } else { tags.append(Tag(key: key, value: tag.value)) }
            }
            try Validate.tags(tags, field: "vault \(vaultID) tags", characters: .printable)
            return tags
        }
    }

    /// Removes tags by key (and value, when one is given); `mustExist`: a key the vault lacks is refused, naming it.
    public func removeTags(caller: Principal, vaultID: String, _ removed: [Tag], mustExist: Bool) async throws {
        try await changeTags(caller: caller, vaultID: vaultID) { current in
            if mustExist, let missing = removed.first(where: { r in !current.contains { $0.key == r.key } }) {
                throw ServiceError(.notFound, "vault \(vaultID) has no tag \(missing.key)")
            }
            return current.filter { tag in !removed.contains { $0.key == tag.key && ($0.value.isEmpty || $0.value == tag.value) } }
        }
    }

    /// Read, change and write in one transaction: two concurrent tag requests cannot lose each other's change.
    func changeTags(caller: Principal, vaultID: String, _ change: ([Tag]) throws -> [Tag]) async throws {
        try await catalog.transaction {
            guard var v = try await store.get(project: caller.projectID, id: vaultID) else { throw VaultService.notFound(vaultID) }
            let tags = try change(VaultService.decodeTags(v.tags))
            v.tags = String(decoding: try JSONEncoder().encode(tags), as: UTF8.self)
            v.updatedAt = clock.now()
            try await store.update(v)
        }
    }

    /// Every tag key of the project's vaults with the values it takes.
    public func projectTags(project: String) async throws -> [(key: String, values: [String])] {
        var values: [String: Set<String>] = [:]
        var offset = 0
        while true {
            let (page, total) = try await store.list(project: project, filter: VaultFilter(), offset: offset, limit: 1_000)
            for v in page { for tag in VaultService.decodeTags(v.tags) { values[tag.key, default: []].insert(tag.value) } }
            offset += page.count
            if page.isEmpty || offset >= total { break }
        }
        return values.keys.sorted().map { ($0, values[$0]!.sorted()) }
    }
}
