import CofferModel
import CofferService
import CofferSystem
import Foundation
import Hummingbird

/// Backup policies: a schedule builder that writes CBR's pattern, retention fields, and the
/// retention simulator's answer drawn as a timeline.
struct ConsolePolicyPages {
    let console: ConsoleRoutes
    var services: APIServices { console.services }

    static let weekdays = [("MO", "Mon"), ("TU", "Tue"), ("WE", "Wed"), ("TH", "Thu"), ("FR", "Fri"), ("SA", "Sat"), ("SU", "Sun")]
    static let timezones: [String] = (-12...14).map { h in String(format: "UTC%@%02d:00", h < 0 ? "-" : "+", abs(h)) }
    static let simulatedDays = 60

    static func retentionText(_ d: PolicyDefinition) -> String {
        var parts: [String] = []
        if let n = d.maxBackups, n > 0 { parts.append("newest \(n)") }
        if let n = d.retentionDurationDays, n > 0 { parts.append("\(n) days") }
        for (n, label) in [(d.dayBackups, "daily"), (d.weekBackups, "weekly"), (d.monthBackups, "monthly"), (d.yearBackups, "yearly")] {
            if let n, n > 0 { parts.append("\(n) \(label)") }
        }
        return parts.isEmpty ? "keeps every backup" : parts.joined(separator: ", ")
    }

    @Sendable func list(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let items = try await services.policies.list(project: session.caller.projectID, filter: PolicyFilter(), marker: nil, offset: 0, limit: 1000).items
        var page = session.header(title: "Policies")
        page["policies"] = items.map { p -> [String: Any] in
            ["id": p.record.id, "name": p.record.name, "enabled": p.record.enabled ? "yes" : "no", "patterns": p.patterns,
             "retention": ConsolePolicyPages.retentionText(p.definition), "vaultCount": p.vaultIDs.count]
        }
        page["weekdays"] = ConsolePolicyPages.weekdays.map { ["code": $0.0, "label": $0.1] }
        page["timezones"] = ["UTC+00:00"] + ConsolePolicyPages.timezones.filter { $0 != "UTC+00:00" }
        return ConsolePage.render("policies", page)
    }

    /// The builder's fields as CBR's pattern: `FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=02;BYMINUTE=30`
    /// or `FREQ=DAILY;INTERVAL=3;BYHOUR=02;BYMINUTE=30` (the script shows the same text as it is built).
    static func pattern(_ form: ConsoleForm) throws -> String {
        guard let time = form["time"] else { throw ServiceError.validation("time is required (HH:MM, UTC)") }
        let pieces = time.split(separator: ":")
        guard pieces.count == 2, let hour = Int(pieces[0]), let minute = Int(pieces[1]), (0...23).contains(hour), (0...59).contains(minute),
              pieces.allSatisfy({ $0.count == 2 }) else {
            throw ServiceError.validation("time must be HH:MM from 00:00 to 23:59")
        }
        let at = String(format: "BYHOUR=%02d;BYMINUTE=%02d", hour, minute)
        switch form["frequency"] {
        case "weekly"?:
            let chosen = Set(form.all("day"))
            guard !chosen.isEmpty, chosen.isSubset(of: Set(weekdays.map(\.0))) else { throw ServiceError.validation("day: choose at least one weekday") }
            let days = weekdays.map(\.0).filter(chosen.contains).joined(separator: ",")
            return "FREQ=WEEKLY;BYDAY=\(days);\(at)"
        case "daily"?:
            let interval = try form.integer("interval", label: "interval", in: 1...30) ?? 1
            return "FREQ=DAILY;INTERVAL=\(interval);\(at)"
        default:
            throw ServiceError.validation("frequency must be weekly or daily")
        }
    }

    static func definition(_ form: ConsoleForm) throws -> PolicyDefinition {
        var d = PolicyDefinition()
        let timezone = form["timezone"] ?? "UTC+00:00"
        guard timezones.contains(timezone) else { throw ServiceError.validation("timezone must be one of UTC-12:00 ... UTC+14:00") }
        d.timezone = timezone
        switch form["retention"] {
        case "count"?:
            guard let n = try form.integer("max_backups", label: "max_backups", in: 1...99_999) else { throw ServiceError.validation("max_backups is required") }
            d.maxBackups = n
        case "days"?:
            guard let n = try form.integer("retention_days", label: "retention_days", in: 2...99_999) else { throw ServiceError.validation("retention_days is required") }
            d.retentionDurationDays = n
        case "rotation"?:
            d.dayBackups = try form.integer("day_backups", label: "day_backups", in: 0...100) ?? 0
            d.weekBackups = try form.integer("week_backups", label: "week_backups", in: 0...100) ?? 0
            d.monthBackups = try form.integer("month_backups", label: "month_backups", in: 0...100) ?? 0
            d.yearBackups = try form.integer("year_backups", label: "year_backups", in: 0...100) ?? 0
        default:
            throw ServiceError.validation("retention must be count, days or rotation")
        }
        return d
    }

    @Sendable func create(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        guard let name = form["name"] else { throw ServiceError.validation("name is required") }
        let input = PolicyInput(name: name, operationType: "backup", definition: try ConsolePolicyPages.definition(form), patterns: [try ConsolePolicyPages.pattern(form)])
        let view = try await services.policies.create(caller: session.caller, input)
        return ConsolePage.redirect("/console/policies/\(view.record.id)")
    }

    @Sendable func show(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        let project = session.caller.projectID
        let id = try ConsoleInput.parameter(context, "policy_id")
        let view = try await services.policies.view(project: project, id: id)
        var page = session.header(title: "Policy \(view.record.name)")
        page["id"] = id
        page["enabled"] = view.record.enabled ? "yes" : "no"
        page["patterns"] = view.patterns
        page["retention"] = ConsolePolicyPages.retentionText(view.definition)
        var vaults: [[String: Any]] = []
        for v in view.vaultIDs { if let r = try await services.vaults.record(id: v), r.projectID == project { vaults.append(["id": r.id, "name": r.name]) } }
        page["vaults"] = vaults
        page["days"] = ConsolePolicyPages.simulatedDays
        if view.record.operationType == "backup" {
            let simulation = try await services.policies.simulate(caller: session.caller, policyID: id, inline: nil, start: nil, end: nil,
                                                                  days: ConsolePolicyPages.simulatedDays)
            page["madeCount"] = simulation.backups.count
            page["keptCount"] = simulation.backups.filter { $0.deletedAt == nil }.count
            page["timeline"] = ConsoleCharts.timeline(simulation)
        }
        return ConsolePage.render("policy", page)
    }

    @Sendable func delete(_ request: Request, _ context: CofferContext, _ session: ConsoleSession, _ form: ConsoleForm) async throws -> Response {
        try await services.policies.delete(caller: session.caller, id: try ConsoleInput.parameter(context, "policy_id"))
        return ConsolePage.redirect("/console/policies")
    }
}
