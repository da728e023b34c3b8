"""The operator console in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, which `make test` installs when missing), driven through WebDriver: an
operator sees a call from an MCP client without elicitation waiting, approves it, and it
runs against moto; a second is denied and never reaches AWS; an MFA code typed in the page
reaches STS once; a form posted from another origin is refused. A screenshot of the console
is saved under the test's temporary directory, outside the repository."""

from __future__ import annotations

import contextlib
import http.server
import shutil

import anyio
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ACCOUNT, awsgate_env, http_server, loopback_http, read_audit, write_policy
from faultproxy import FaultProxy
from test_console import AGENT, OPERATOR, Operator, agent, policy
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
                    approve = await anyio.to_thread.run_sync(button, browser, "approve")
                    row = browser.find_element(By.CSS_SELECTOR, "#approvals tbody tr")
                    assert "s3:PutObject" in row.text and "browser.csv" in row.text and "Uploads" in row.text
                    # The live audit feed shows the decision record of the waiting call.
                    WebDriverWait(browser, 10).until(
                        seen.text_to_be_present_in_element((By.ID, "audit"), "arn:aws:s3:::allowed-bucket/browser.csv"))
                    screenshot = tmp_path / "console.png"
                    assert browser.save_screenshot(str(screenshot))
                    print(f"console screenshot: {screenshot}")
                    approve.click()
                [approved] = results
                assert not approved.is_error, approved.structured_content
                assert aws.s3.get_object(Bucket="allowed-bucket", Key="browser.csv")["Body"].read() == b"approved in a browser"
                puts_after_approval = proxy.forwarded["PUT"]
                assert puts_after_approval == 1

                results = []
                async with anyio.create_task_group() as group:
                    await in_background(group, results, client, "s3_put_object",
                                        {"bucket": "allowed-bucket", "key": "denied.csv", "body": "never"})
                    deny = await anyio.to_thread.run_sync(button, browser, "deny")
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
                approve = await anyio.to_thread.run_sync(button, browser, "approve")
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
