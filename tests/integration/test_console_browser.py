"""The operator console in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, which `make test` installs when missing), driven through WebDriver: an
operator sees a call from an MCP client without elicitation waiting, approves it (after a
confirmation), and it runs against moto; a second is denied and never reaches AWS; an MFA
code typed in the page reaches STS once; a form posted from another origin is refused; after
a restart the feed shows the earlier run's records; a sidecar call shows its operation and
judged parameters with the agent as "who" and the time left; a denial's reason reaches the
agent and the audit log; the filters match parts of names. Screenshots are kept in
`target/screenshots/`."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import threading
from pathlib import Path

import anyio
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ACCOUNT, awsgate_env, free_port, http_server, loopback_http, read_audit, write_policy
from faultproxy import FaultProxy
from test_console import AGENT, OPERATOR, Operator, agent, policy
from test_sidecar import keys_file
from test_roles import MFA, Recorder, admin_env, enforcing_moto, role_policy  # noqa: F401 - a fixture
from test_tools import seed

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "make test installs chromium and chromium-driver (scripts/browser-env.sh)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    try:
        yield chrome
    finally:
        chrome.quit()


def open_console(browser, base: str) -> None:
    browser.get(f"{base}/console")
    token = browser.find_element(By.ID, "token")
    token.clear()
    token.send_keys(OPERATOR)
    browser.find_element(By.ID, "connect").click()
    WebDriverWait(browser, 10).until(seen.text_to_be_present_in_element((By.ID, "status"), "connected"))


def button(browser, kind: str, timeout: float = 20):
    return WebDriverWait(browser, timeout).until(seen.element_to_be_clickable((By.CSS_SELECTOR, f"button[data-{kind}]")))


def choose(browser, choice: str, timeout: float = 20):
    """Clicks Approve or Deny in the first waiting row; returns the confirmation's button."""
    row = WebDriverWait(browser, timeout).until(
        seen.presence_of_element_located((By.CSS_SELECTOR, "#approvals tbody tr")))
    WebDriverWait(browser, timeout).until(
        lambda b: row.find_element(By.CSS_SELECTOR, f"button.{choice}").is_displayed())
    row.find_element(By.CSS_SELECTOR, f"button.{choice}").click()
    kind = "confirm-approve" if choice == "approve" else "confirm-deny"
    return button(browser, kind)


SCREENSHOTS = Path(__file__).resolve().parents[2] / "target" / "screenshots"


def keep_screenshot(browser, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    assert browser.save_screenshot(str(path))
    print(f"console screenshot: {path}")
    return path


async def in_background(group, results: list, client, name: str, arguments: dict) -> None:
    async def run():
        results.append(await client.call_tool(name, arguments))

    group.start_soon(run)


async def test_an_operator_approves_one_call_and_denies_another_in_the_browser(binary, aws, tmp_path, browser):
    seed(aws)
    port = int(aws.endpoint.rsplit(":", 1)[1])
    proxy = FaultProxy(port)
    path = write_policy(tmp_path, policy(60))
    env = awsgate_env(proxy.endpoint, AWSGATE_CONSOLE_TOKEN=OPERATOR, AWSGATE_AUTH_TOKEN=AGENT)
    try:
        with http_server(binary, path, env, tmp_path, "--console", "--audit-log", str(tmp_path / "audit.jsonl")) as s:
            open_console(browser, s.base)
            # The policy in force, with its hash.
            WebDriverWait(browser, 10).until(seen.text_to_be_present_in_element((By.ID, "policy-name"), "console"))
            assert len(browser.find_element(By.ID, "policy-hash").text) == 64
            async with agent(s) as client:
                results: list = []
                async with anyio.create_task_group() as group:
                    await in_background(group, results, client, "s3_put_object",
                                        {"bucket": "allowed-bucket", "key": "browser.csv", "body": "approved in a browser"})
                    confirm = await anyio.to_thread.run_sync(choose, browser, "approve")
                    row = browser.find_element(By.CSS_SELECTOR, "#approvals tbody tr")
                    assert "s3:PutObject" in row.text and "browser.csv" in row.text and "Uploads" in row.text
                    assert "Approve s3:PutObject on arn:aws:s3:::allowed-bucket/browser.csv?" in row.text
                    # The live audit feed shows the decision record of the waiting call.
                    WebDriverWait(browser, 10).until(
                        seen.text_to_be_present_in_element((By.ID, "audit"), "arn:aws:s3:::allowed-bucket/browser.csv"))
                    # Nothing is decided before the confirmation.
                    assert len(Operator(s.base).approvals()) == 1
                    keep_screenshot(browser, "console-confirm-approval")
                    confirm.click()
                [approved] = results
                assert not approved.is_error, approved.structured_content
                assert aws.s3.get_object(Bucket="allowed-bucket", Key="browser.csv")["Body"].read() == b"approved in a browser"
                puts_after_approval = proxy.forwarded["PUT"]
                assert puts_after_approval == 1
                WebDriverWait(browser, 10).until(seen.text_to_be_present_in_element((By.ID, "results"), "Approved s3:PutObject"))

                results = []
                async with anyio.create_task_group() as group:
                    await in_background(group, results, client, "s3_put_object",
                                        {"bucket": "allowed-bucket", "key": "denied.csv", "body": "never"})
                    deny = await anyio.to_thread.run_sync(choose, browser, "deny")
                    deny.click()
                [denied] = results
                assert denied.is_error and denied.structured_content["error"] == "ApprovalDenied"
            assert not aws.object_exists("allowed-bucket", "denied.csv")
            assert proxy.forwarded["PUT"] == puts_after_approval
            # Filters narrow the feed to denials... of which there are none by the gate.
            browser.find_element(By.ID, "filter-decision").send_keys("deny")
            visible = [r for r in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr") if r.is_displayed()]
            assert visible == []
            severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
            assert severe == [], severe
    finally:
        proxy.close()
    decided = [r["decision"] for r in read_audit(tmp_path / "audit.jsonl") if r["event"] == "approval_decided"]
    assert decided == ["approved", "denied"]


async def test_an_mfa_code_typed_in_the_console_reaches_sts_once(binary, enforcing_moto, tmp_path, browser):
    endpoint = enforcing_moto["endpoint"]
    path = write_policy(tmp_path, role_policy(MFA))
    env = awsgate_env(endpoint, AWSGATE_CONSOLE_TOKEN=OPERATOR, AWSGATE_AUTH_TOKEN=AGENT, **admin_env(enforcing_moto))
    with http_server(binary, path, env, tmp_path, "--console", "--audit-log", str(tmp_path / "audit.jsonl")) as s:
        open_console(browser, s.base)
        async with agent(s) as client:
            results: list = []
            async with anyio.create_task_group() as group:
                await in_background(group, results, client, "s3_get_object", {"bucket": "role-bucket", "key": "read.txt"})
                approve = await anyio.to_thread.run_sync(choose, browser, "approve")
                browser.find_element(By.CSS_SELECTOR, "input[data-mfa]").send_keys("135790")
                approve.click()
            [result] = results
            assert not result.is_error and result.structured_content["body"] == "readable", result.structured_content
            # The role session lasts: the next call asks nothing.
            again = await client.call_tool("s3_get_object", {"bucket": "role-bucket", "key": "read.txt"})
            assert not again.is_error
    assert len(Recorder.sts_requests) == 1
    request = Recorder.sts_requests[0]
    assert request["SerialNumber"] == f"arn:aws:iam::{ACCOUNT}:mfa/alice" and request["TokenCode"] == "135790"
    assert "135790" not in (tmp_path / "audit.jsonl").read_text()


class Attacker(http.server.BaseHTTPRequestHandler):
    """Another origin on loopback, whose page posts a form to the console's API."""

    target = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        page = f"""<!doctype html><title>win a prize</title>
<form method="POST" action="{Attacker.target}" enctype="text/plain">
<input type="hidden" name='{{"approve": true, "x": "' value='"}}'>
</form>
<script>document.forms[0].submit()</script>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)


@contextlib.contextmanager
def attacker_site(target: str):
    Attacker.target = target
    with loopback_http(Attacker) as url:
        yield f"{url}/"


async def test_a_form_posted_from_another_origin_is_refused(binary, aws, tmp_path, browser):
    seed(aws)
    path = write_policy(tmp_path, policy(1))
    env = awsgate_env(aws.endpoint, AWSGATE_CONSOLE_TOKEN=OPERATOR, AWSGATE_AUTH_TOKEN=AGENT)
    with http_server(binary, path, env, tmp_path, "--console") as s:
        async with agent(s) as client:
            pending = await client.call_tool("s3_put_object", {"bucket": "allowed-bucket", "key": "csrf.csv", "body": "x"})
        approval_id = pending.structured_content["approval_id"]
        operator = Operator(s.base)
        # The operator is signed in to the console in this browser.
        open_console(browser, s.base)
        with attacker_site(f"{s.base}/console/api/approvals/{approval_id}") as evil:
            browser.get(evil)
            WebDriverWait(browser, 10).until(lambda b: "/console/api/" in b.current_url)
            assert "cross-origin requests to the console are refused" in browser.page_source
        assert [a["id"] for a in operator.approvals()] == [approval_id]
        async with agent(s) as client:
            again = await client.call_tool("s3_put_object", {"bucket": "allowed-bucket", "key": "csrf.csv", "body": "x"})
        assert again.structured_content["error"] == "ApprovalPending"
    assert not aws.object_exists("allowed-bucket", "csrf.csv")


async def test_an_operator_sees_history_time_left_operations_and_gives_reasons(binary, aws, tmp_path, browser):
    seed(aws)
    audit = tmp_path / "audit.jsonl"
    path = write_policy(tmp_path, policy(60))
    env = awsgate_env(aws.endpoint, AWSGATE_CONSOLE_TOKEN=OPERATOR, AWSGATE_AUTH_TOKEN=AGENT)
    # A first run leaves a record in the audit log: the gate denies this call.
    with http_server(binary, path, env, tmp_path, "--console", "--audit-log", str(audit)):
        pass
    with http_server(binary, path, env, tmp_path, "--audit-log", str(audit)) as s:
        async with agent(s) as client:
            denied = await client.call_tool("s3_get_object", {"bucket": "other-bucket", "key": "before-restart.csv"})
            assert denied.structured_content["error"] == "AccessDenied"

    keys, key_id, secret = keys_file(binary, tmp_path, "reports-agent")
    port = free_port()
    args = ("--console", "--audit-log", str(audit), "--aws-listen", f"127.0.0.1:{port}", "--agent-keys", str(keys))
    with http_server(binary, path, env, tmp_path, *args) as s:
        open_console(browser, s.base)
        browser.get_log("browser")  # what the pages of earlier tests logged
        # The history comes back from the audit file after the restart.
        WebDriverWait(browser, 10).until(seen.text_to_be_present_in_element((By.ID, "audit"), "before-restart.csv"))

        import boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                          config=Config(retries={"max_attempts": 1}, read_timeout=60))
        outcome: dict = {}

        def put():
            try:
                outcome["put"] = s3.put_object(Bucket="allowed-bucket", Key="sidecar-browser.csv", Body=b"x")
            except Exception as error:  # noqa: BLE001 - the test reads it
                outcome["put"] = error

        worker = threading.Thread(target=put)
        worker.start()
        row = WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.CSS_SELECTOR, "#approvals tbody tr")))
        WebDriverWait(browser, 5).until(lambda b: "closes in" in row.text)
        cells = row.find_elements(By.TAG_NAME, "td")
        # Who: the agent; the call: the operation and what the gate judged, not a request line.
        assert cells[1].text.startswith("agent reports-agent"), cells[1].text
        assert "PutObject" in cells[2].text and "s3:PutObject" in cells[2].text
        assert "sidecar-browser.csv" in cells[5].text and "PUT /" not in row.text
        assert "closes in 1:5" in cells[6].text or "closes in 2:00" in cells[6].text, cells[6].text
        assert "the agent is waiting" in cells[6].text
        keep_screenshot(browser, "console-pending-sidecar-call")

        row.find_element(By.CSS_SELECTOR, "button.deny").click()
        reason = browser.find_element(By.CSS_SELECTOR, "input[data-reason]")
        reason.send_keys("not during the change freeze")
        keep_screenshot(browser, "console-deny-with-reason")
        browser.find_element(By.CSS_SELECTOR, "button[data-confirm-deny]").click()
        worker.join(30)
        error = outcome["put"]
        assert isinstance(error, Exception) and error.response["Error"]["Code"] == "AccessDenied", error
        assert "not during the change freeze" in error.response["Error"]["Message"]
        WebDriverWait(browser, 10).until(
            seen.text_to_be_present_in_element((By.ID, "results"), "Denied s3:PutObject"))
        assert "not during the change freeze" in browser.find_element(By.ID, "results").text
        WebDriverWait(browser, 10).until(
            seen.text_to_be_present_in_element((By.ID, "audit"), "denied: not during the change freeze"))

        # An MCP client's call: "who" is the client, not a session id.
        async with agent(s) as client:
            results: list = []
            async with anyio.create_task_group() as group:
                await in_background(group, results, client, "s3_put_object",
                                    {"bucket": "allowed-bucket", "key": "from-mcp.csv", "body": "y"})
                # The browser is driven from a thread: the event loop runs the MCP call meanwhile.
                row = await anyio.to_thread.run_sync(lambda: WebDriverWait(browser, 20).until(
                    seen.presence_of_element_located((By.CSS_SELECTOR, "#approvals tbody tr"))))
                who = row.find_elements(By.TAG_NAME, "td")[1]
                session = who.get_attribute("title").removeprefix("session ")
                assert session and session not in who.text, (who.text, session)
                assert who.text == "agent default · mcp (http)", who.text
                confirm = await anyio.to_thread.run_sync(choose, browser, "approve")
                confirm.click()
            [approved] = results
            assert not approved.is_error, approved.structured_content
        keep_screenshot(browser, "console-decisions")

        # The tool filter matches any part of a name, in any case.
        tool_filter = browser.find_element(By.ID, "filter-tool")
        tool_filter.send_keys("putobj")
        visible = [r for r in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr") if r.is_displayed()]
        assert visible and all("PutObject" in r.text for r in visible), [r.text for r in visible]
        tool_filter.clear()
        tool_filter.send_keys("no-such-tool")
        assert not [r for r in browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr") if r.is_displayed()]
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == [], severe
    decided = [r for r in read_audit(audit) if r["event"] == "approval_decided"]
    assert [(r["decision"], r.get("reason")) for r in decided] == [
        ("denied", "not during the change freeze"), ("approved", None)]
    assert not aws.object_exists("allowed-bucket", "sidecar-browser.csv")
