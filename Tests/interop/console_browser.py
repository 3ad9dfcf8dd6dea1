"""The web console in a real browser: Debian's chromium and chromedriver, driven
headless by Selenium, against a running `coffer serve`.

usage: console_browser.py ENDPOINT ADMIN_CREDENTIALS_JSON RESOURCE_ROOT SCREENSHOT_DIR RESULT_JSON

Sets up two projects through the API (the operator's part: registering directories),
then does as a user would, in the browser: log in, create a vault for a registered
directory, back it up and watch the progress bar reach 100 %, restore into a new
directory, build a policy with the schedule builder and bind it, log out. Checks
that another project's user sees none of it, that a stored name containing <script>
renders as text, that a form without its anti-forgery token is refused, and that the
browser reports no Content-Security-Policy violation. Saves a screenshot of each
page. Writes what the Swift test verifies on disk and in the API to RESULT_JSON.
"""
import json
import os
import sys
import time

import requests
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from common import check, finish, wait_healthy

endpoint, credentials_path, root, shots, result_path = sys.argv[1:6]
os.makedirs(shots, exist_ok=True)
wait_healthy(endpoint)
admin = json.load(open(credentials_path))


def token(user, password, project):
    r = requests.post(endpoint + "/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}, timeout=30)
    r.raise_for_status()
    return r.headers["X-Subject-Token"]


admin_token = token(admin["user_name"], admin["password"], "admin")
admin_headers = {"X-Auth-Token": admin_token}


def project(name):
    r = requests.post(endpoint + "/v3/projects", json={"project": {"name": name}}, headers=admin_headers, timeout=30)
    r.raise_for_status()
    return r.json()["credentials"]


def register(project_id, name, path):
    os.makedirs(path, exist_ok=True)
    r = requests.post(endpoint + "/v3/%s/coffer/resources" % admin["project_id"], headers=admin_headers, timeout=30,
                      json={"resource": {"type": "OS::Sfs::Turbo", "name": name, "path": path, "project_id": project_id}})
    r.raise_for_status()
    return r.json()["resource"]["id"]


# The operator's part: two projects, their directories. The source holds enough data for the bar to move.
alice = project("console-a")
bob = project("console-b")
source = os.path.join(root, "photos")
os.makedirs(os.path.join(source, "2026", "summer"), exist_ok=True)
with open(os.path.join(source, "2026", "summer", "beach.raw"), "wb") as f:
    f.write(os.urandom(24 << 20))
with open(os.path.join(source, "notes.txt"), "w") as f:
    f.write("the console restored this\n")
hostile_name = "<script>window.__pwned=1</script>photos"
register(alice["project_id"], hostile_name, source)
register(alice["project_id"], "restore-area", os.path.join(root, "restore-area"))
register(bob["project_id"], "bob-data", os.path.join(root, "bob-data"))

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,1000", "--no-first-run",
            "--disable-background-networking", "--disable-sync", "--disable-component-update", "--disable-default-apps"]:
    options.add_argument(arg)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(60)
result = {}
step = [0]


started = time.time()


def shot(name):
    step[0] += 1
    driver.save_screenshot(os.path.join(shots, "%02d-%s.png" % (step[0], name)))
    print("%6.1f s  %02d %s" % (time.time() - started, step[0], name), flush=True)
    # A missing value is left out, never printed as Swift's nil.
    check("nil" not in driver.find_element(By.TAG_NAME, "body").text.split(), "no nil shown on the page " + name)


def go(path):
    driver.get(endpoint + path)


def text():
    return driver.find_element(By.TAG_NAME, "body").text


def until(predicate, what, seconds=120):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: predicate())
    except Exception:
        check(False, "timed out waiting for " + what)
        return None


def login(creds):
    go("/console")
    check(driver.current_url.endswith("/console/login"), "without a session the console sends you to log in: " + driver.current_url)
    driver.find_element(By.ID, "user").send_keys(creds["user_name"])
    driver.find_element(By.ID, "password").send_keys(creds["password"])
    driver.find_element(By.ID, "login").click()
    until(lambda: driver.find_elements(By.ID, "dashboard"), "the dashboard after logging in")
    cookie = driver.get_cookie("coffer_session")
    check(cookie is not None and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict",
          "the session cookie is HttpOnly and SameSite=Strict: %s" % cookie)
    check(driver.execute_script("return document.cookie").find("coffer_session") < 0, "scripts cannot read the session cookie")


def logout():
    driver.find_element(By.ID, "logout").click()
    until(lambda: driver.current_url.endswith("/console/login"), "the login page after logging out")


try:
    # Alice: log in; the stored <script> name is text, not a script.
    login(alice)
    shot("dashboard-empty")
    go("/console/vaults")
    check(hostile_name in text(), "the resource name with <script> is shown as text")
    check(driver.execute_script("return window.__pwned === undefined"), "the stored <script> did not run")
    shot("vaults")

    # A vault for the registered directory, made with the form.
    driver.find_element(By.ID, "vault-name").send_keys("family-photos")
    Select(driver.find_element(By.ID, "object-type")).select_by_value("turbo")
    size = driver.find_element(By.ID, "vault-size")
    size.clear()
    size.send_keys("20")
    for box in driver.find_elements(By.CSS_SELECTOR, "#create-vault input[name=resource]"):
        if box.find_element(By.XPATH, "..").text.startswith(hostile_name):
            box.click()
    driver.find_element(By.ID, "create-vault-submit").click()
    until(lambda: driver.find_elements(By.ID, "vault-id"), "the new vault's page")
    vault_id = driver.find_element(By.ID, "vault-id").text
    result["vault_id"] = vault_id
    check(hostile_name in driver.find_element(By.ID, "vault-resources").text, "the vault holds the directory")
    shot("vault-new")

    # A form without its anti-forgery token is refused, and changes nothing.
    driver.execute_script("document.querySelector('#checkpoint-form input[name=csrf]').remove()")
    driver.find_element(By.ID, "backup-now").click()
    until(lambda: driver.find_elements(By.ID, "failure"), "the refusal of a form without its token")
    check("form token" in text(), "the refusal names the missing form token: " + text()[:300])
    shot("csrf-refused")
    go("/console/operations")
    check(not driver.find_elements(By.CSS_SELECTOR, "tr[data-operation]"), "the refused form queued nothing")

    # Back up now, and watch the operation's progress bar reach 100 %.
    go("/console/vaults/" + vault_id)
    driver.find_element(By.ID, "backup-now").click()
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#operations tr[data-operation]"), "the backup's operation row")
    # The page stays: the bar moves by the page's script polling, not by reloading.
    driver.execute_script("window.__samePage = true")
    seen = set()

    def finished():
        bar = driver.find_element(By.CSS_SELECTOR, "#operations tr[data-operation] .op-progress")
        seen.add(int(float(bar.get_attribute("value"))))
        status = driver.find_element(By.CSS_SELECTOR, "#operations tr[data-operation] .op-status").text
        return status if status in ("success", "failed") else None

    shot("backup-running")
    status = until(finished, "the backup to finish (progress so far %s)" % seen, seconds=300)
    # Read again after the status: the page may have updated both between the two reads above.
    bar = int(float(driver.find_element(By.CSS_SELECTOR, "#operations tr[data-operation] .op-progress").get_attribute("value")))
    seen.add(bar)
    check(status == "success" and bar == 100, "the backup's bar reached 100 %%: %s %s" % (status, bar))
    check("100 %" in driver.find_element(By.CSS_SELECTOR, "#operations tr[data-operation] .op-percent").text, "the percentage reads 100 %")
    check(driver.execute_script("return window.__samePage === true"), "the progress was updated in place (no reload)")
    result["progress_seen"] = sorted(seen)
    shot("backup-done")

    # Restore into a new directory inside restore-area, picked in the form.
    go("/console/vaults/" + vault_id)
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#backups a.backup-link"), "the backup in the vault's list")
    shot("vault-with-backup")
    driver.find_element(By.CSS_SELECTOR, "#backups a.backup-link").click()
    until(lambda: driver.find_elements(By.ID, "restore-form"), "the backup's restore form")
    driver.find_element(By.ID, "target-other").click()
    for option in Select(driver.find_element(By.ID, "target-resource")).options:
        if option.text.startswith("restore-area"):
            Select(driver.find_element(By.ID, "target-resource")).select_by_value(option.get_attribute("value"))
    driver.find_element(By.ID, "subdirectory").send_keys("from-console")
    shot("restore-picker")
    driver.find_element(By.ID, "restore-submit").click()
    until(lambda: driver.find_elements(By.CSS_SELECTOR, "#operations tr[data-operation]"), "the operations page after the restore")

    def restore_finished():
        for row in driver.find_elements(By.CSS_SELECTOR, "#operations tr[data-operation]"):
            if row.find_element(By.TAG_NAME, "td").text == "restore":
                s = row.find_element(By.CSS_SELECTOR, ".op-status").text
                return s if s in ("success", "failed") else None
        return None

    check(until(restore_finished, "the restore to finish", seconds=300) == "success", "the restore succeeded")
    result["restored_to"] = os.path.join(root, "restore-area", "from-console")
    shot("restore-done")

    # A policy from the schedule builder: weekly on Monday and Thursday at 03:15 UTC, keep 5.
    go("/console/policies")
    driver.find_element(By.ID, "policy-name").send_keys("twice-weekly")
    driver.find_element(By.ID, "day-MO").click()
    driver.find_element(By.ID, "day-TH").click()
    driver.execute_script("document.getElementById('policy-time').value = '03:15';"
                          "document.getElementById('policy-time').dispatchEvent(new Event('input', {bubbles: true}));")
    keep = driver.find_element(By.ID, "max-backups")
    keep.clear()
    keep.send_keys("5")
    preview = driver.find_element(By.ID, "pattern-preview").text
    check(preview == "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=03;BYMINUTE=15", "the builder shows the pattern it will store: " + preview)
    shot("policy-builder")
    driver.find_element(By.ID, "create-policy").click()
    until(lambda: driver.find_elements(By.ID, "policy-id"), "the new policy's page")
    result["policy_id"] = driver.find_element(By.ID, "policy-id").text
    check(driver.find_elements(By.CSS_SELECTOR, "#simulation line.kept"), "the simulator's timeline shows kept backups")
    check(driver.find_elements(By.CSS_SELECTOR, "#simulation line.deleted"), "and ones retention deletes (keep 5 of ~17)")
    shot("policy-simulation")

    # Bind it to the vault from the vault's page.
    go("/console/vaults/" + vault_id)
    Select(driver.find_element(By.ID, "policy-select")).select_by_visible_text("twice-weekly")
    driver.find_element(By.ID, "bind-policy").click()
    until(lambda: driver.find_elements(By.ID, "notice"), "the notice after binding")
    check(driver.find_element(By.ID, "vault-policy").text == "twice-weekly", "the vault shows its policy")
    check(driver.find_elements(By.CSS_SELECTOR, "svg.chart polyline"), "the vault's storage charts are drawn")
    shot("vault-bound")

    go("/console")
    check("family-photos" in driver.find_element(By.ID, "dashboard").text, "the dashboard lists the vault")
    check("twice-weekly" in driver.find_element(By.ID, "dashboard").text, "with its policy")
    shot("dashboard")
    go("/console/rds")
    shot("databases")
    go("/console/admin")
    check(driver.find_elements(By.ID, "failure"), "the inventory is refused to a project user")

    logout()
    go("/console")
    check(driver.current_url.endswith("/console/login"), "after logging out the console asks to log in again")

    # Bob sees none of Alice's.
    login(bob)
    for page in ["/console", "/console/vaults", "/console/operations", "/console/policies"]:
        go(page)
        body = text()
        check("family-photos" not in body and "twice-weekly" not in body and "photos" not in body.replace("bob-data", ""),
              "another project's user sees nothing of it on " + page)
    go("/console/vaults/" + vault_id)
    check(driver.find_elements(By.ID, "failure") and "does not exist" in text(), "another project's vault answers as absent")
    shot("other-project")
    logout()

    # The service admin's inventory.
    login(admin)
    go("/console/admin")
    check("restore-area" in driver.find_element(By.ID, "inventory").text, "the admin sees every project's resources")
    shot("admin-inventory")
    logout()

    try:
        driver.switch_to.alert
        check(False, "no alert was ever opened")
    except NoAlertPresentException:
        pass
    violations = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    check(not violations, "no Content-Security-Policy violation: %s" % violations)
finally:
    try:
        shot("last")
    except Exception:
        pass
    driver.quit()

result["alice"] = alice["project_id"]
result["source"] = source
with open(result_path, "w") as f:
    json.dump(result, f)
finish("console ok")
