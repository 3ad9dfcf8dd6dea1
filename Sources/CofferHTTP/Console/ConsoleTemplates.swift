import Mustache

/// The console's pages as mustache templates, parsed once. `{{x}}` escapes for HTML
/// (text and attribute values alike); the templates never use the unescaped forms, so
/// whatever a tenant stored is shown as text. Scripts and styles come only from
/// /console/static (the Content-Security-Policy forbids inline ones).
enum ConsoleTemplates {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in all {
            do { try library.register(text, named: name) } catch { preconditionFailure("console template \(name) does not parse: \(error)") }
        }
        return library
    }()

    static let all: [(String, String)] = [
        ("head", head), ("foot", foot), ("login", login), ("error", error), ("dashboard", dashboard), ("vaults", vaults), ("vault", vault),
        ("pager", pager), ("chart", chart), ("backup", backup), ("policies", policies), ("policy", policy), ("operations", operations), ("rds", rds), ("admin", admin),
    ]

    static let head = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} · Coffer</title><link rel="stylesheet" href="/console/static/console.css"><script src="/console/static/console.js" defer></script></head>
    <body>
    {{#session}}<header><a class="brand" href="/console">Coffer</a>
    <nav><a href="/console">Dashboard</a><a href="/console/vaults">Vaults</a><a href="/console/policies">Policies</a><a href="/console/operations">Operations</a><a href="/console/rds">Databases</a>{{#admin}}<a href="/console/admin">Inventory</a>{{/admin}}</nav>
    <form method="post" action="/console/logout" class="logout"><input type="hidden" name="csrf" value="{{csrf}}"><span class="who">{{user}} · {{project}}</span><button id="logout" type="submit">Log out</button></form></header>{{/session}}
    <main><h1>{{title}}</h1>
    {{#error}}<p class="error" id="error">{{error}}</p>{{/error}}{{#notice}}<p class="notice" id="notice">{{notice}}</p>{{/notice}}

    """

    static let foot = """
    </main></body></html>

    """

    static let login = """
    {{> head}}
    <form method="post" action="/console/login" class="card narrow" id="login-form">
    <input type="hidden" name="csrf" value="{{loginCSRF}}">
    <label>User name <input name="user" id="user" autocomplete="username" required maxlength="255"></label>
    <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required maxlength="1024"></label>
    <label>Project (empty: your default) <input name="project" id="project" maxlength="255"></label>
    <button type="submit" id="login">Log in</button>
    </form>
    {{> foot}}
    """

    static let error = """
    {{> head}}
    <p class="error" id="failure">{{message}}</p>
    <p><a href="{{back}}">Back</a></p>
    {{> foot}}
    """

    static let meter = """
    <meter min="0" max="100" high="80" optimum="0" value="{{usedPercent}}" title="{{usedPercent}} %"></meter> <span class="small">{{used}} of {{size}}</span>
    """

    static let dashboard = """
    {{> head}}
    <p class="summary">{{count}} vaults, <strong>{{problemCount}}</strong> need attention.</p>
    <table id="dashboard"><thead><tr><th>Vault</th><th>Last success</th><th>Next run</th><th>Failures (24 h)</th><th>Used</th><th>Running</th><th>Problems</th></tr></thead><tbody>
    {{#vaults}}<tr class="{{#problem}}problem{{/problem}}"><td><a href="/console/vaults/{{id}}" class="vault-name">{{name}}</a><div class="small">{{objectType}}{{#policyName}} · policy {{policyName}}{{/policyName}}</div></td>
    <td>{{lastSuccess}}</td><td>{{nextRun}}</td><td class="num">{{failures}}</td><td>\(meter)</td>
    <td>{{#running}}<div><progress max="100" value="{{progress}}"></progress> {{operationType}} {{progress}} %</div>{{/running}}</td>
    <td>{{#problems}}<div class="bad">{{.}}</div>{{/problems}}</td></tr>{{/vaults}}
    {{^vaults}}<tr><td colspan="7">No vaults yet. <a href="/console/vaults">Create one</a>.</td></tr>{{/vaults}}
    </tbody></table>
    {{> foot}}
    """

    static let vaults = """
    {{> head}}
    <table id="vaults"><thead><tr><th>Name</th><th>Type</th><th>Status</th><th>Used</th><th>Resources</th><th>Policy</th></tr></thead><tbody>
    {{#vaults}}<tr><td><a href="/console/vaults/{{id}}" class="vault-name">{{name}}</a></td><td>{{objectType}}</td><td>{{status}}</td><td>\(meter)</td><td class="num">{{resourceCount}}</td><td>{{policy}}</td></tr>{{/vaults}}
    {{^vaults}}<tr><td colspan="6">No vaults yet.</td></tr>{{/vaults}}
    </tbody></table>
    {{#pager}}{{> pager}}{{/pager}}
    <h2>Create a vault</h2>
    <form method="post" action="/console/vaults" class="card" id="create-vault">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label>Name <input name="name" id="vault-name" required maxlength="64"></label>
    <label>Protects <select name="object_type" id="object-type">{{#objectTypes}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/objectTypes}}</select></label>
    <label>Size (GB) <input name="size" id="vault-size" type="number" min="10" max="10485760" value="100" required></label>
    <fieldset><legend>Resources (not yet in a vault)</legend>
    {{#resources}}<label class="check"><input type="checkbox" name="resource" value="{{id}}" data-type="{{type}}"> {{name}} <span class="small">{{typeLabel}} · {{path}}</span></label>{{/resources}}
    {{^resources}}<p class="small">No free resources. The operator registers directories, disks and servers for this project.</p>{{/resources}}
    </fieldset>
    <button type="submit" id="create-vault-submit">Create vault</button>
    </form>
    {{> foot}}
    """

    static let pager = """
    <p class="pager">{{#previous}}<a href="{{previous}}" id="previous">← Newer</a>{{/previous}} <span>{{range}}</span> {{#next}}<a href="{{next}}" id="next">Older →</a>{{/next}}</p>
    """

    static let vault = """
    {{> head}}
    <dl class="facts"><dt>Id</dt><dd id="vault-id">{{id}}</dd><dt>Protects</dt><dd>{{objectType}}</dd><dt>Status</dt><dd>{{status}}</dd><dt>Used</dt><dd>\(meter)</dd>
    <dt>Policy</dt><dd id="vault-policy">{{#policyName}}<a href="/console/policies/{{policyID}}">{{policyName}}</a>{{/policyName}}{{^policyName}}none{{/policyName}}</dd></dl>
    <div class="actions">
    <form method="post" action="/console/vaults/{{id}}/checkpoint" id="checkpoint-form"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="backup-now">Back up now</button></form>
    <form method="post" action="/console/vaults/{{id}}/policy" id="bind-form"><input type="hidden" name="csrf" value="{{csrf}}">
    <select name="policy_id" id="policy-select"><option value="">no policy</option>{{#policies}}<option value="{{id}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/policies}}</select>
    <button type="submit" id="bind-policy">Set policy</button></form>
    </div>
    <h2>Resources</h2>
    <table id="vault-resources"><thead><tr><th>Name</th><th>Type</th><th>Path</th><th></th></tr></thead><tbody>
    {{#resources}}<tr><td>{{name}}</td><td>{{typeLabel}}</td><td>{{path}}</td><td><form method="post" action="/console/vaults/{{vaultID}}/resources/remove"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="resource" value="{{id}}"><button type="submit" class="link">Remove</button></form></td></tr>{{/resources}}
    {{^resources}}<tr><td colspan="4">No resources.</td></tr>{{/resources}}
    </tbody></table>
    {{#hasAddable}}<form method="post" action="/console/vaults/{{id}}/resources" class="inline" id="add-resources"><input type="hidden" name="csrf" value="{{csrf}}">
    <select name="resource">{{#addable}}<option value="{{id}}">{{name}} ({{path}})</option>{{/addable}}</select> <button type="submit">Add resource</button></form>{{/hasAddable}}
    <h2>Storage over time</h2>
    <div class="charts">{{#charts}}<figure><figcaption>{{caption}}</figcaption>{{> chart}}</figure>{{/charts}}{{^charts}}<p class="small">No usage measured yet: the charts start with the first backup.</p>{{/charts}}</div>
    <h2>Backups</h2>
    <form method="get" action="/console/vaults/{{id}}" class="inline" id="backup-filter">
    <select name="status">{{#statuses}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statuses}}</select>
    <select name="resource_id"><option value="">every resource</option>{{#resources}}<option value="{{id}}"{{#filtered}} selected{{/filtered}}>{{name}}</option>{{/resources}}</select>
    <input name="name" placeholder="name contains" value="{{nameFilter}}" maxlength="64"> <button type="submit">Filter</button></form>
    <table id="backups"><thead><tr><th>Name</th><th>Resource</th><th>Status</th><th>Created</th><th>Kind</th></tr></thead><tbody>
    {{#backups}}<tr><td><a href="/console/backups/{{id}}" class="backup-link">{{name}}</a></td><td>{{resourceName}}</td><td class="status-{{status}}">{{status}}</td><td>{{created}}</td><td>{{kind}}</td></tr>{{/backups}}
    {{^backups}}<tr><td colspan="5">No backups match.</td></tr>{{/backups}}
    </tbody></table>
    {{#pager}}{{> pager}}{{/pager}}
    <h2>Delete</h2>
    <form method="post" action="/console/vaults/{{id}}/delete" class="inline" id="delete-vault"><input type="hidden" name="csrf" value="{{csrf}}">
    <label>Type the vault's name to delete it and every backup in it <input name="confirm" maxlength="64" autocomplete="off"></label> <button type="submit" class="danger">Delete vault</button></form>
    {{> foot}}
    """

    static let chart = """
    <svg class="chart" viewBox="0 0 {{width}} {{height}}" width="{{width}}" height="{{height}}" role="img" aria-label="{{caption}}">
    <rect x="{{left}}" y="{{top}}" width="{{plotWidth}}" height="{{plotHeight}}" class="plot"></rect>
    {{#ticks}}<line x1="{{left}}" x2="{{right}}" y1="{{y}}" y2="{{y}}" class="grid"></line><text x="{{labelX}}" y="{{y}}" class="axis" text-anchor="end" dominant-baseline="middle">{{label}}</text>{{/ticks}}
    {{#series}}<polyline points="{{points}}" class="line {{css}}"></polyline>{{/series}}
    <text x="{{left}}" y="{{bottomLabelY}}" class="axis">{{from}}</text><text x="{{right}}" y="{{bottomLabelY}}" class="axis" text-anchor="end">{{to}}</text>
    {{#legend}}<text x="{{x}}" y="{{y}}" class="legend {{css}}">{{label}}</text>{{/legend}}
    </svg>
    """

    static let backup = """
    {{> head}}
    <dl class="facts"><dt>Id</dt><dd id="backup-id">{{id}}</dd><dt>Vault</dt><dd><a href="/console/vaults/{{vaultID}}">{{vaultName}}</a></dd><dt>Resource</dt><dd>{{resourceName}} ({{typeLabel}})</dd>
    <dt>Status</dt><dd id="backup-status">{{status}}</dd><dt>Created</dt><dd>{{created}}</dd><dt>Kind</dt><dd>{{kind}}</dd>{{#failReason}}<dt>Failure</dt><dd class="bad">{{failReason}}</dd>{{/failReason}}</dl>
    {{#restorable}}<h2>Restore</h2>
    <form method="post" action="/console/backups/{{id}}/restore" class="card" id="restore-form"><input type="hidden" name="csrf" value="{{csrf}}">
    {{#originalTarget}}<label class="check"><input type="radio" name="target" value="original" id="target-original" checked> Over the original: {{originalTarget}}</label>{{/originalTarget}}
    {{#hasTargets}}<label class="check"><input type="radio" name="target" value="other" id="target-other"{{^originalTarget}} checked{{/originalTarget}}> Onto</label>
    <select name="target_resource" id="target-resource">{{#targets}}<option value="{{id}}">{{name}} ({{path}})</option>{{/targets}}</select>{{/hasTargets}}
    {{#directories}}<label>Into a new directory inside it (empty: over it) <input name="subdirectory" id="subdirectory" maxlength="255" placeholder="restored-files"></label>{{/directories}}
    <button type="submit" id="restore-submit">Restore</button>
    </form>{{/restorable}}
    <form method="post" action="/console/backups/{{id}}/delete" class="inline" id="delete-backup"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete backup</button></form>
    {{> foot}}
    """

    static let policies = """
    {{> head}}
    <table id="policies"><thead><tr><th>Name</th><th>Enabled</th><th>Schedule</th><th>Retention</th><th>Vaults</th></tr></thead><tbody>
    {{#policies}}<tr><td><a href="/console/policies/{{id}}" class="policy-name">{{name}}</a></td><td>{{enabled}}</td><td>{{#patterns}}<code>{{.}}</code> {{/patterns}}</td><td>{{retention}}</td><td class="num">{{vaultCount}}</td></tr>{{/policies}}
    {{^policies}}<tr><td colspan="5">No policies yet.</td></tr>{{/policies}}
    </tbody></table>
    <h2>New backup policy</h2>
    <form method="post" action="/console/policies" class="card" id="policy-builder"><input type="hidden" name="csrf" value="{{csrf}}">
    <label>Name <input name="name" id="policy-name" required maxlength="64"></label>
    <fieldset><legend>Schedule (UTC)</legend>
    <label class="check"><input type="radio" name="frequency" value="weekly" checked> Weekly on</label>
    <span class="days">{{#weekdays}}<label class="check"><input type="checkbox" name="day" value="{{code}}" id="day-{{code}}"> {{label}}</label>{{/weekdays}}</span>
    <label class="check"><input type="radio" name="frequency" value="daily" id="frequency-daily"> Every <input name="interval" id="interval" type="number" min="1" max="30" value="1"> days</label>
    <label>At <input name="time" id="policy-time" type="time" value="02:00" required></label>
    <p>Pattern: <code id="pattern-preview"></code></p>
    </fieldset>
    <fieldset><legend>Retention</legend>
    <label class="check"><input type="radio" name="retention" value="count" checked> Keep the newest <input name="max_backups" id="max-backups" type="number" min="1" max="99999" value="7"> backups</label>
    <label class="check"><input type="radio" name="retention" value="days"> Keep backups for <input name="retention_days" type="number" min="2" max="99999" value="30"> days</label>
    <label class="check"><input type="radio" name="retention" value="rotation"> Keep daily <input name="day_backups" type="number" min="0" max="100" value="7">, weekly <input name="week_backups" type="number" min="0" max="100" value="4">, monthly <input name="month_backups" type="number" min="0" max="100" value="12">, yearly <input name="year_backups" type="number" min="0" max="100" value="1"></label>
    <label>Time zone for the rotation <select name="timezone">{{#timezones}}<option value="{{.}}">{{.}}</option>{{/timezones}}</select></label>
    </fieldset>
    <button type="submit" id="create-policy">Create policy</button>
    </form>
    {{> foot}}
    """

    static let policy = """
    {{> head}}
    <dl class="facts"><dt>Id</dt><dd id="policy-id">{{id}}</dd><dt>Enabled</dt><dd>{{enabled}}</dd><dt>Schedule</dt><dd id="policy-patterns">{{#patterns}}<code>{{.}}</code> {{/patterns}}</dd>
    <dt>Retention</dt><dd>{{retention}}</dd><dt>Vaults</dt><dd>{{#vaults}}<a href="/console/vaults/{{id}}">{{name}}</a> {{/vaults}}{{^vaults}}none{{/vaults}}</dd></dl>
    <h2>What it would do over the next {{days}} days</h2>
    <p class="small">{{madeCount}} backups made, {{keptCount}} still kept at the end. Each line is a backup, from when it is made to when retention deletes it.</p>
    {{#timeline}}<svg class="timeline" id="simulation" viewBox="0 0 {{width}} {{height}}" width="{{width}}" height="{{height}}" role="img" aria-label="retention simulation">
    {{#days}}<line x1="{{x}}" x2="{{x}}" y1="0" y2="{{bottom}}" class="grid"></line><text x="{{x}}" y="{{labelY}}" class="axis" text-anchor="middle">{{label}}</text>{{/days}}
    {{#bars}}<line x1="{{x1}}" x2="{{x2}}" y1="{{y}}" y2="{{y}}" class="{{css}}"></line><circle cx="{{x1}}" cy="{{y}}" r="2.5" class="{{css}}"></circle>{{/bars}}
    </svg>{{/timeline}}
    <form method="post" action="/console/policies/{{id}}/delete" class="inline" id="delete-policy"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="danger">Delete policy</button></form>
    {{> foot}}
    """

    static let operations = """
    {{> head}}
    <table id="operations"><thead><tr><th>Operation</th><th>Vault</th><th>Resource</th><th>Status</th><th>Progress</th><th>Started</th><th>ETA</th></tr></thead><tbody>
    {{#operations}}<tr data-operation="{{id}}"{{#live}} data-live="1"{{/live}}><td>{{operationType}}</td><td>{{vaultName}}</td><td>{{resourceName}}</td>
    <td class="op-status status-{{status}}">{{status}}</td><td><progress max="100" value="{{progress}}" class="op-progress"></progress> <span class="op-percent">{{progress}} %</span></td>
    <td>{{started}}</td><td class="op-eta">{{eta}}</td></tr>{{#errorMessage}}<tr><td></td><td colspan="6" class="bad">{{errorMessage}}</td></tr>{{/errorMessage}}{{/operations}}
    {{^operations}}<tr><td colspan="7">No operations yet.</td></tr>{{/operations}}
    </tbody></table>
    {{#pager}}{{> pager}}{{/pager}}
    {{> foot}}
    """

    static let rds = """
    {{> head}}
    <table id="instances"><thead><tr><th>Instance</th><th>Engine connection</th><th>Newest backup</th><th></th></tr></thead><tbody>
    {{#instances}}<tr><td>{{name}}</td><td class="small">{{description}}</td><td>{{newest}}</td>
    <td><form method="post" action="/console/rds/{{id}}/backup"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit">Back up now</button></form></td></tr>{{/instances}}
    {{^instances}}<tr><td colspan="4">No database instances registered for this project.</td></tr>{{/instances}}
    </tbody></table>
    <h2>Database backups</h2>
    <table id="rds-backups"><thead><tr><th>Name</th><th>Instance</th><th>Status</th><th>Created</th><th>Kind</th></tr></thead><tbody>
    {{#backups}}<tr><td>{{name}}</td><td>{{resourceName}}</td><td class="status-{{status}}">{{status}}</td><td>{{created}}</td><td>{{kind}}</td></tr>{{/backups}}
    {{^backups}}<tr><td colspan="5">No database backups.</td></tr>{{/backups}}
    </tbody></table>
    {{> foot}}
    """

    static let admin = """
    {{> head}}
    <h2>Resource inventory</h2>
    <table id="inventory"><thead><tr><th>Project</th><th>Name</th><th>Type</th><th>Path</th><th>Host</th></tr></thead><tbody>
    {{#resources}}<tr><td>{{project}}</td><td>{{name}}</td><td>{{typeLabel}}</td><td>{{path}}</td><td>{{host}}</td></tr>{{/resources}}
    {{^resources}}<tr><td colspan="5">Nothing registered.</td></tr>{{/resources}}
    </tbody></table>
    <h2>Agents</h2>
    <table id="agents"><thead><tr><th>Project</th><th>Host</th><th>Address</th><th>Status</th><th>Version</th><th>Last seen</th><th>Paths</th></tr></thead><tbody>
    {{#agents}}<tr><td>{{project}}</td><td>{{host}}</td><td>{{address}}</td><td class="agent-{{status}}">{{status}}</td><td>{{version}}</td><td>{{lastSeen}}</td><td class="num">{{paths}}</td></tr>{{/agents}}
    {{^agents}}<tr><td colspan="7">No agents registered.</td></tr>{{/agents}}
    </tbody></table>
    {{> foot}}
    """
}
