"""The web dashboard (server/dashboard/www/, built into emqxd and served at / on
dashboard.listeners.http) in a real headless browser: Debian's chromium driven by
chromedriver through python3-selenium, against a real emqxd and a real MQTT client.

A screenshot of every page is kept in $EMQXD_TEST_ARTIFACTS/dashboard/ (by default
build/test-artifacts/dashboard/), with each test's browser console and last screen. Without
chromium or chromedriver the tests skip, unless EMQXD_REQUIRE_BROWSER is set (CI): then
they fail.
"""
import glob
import os
import uuid
import zipfile

import pytest

import mqttc

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ARTIFACTS = os.path.join(
    os.environ.get("EMQXD_TEST_ARTIFACTS") or os.path.join(REPO, "build", "test-artifacts"),
    "dashboard")
WAIT = 10  # seconds: any one step in the page
# Every page of the navigation, in its order (app.js PAGES).
PAGES = ["overview", "nodes", "clients", "subscriptions", "topics", "retained", "alarms",
         "traces", "authentication", "authorization", "banned", "users", "api_keys", "config"]


def browser_missing():
    """What of the browser stack is not installed (install-deps.sh --test installs it)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER)
               if not (os.path.isfile(p) and os.access(p, os.X_OK))]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python3-selenium")
    return missing


@pytest.fixture
def driver(request, tmp_path):
    missing = browser_missing()
    if missing:
        why = "no browser for the dashboard test: %s missing (apt-get install chromium " \
              "chromium-driver python3-selenium)" % ", ".join(missing)
        if os.environ.get("EMQXD_REQUIRE_BROWSER"):
            pytest.fail(why + "; EMQXD_REQUIRE_BROWSER is set")
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.makedirs(ARTIFACTS, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--user-data-dir=" + str(tmp_path / "chromium-profile")]:
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d_dir = tmp_path / "downloads"
    d_dir.mkdir()
    opts.add_experimental_option("prefs", {"download.default_directory": str(d_dir),
                                           "download.prompt_for_download": False})
    service = Service(CHROMEDRIVER,
                      service_args=["--log-path=" + str(tmp_path / "chromedriver.log")])
    d = webdriver.Chrome(service=service, options=opts)
    d.console = []  # every browser log entry of the test, read as it goes
    d.downloads = str(d_dir)
    try:
        d.set_page_load_timeout(30)
        d.set_script_timeout(30)
        yield d
    finally:
        name = request.node.name
        try:
            d.save_screenshot(os.path.join(ARTIFACTS, name + "-last.png"))
            console(d)
            with open(os.path.join(ARTIFACTS, name + "-console.log"), "w") as f:
                for e in d.console:
                    f.write("%s %s\n" % (e["level"], e["message"]))
        finally:
            d.quit()


# ------------------------------------------------------------------ helpers

def wait(d, cond, timeout=WAIT, what=""):
    from selenium.common.exceptions import (NoSuchElementException,
                                            StaleElementReferenceException)
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(d, timeout, ignored_exceptions=(
        NoSuchElementException, StaleElementReferenceException)).until(lambda _: cond(), what)


def el(d, css):
    from selenium.webdriver.common.by import By
    return d.find_element(By.CSS_SELECTOR, css)


def els(d, css):
    from selenium.webdriver.common.by import By
    return d.find_elements(By.CSS_SELECTOR, css)


def console(d):
    """The browser's log entries so far (they are read once: kept in d.console)."""
    d.console.extend(d.get_log("browser"))
    return d.console


def script_errors(d):
    """Console errors of the page's own code. A request answered 4xx (a wrong password, a
    probe of an authenticator that is not configured) is logged by Chromium as "Failed to
    load resource": those are answers the page shows, not faults in it."""
    return [e["message"] for e in console(d)
            if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


def banner(d):
    """The error banner's text, or "" while it is hidden."""
    return el(d, "#error-text").text if el(d, "#error-banner").is_displayed() else ""


def shot(d, name):
    d.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))


def page_loaded(d, page):
    """Waits until `page` has shown its first data (or failed); returns its state."""
    def done():
        p = el(d, "#page")
        return p.get_attribute("data-page") == page and \
            p.get_attribute("data-state") in ("ready", "error")
    wait(d, done, what="page %s to load" % page)
    return el(d, "#page").get_attribute("data-state")


def open_page(d, page):
    el(d, "[data-testid=nav-%s]" % page).click()
    state = page_loaded(d, page)
    assert state == "ready" and banner(d) == "", (page, state, banner(d))


def log_in(d, base, username="admin", password="public"):
    d.get(base + "/")
    wait(d, lambda: el(d, "#login-username").is_displayed(), what="the login form")
    el(d, "#login-username").clear()
    el(d, "#login-username").send_keys(username)
    el(d, "#login-password").clear()
    el(d, "#login-password").send_keys(password)
    el(d, "#login-submit").click()


def code(connack):
    rc = connack[1]
    return rc.value if hasattr(rc, "value") else int(rc)


def base_url(broker):
    return "http://127.0.0.1:%d" % broker.api_port


# ------------------------------------------------------------------ tests

def test_log_in_see_a_client_kick_it_and_visit_every_page(broker, driver):
    d = driver
    base = base_url(broker)
    log_in(d, base)
    assert page_loaded(d, "overview") == "ready", banner(d)
    assert banner(d) == ""
    assert el(d, "[data-testid=current-user]").text == "admin"
    # The overview: the counters and a chart of each series.
    assert el(d, "[data-testid=stat-connections]").text == "0"
    for chart in ("connections", "received", "sent", "dropped"):
        assert el(d, "[data-testid=chart-%s] svg" % chart).is_displayed()

    # A trace of the client, started before it comes.
    client_id = "dash-" + uuid.uuid4().hex[:10]
    open_page(d, "traces")
    el(d, "#trace-form-name").send_keys("dash_trace")
    el(d, "#trace-form-filter").send_keys(client_id)
    el(d, "#trace-form-submit").click()
    trace_row = "[data-testid=traces-table] tr[data-trace=dash_trace]"
    wait(d, lambda: "running" in el(d, trace_row).text, what="the trace to run")
    assert banner(d) == ""
    el(d, "[data-testid=nav-overview]").click()
    assert page_loaded(d, "overview") == "ready", banner(d)

    # A real client with a name of its own appears in the counters...
    c = mqttc.Client(broker, client_id)
    c.subscribe("dash/+/t", qos=1)
    c.publish("dash/%s/state" % client_id, b"hello from the test", qos=1, retain=True)
    wait(d, lambda: el(d, "[data-testid=stat-connections]").text == "1", timeout=20,
         what="the overview to count the client")
    # ...and on the chart: two samples draw a line.
    wait(d, lambda: len(el(d, "[data-testid=chart-connections] polyline")
                        .get_attribute("points").split()) >= 2, timeout=20,
         what="a line on the connections chart")
    shot(d, "overview")

    # ...and in the list of clients, searched for by its id.
    open_page(d, "clients")
    el(d, "#clients-search-clientid").send_keys(client_id[:8])
    el(d, "#clients-search-submit").click()
    row = "[data-testid=clients-table] tr[data-clientid='%s']" % client_id
    # The list refreshes itself: an element found may be replaced before it is read, so
    # each check finds it again (wait() retries a stale one).
    wait(d, lambda: "connected" in el(d, row).text, what="the client in the list, connected")
    shot(d, "clients")

    # Its page: the connection's fields and its subscription.
    el(d, row + " a[data-testid=client-link]").click()
    wait(d, lambda: el(d, "[data-testid=client-details] dd[data-key=clientid]").text == client_id,
         what="the client's page")
    assert page_loaded(d, "clients") == "ready" and banner(d) == ""
    assert "dash/+/t" in el(d, "[data-testid=client-subscriptions]").text
    shot(d, "client")

    # Kicked: confirmed in the page, gone from the list, and the client sees it.
    el(d, "#kick-client").click()
    wait(d, lambda: el(d, "#confirm-ok").is_displayed(), what="the confirmation")
    shot(d, "client-kick-confirm")
    el(d, "#confirm-ok").click()
    wait(d, lambda: d.current_url.endswith("#/clients"), what="the list again")
    assert page_loaded(d, "clients") == "ready", banner(d)
    wait(d, lambda: not els(d, row) and els(d, "[data-testid=clients-table] [data-testid=empty]"),
         what="the client to leave the list")
    assert "kicked" in el(d, "[data-testid=notice]").text
    assert banner(d) == ""
    assert c.disconnected.wait(5), "the client was not disconnected"
    shot(d, "clients-after-kick")

    # Every page renders from the API without an error.
    for page in PAGES:
        open_page(d, page)
        shot(d, page)
    # The config in force (the last page), as a tree whose branches open.
    el(d, "#config-expand").click()
    assert els(d, "[data-testid=config-tree] details[data-key=node]")
    shot(d, "config-expanded")

    # The client's retained message, its payload shown as text.
    open_page(d, "retained")
    retained_row = "[data-testid=retained-table] tr[data-topic='dash/%s/state']" % client_id
    el(d, retained_row + " button").click()
    wait(d, lambda: el(d, "[data-testid=payload]").text == "hello from the test",
         what="the retained payload")
    shot(d, "retained-message")

    # The trace saw the client; its files come as a zip through the page; it stops.
    def traced():
        open_page(d, "traces")
        return int(el(d, trace_row).get_attribute("data-log-size")) > 0
    wait(d, traced, what="the trace to have lines")
    el(d, trace_row + " [data-testid=trace-download]").click()
    zip_path = os.path.join(d.downloads, "dash_trace.zip")
    wait(d, lambda: os.path.isfile(zip_path) and not glob.glob(zip_path + ".crdownload"),
         what="the trace's zip")
    with zipfile.ZipFile(zip_path) as z:
        logs = b"".join(z.read(n) for n in z.namelist())
    assert client_id.encode() in logs
    assert banner(d) == ""
    el(d, trace_row + " [data-testid=trace-stop]").click()
    wait(d, lambda: "stopped" in el(d, trace_row).text, what="the trace to stop")
    shot(d, "traces-stopped")

    # Nothing came from anywhere but the node, and the page's own code logged no error.
    origin = base + "/"
    resources = d.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(origin) for r in resources), resources
    assert script_errors(d) == []


def test_a_wrong_password_is_shown_and_logout_returns_to_the_login_page(broker, driver):
    d = driver
    base = base_url(broker)
    d.get(base + "/")
    wait(d, lambda: el(d, "#login-username").is_displayed(), what="the login form")
    shot(d, "login")
    log_in(d, base, password="not-the-password")
    wait(d, lambda: el(d, "[data-testid=login-error]").is_displayed(), what="the login error")
    assert el(d, "[data-testid=login-error]").text.strip()
    assert not el(d, "#app-view").is_displayed()
    shot(d, "login-error")

    log_in(d, base)
    assert page_loaded(d, "overview") == "ready", banner(d)
    el(d, "#logout").click()
    wait(d, lambda: el(d, "#login-form").is_displayed(), what="the login page after logout")
    assert not el(d, "#app-view").is_displayed()
    assert d.execute_script("return sessionStorage.getItem('emqxd.token')") is None
    assert not el(d, "[data-testid=login-error]").is_displayed()  # the server took the logout
    assert script_errors(d) == []


def test_a_user_added_in_the_dashboard_connects(make_broker, driver):
    b = make_broker(config_text=(
        "authentication = [{mechanism = password_based, backend = built_in_database}]\n"
        "authorization { no_match = allow, sources = [{type = built_in_database}] }\n"))
    d = driver
    log_in(d, base_url(b))
    assert page_loaded(d, "overview") == "ready", banner(d)

    # Nobody's CONNECT yet.
    device = "dev-" + uuid.uuid4().hex[:8]
    c = mqttc.Client(b, "c-" + device, username=device, password="pw-1", connect=False)
    assert code(c.connect()) == 0x87  # not authorized: every authenticator ignores it

    open_page(d, "authentication")
    assert "password_based:built_in_database" in el(d, "#page").text
    el(d, "#authn-add-user_id").send_keys(device)
    el(d, "#authn-add-password").send_keys("pw-1")
    el(d, "#authn-add-submit").click()
    wait(d, lambda: els(d, "[data-testid=authn-users-table] tr[data-user='%s']" % device),
         what="the new user in the list")
    assert banner(d) == ""
    shot(d, "authentication-users")
    c = mqttc.Client(b, "c2-" + device, username=device, password="pw-1")
    assert code(c.connack) == 0

    # A rule of the built-in authorization source, added and listed.
    open_page(d, "authorization")
    el(d, "#authz-add-who").send_keys(device)
    el(d, "#authz-add-topic").send_keys("devices/%s/#" % device)
    el(d, "#authz-add-submit").click()
    wait(d, lambda: "devices/%s/#" % device in el(d, "[data-testid=authz-rules-table]").text,
         what="the new rule in the list")
    assert banner(d) == ""
    shot(d, "authorization-rules")
    assert script_errors(d) == []
