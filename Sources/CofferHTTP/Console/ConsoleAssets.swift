import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The console's only stylesheet and script, served by Coffer itself (no CDN: it works
/// offline, and the Content-Security-Policy allows scripts and styles from here only).
enum ConsoleAssets {
    static func response(_ text: String, type: String) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = type
        fields[.xContentTypeOptions] = "nosniff"
        fields[.cacheControl] = "public, max-age=300"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static let css = """
    :root { --ink: #1d2433; --muted: #5d6678; --line: #d8dde6; --accent: #2457c5; --bad: #b3261e; --good: #1e7a3c; --bg: #f6f7f9; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); background: var(--bg); }
    header { display: flex; align-items: center; gap: 24px; padding: 10px 24px; background: #fff; border-bottom: 1px solid var(--line); }
    .brand { font-weight: 700; font-size: 18px; color: var(--accent); text-decoration: none; }
    nav { display: flex; gap: 16px; flex: 1; }
    nav a { color: var(--ink); text-decoration: none; } nav a:hover { color: var(--accent); }
    .logout { display: flex; align-items: center; gap: 10px; } .who { color: var(--muted); }
    main { padding: 16px 24px 48px; max-width: 1200px; }
    h1 { font-size: 22px; margin: 8px 0 16px; } h2 { font-size: 17px; margin: 28px 0 10px; }
    table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
    th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { background: #eef1f5; font-weight: 600; } td.num { text-align: right; }
    tr.problem td:first-child { border-left: 4px solid var(--bad); }
    .bad, .error { color: var(--bad); } .notice { color: var(--good); } .small { color: var(--muted); font-size: 12px; }
    p.error, p.notice { background: #fff; border: 1px solid currentColor; padding: 8px 12px; border-radius: 4px; }
    .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px; display: grid; gap: 10px; max-width: 760px; }
    .narrow { max-width: 360px; margin-top: 40px; }
    label { display: grid; gap: 4px; } label.check { display: inline-flex; gap: 6px; align-items: center; margin-right: 12px; }
    fieldset { border: 1px solid var(--line); border-radius: 4px; display: grid; gap: 8px; }
    input, select, button { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; max-width: 100%; min-width: 0; }
    .card > *, fieldset > * { min-width: 0; } .card label, .card select { overflow-wrap: anywhere; }
    input[type=number] { width: 90px; } input[type=checkbox], input[type=radio] { padding: 0; }
    button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
    button.danger { background: var(--bad); border-color: var(--bad); } button.link { background: none; color: var(--accent); border: none; padding: 0; }
    .actions { display: flex; gap: 16px; flex-wrap: wrap; margin: 12px 0; } form.inline { display: flex; gap: 8px; align-items: end; flex-wrap: wrap; margin: 8px 0; }
    dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; background: #fff; border: 1px solid var(--line); padding: 12px; max-width: 760px; }
    dt { color: var(--muted); } dd { margin: 0; }
    meter, progress { width: 120px; height: 14px; vertical-align: middle; }
    .status-available, .status-success { color: var(--good); } .status-error, .status-failed, .status-timeout { color: var(--bad); }
    .charts { display: flex; gap: 16px; flex-wrap: wrap; } figure { margin: 0; background: #fff; border: 1px solid var(--line); padding: 8px; }
    figcaption { font-weight: 600; margin-bottom: 4px; }
    svg .plot { fill: #fbfcfd; stroke: var(--line); } svg .grid { stroke: #e6e9ef; stroke-width: 1; }
    svg .axis { font-size: 10px; fill: var(--muted); } svg .legend { font-size: 11px; font-weight: 600; }
    svg .line { fill: none; stroke-width: 2; } .stored { stroke: var(--accent); fill: var(--accent); } .protected { stroke: #8a5cf6; fill: #8a5cf6; } .ratio { stroke: var(--good); fill: var(--good); }
    svg text.stored, svg text.protected, svg text.ratio { stroke: none; }
    svg.timeline { background: #fff; border: 1px solid var(--line); }
    svg .kept { stroke: var(--good); fill: var(--good); stroke-width: 3; } svg .deleted { stroke: #c3c8d2; fill: #c3c8d2; stroke-width: 2; }
    code { background: #eef1f5; padding: 1px 5px; border-radius: 3px; }
    .pager { display: flex; gap: 12px; }
    """

    static let js = """
    "use strict";
    // Coffer console: the policy builder's live pattern and the operations page's live progress.
    (function () {
      function two(n) { return (n < 10 ? "0" : "") + n; }

      // Mirrors the server's pattern (ConsolePolicyPages.pattern) so the user sees what will be stored.
      function builderPattern(form) {
        var time = (form.elements["time"].value || "").split(":");
        if (time.length !== 2) return "";
        var at = "BYHOUR=" + two(parseInt(time[0], 10)) + ";BYMINUTE=" + two(parseInt(time[1], 10));
        var frequency = form.querySelector("input[name=frequency]:checked");
        if (frequency && frequency.value === "daily") {
          return "FREQ=DAILY;INTERVAL=" + (parseInt(form.elements["interval"].value, 10) || 1) + ";" + at;
        }
        var days = Array.prototype.map.call(form.querySelectorAll("input[name=day]:checked"), function (b) { return b.value; });
        return days.length ? "FREQ=WEEKLY;BYDAY=" + days.join(",") + ";" + at : "(choose at least one weekday)";
      }

      function setUpBuilder() {
        var form = document.getElementById("policy-builder");
        var preview = document.getElementById("pattern-preview");
        if (!form || !preview) return;
        var update = function () { preview.textContent = builderPattern(form); };
        form.addEventListener("input", update);
        form.addEventListener("change", update);
        update();
      }

      function setUpProgress() {
        var table = document.getElementById("operations");
        if (!table) return;
        function live() { return table.querySelectorAll("tr[data-live]"); }
        function poll() {
          var rows = live();
          if (!rows.length) return;
          var ids = Array.prototype.map.call(rows, function (r) { return r.getAttribute("data-operation"); });
          fetch("/console/operations.json?ids=" + encodeURIComponent(ids.join(",")), { credentials: "same-origin", headers: { "Accept": "application/json" } })
            .then(function (r) { return r.ok ? r.json() : { operations: [] }; })
            .then(function (answer) {
              answer.operations.forEach(function (op) {
                var row = table.querySelector("tr[data-operation='" + op.id + "']");
                if (!row) return;
                row.querySelector(".op-progress").value = op.progress;
                row.querySelector(".op-percent").textContent = op.progress + " %";
                var status = row.querySelector(".op-status");
                status.textContent = op.status;
                status.className = "op-status status-" + op.status;
                row.querySelector(".op-eta").textContent = op.eta;
                if (op.status !== "running" && op.status !== "waiting") row.removeAttribute("data-live");
              });
            })
            .catch(function () {})
            .then(function () { if (live().length) window.setTimeout(poll, 1000); });
        }
        window.setTimeout(poll, 500);
      }

      document.addEventListener("DOMContentLoaded", function () { setUpBuilder(); setUpProgress(); });
    })();
    """
}
